//! The `jobs` table: insert, claim under a lease, finish, fail with backoff, list and retry.
//! A job's status moves queued -> running -> done | queued (retry) | failed. A running job whose
//! lease (`locked_until`) ran out belongs to a dead worker and is claimed again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::Job;

/// Woken on every enqueue (delivered at commit), so idle workers start at once.
pub const CHANNEL: &str = "bottlecrm_jobs";

/// Attempts before a job is kept as failed.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// Inserts `job`, runnable from `run_at` (default now). Returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    org_id: Option<Uuid>,
    job: &Job,
    run_at: Option<DateTime<Utc>>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let payload = serde_json::to_value(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "WITH j AS (
             INSERT INTO jobs (id, tenant_org_id, kind, payload, max_attempts, run_at)
             VALUES ($1, $2, $3, $4, $5, COALESCE($6, now())) RETURNING id)
         SELECT pg_notify($7, '') FROM j",
    )
    .bind(id)
    .bind(org_id)
    .bind(job.kind())
    .bind(payload)
    .bind(DEFAULT_MAX_ATTEMPTS)
    .bind(run_at)
    .bind(CHANNEL)
    .execute(conn)
    .await?;
    Ok(id)
}

/// A job taken by a worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub tenant_org_id: Option<Uuid>,
    pub payload: serde_json::Value,
    /// Including this one.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Takes the oldest runnable job (queued and due, or running with an expired lease) for
/// `worker`, counting an attempt. Concurrent workers skip each other's rows.
///
/// The claim commits without waiting for the WAL flush (half of a job's fsyncs): if the database
/// crashes before the flush, the claim is simply undone and the job is still queued, while the
/// worker's connection (and so its job transaction) died with the database.
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    lease: Duration,
) -> Result<Option<Claimed>, sqlx::Error> {
    let mut tx = pool
        .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
        .await?;
    let claimed = sqlx::query_as(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1,
                locked_until = now() + make_interval(secs => $2), updated_at = now()
         WHERE id = (
             SELECT id FROM jobs
             WHERE status IN ('queued', 'running')
               AND ((status = 'queued' AND run_at <= now())
                    OR (status = 'running' AND locked_until < now() AND attempts < max_attempts))
             ORDER BY run_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_org_id, payload, attempts, max_attempts",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// Keeps the lease of a job this worker is still running.
pub async fn extend_lease(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks the job done in the job's own transaction, so its effects and its completion commit
/// together. False when this worker no longer holds it (lease lost to another worker): the
/// caller must roll back.
pub async fn mark_done(
    conn: &mut PgConnection,
    id: Uuid,
    worker: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'done', finished_at = now(), updated_at = now(), locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Delay before attempt `attempts + 1`: base * 2^(attempts-1), at most `max`.
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    base.saturating_mul(2u32.saturating_pow(exp)).min(max)
}

/// Records a failed attempt: queued again after `delay`, or failed for good when the attempts
/// are used up. Returns the new status (None when this worker no longer holds the job).
pub async fn record_failure(
    pool: &PgPool,
    job: &Claimed,
    worker: &str,
    error: &str,
    delay: Duration,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                run_at = now() + make_interval(secs => $4),
                last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = now()
         WHERE id = $1 AND locked_by = $2 AND status = 'running'
         RETURNING status",
    )
    .bind(job.id)
    .bind(worker)
    .bind(error)
    .bind(delay.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Gives back the jobs `worker` still holds (graceful shutdown that could not finish them);
/// the interrupted attempt is not counted.
pub async fn release(pool: &PgPool, worker: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), locked_by = NULL,
                locked_until = NULL, run_at = now(), updated_at = now()
         WHERE locked_by = $1 AND status = 'running'",
    )
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// Running jobs whose worker died on their last attempt: failed, with the reason.
pub async fn fail_abandoned(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'failed', locked_by = NULL, locked_until = NULL, updated_at = now(),
                last_error = concat_ws(E'\\n', last_error, 'worker stopped during the last attempt (lease expired)')
         WHERE status = 'running' AND locked_until < now() AND attempts >= max_attempts",
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailedJob {
    pub id: Uuid,
    pub tenant_org_id: Option<Uuid>,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Failed jobs, most recent failure first.
pub async fn list_failed(pool: &PgPool, limit: i64) -> Result<Vec<FailedJob>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, tenant_org_id, kind, attempts, last_error, created_at, updated_at
         FROM jobs WHERE status = 'failed' ORDER BY updated_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Queues a failed job again with a fresh set of attempts. False when no failed job has `id`.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), updated_at = now()
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    if r.rows_affected() == 1 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(pool)
            .await?;
    }
    Ok(r.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = |n| backoff(n, Duration::from_secs(10), Duration::from_secs(3600));
        assert_eq!(b(1), Duration::from_secs(10));
        assert_eq!(b(2), Duration::from_secs(20));
        assert_eq!(b(4), Duration::from_secs(80));
        assert_eq!(b(20), Duration::from_secs(3600));
    }
}
