//! Cron-like schedules (5 fields, UTC). Each schedule has a row in `job_schedules`; any worker
//! may fire it, by locking the due row (`FOR UPDATE SKIP LOCKED`), moving `next_run_at` to the
//! next occurrence and enqueuing its job in the same transaction. So a period fires once however
//! many workers run, and a period missed while no worker ran fires once (no catch-up storm).
//!
//! A `per_org` schedule enqueues one job per active org, each running under that org's RLS
//! context (upstream's scheduled tasks ran without one and saw no rows). Later modules add
//! their schedules (overdue invoices, reminders, recurring invoices, SLA checks) to SCHEDULES.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use croner::Cron;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Job, queue};

pub struct Schedule {
    /// Stable key of the `job_schedules` row.
    pub name: &'static str,
    /// `minute hour day-of-month month day-of-week`, UTC.
    pub cron: &'static str,
    /// One job per active org instead of one job without an org.
    pub per_org: bool,
    pub job: fn() -> Job,
}

pub const SCHEDULES: &[Schedule] = &[
    Schedule {
        name: "purge_expired",
        cron: "17 3 * * *",
        per_org: false,
        job: || Job::PurgeExpired,
    },
    Schedule {
        name: "task_reminders",
        cron: "0 7 * * *",
        per_org: true,
        job: || Job::TaskReminders,
    },
    Schedule {
        name: "case_sla",
        cron: "*/5 * * * *",
        per_org: true,
        job: || Job::CaseSla,
    },
    // Just after midnight UTC, the invoices' business time zone.
    Schedule {
        name: "invoices_nightly",
        cron: "5 0 * * *",
        per_org: true,
        job: || Job::InvoicesNightly,
    },
];

/// How often workers look for due schedules.
pub const TICK: Duration = Duration::from_secs(15);

/// The first occurrence of `cron` strictly after `after`.
pub fn next_after(cron: &str, after: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let c: Cron = cron
        .parse()
        .with_context(|| format!("invalid cron expression {cron:?}"))?;
    c.find_next_occurrence(&after, false)
        .with_context(|| format!("cron expression {cron:?} never fires"))
}

/// Creates the rows of new schedules, and moves `next_run_at` of a schedule whose cron changed.
pub async fn sync(pool: &PgPool, schedules: &[Schedule]) -> anyhow::Result<()> {
    for s in schedules {
        let next = next_after(s.cron, Utc::now())?;
        sqlx::query(
            "INSERT INTO job_schedules (name, cron, next_run_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, next_run_at = EXCLUDED.next_run_at
             WHERE job_schedules.cron <> EXCLUDED.cron",
        )
        .bind(s.name)
        .bind(s.cron)
        .bind(next)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Fires every due schedule once. Returns the number of jobs enqueued.
pub async fn tick(pool: &PgPool, schedules: &[Schedule]) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM job_schedules WHERE next_run_at <= now() FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut enqueued = 0;
    for (name,) in due {
        // A row of a schedule this version does not know stays as it is.
        let Some(s) = schedules.iter().find(|s| s.name == name) else {
            continue;
        };
        let next = next_after(s.cron, Utc::now())?;
        sqlx::query(
            "UPDATE job_schedules SET next_run_at = $2, last_run_at = now() WHERE name = $1",
        )
        .bind(&name)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        let orgs: Vec<Option<Uuid>> = if s.per_org {
            sqlx::query_as::<_, (Uuid,)>("SELECT id FROM organization WHERE is_active ORDER BY id")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| Some(r.0))
                .collect()
        } else {
            vec![None]
        };
        for org in orgs {
            queue::insert(&mut tx, org, &(s.job)(), None).await?;
            enqueued += 1;
        }
        tracing::info!(schedule = %name, next_run_at = %next, "schedule fired");
    }
    tx.commit().await?;
    Ok(enqueued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn next_occurrence_in_utc() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 3, 17, 0).unwrap();
        assert_eq!(
            next_after("17 3 * * *", t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 26, 3, 17, 0).unwrap()
        );
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 30).unwrap();
        assert_eq!(
            next_after("*/15 * * * *", t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 25, 9, 15, 0).unwrap()
        );
        assert!(next_after("not cron", t).is_err());
        for s in SCHEDULES {
            next_after(s.cron, t).unwrap();
        }
    }
}
