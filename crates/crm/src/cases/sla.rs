//! The scheduled SLA check (`Job::CaseSla`, one job per org every 5 minutes): every open case
//! that has just missed its first-response or resolution target is stamped as notified for that
//! breach, and each of its active assignees gets one `sla_breach` e-mail, all in the job's
//! transaction. A stamped breach is never mailed again, so running the check twice (or on two
//! workers) sends one e-mail per breach.

use anyhow::Context;
use uuid::Uuid;

use crate::db::tenant::Tx;
use crate::jobs::{self, Job};
use crate::mail::templates::context;

/// Stamps the org's new breaches and returns (case id, name, breach, due at, assignee e-mail)
/// for each e-mail to send.
const CHECK: &str = "
WITH due AS (
    SELECT c.id,
           (c.first_response_at IS NULL AND c.sla_first_response_breach_notified_at IS NULL
            AND now() > c.created_at + make_interval(hours => c.sla_first_response_hours)) AS fr,
           (c.sla_resolution_breach_notified_at IS NULL
            AND now() > c.created_at + make_interval(hours => c.sla_resolution_hours)) AS rs
    FROM \"case\" c
    WHERE c.org_id = $1 AND c.resolved_at IS NULL
      AND (c.sla_first_response_breach_notified_at IS NULL OR c.sla_resolution_breach_notified_at IS NULL)
),
marked AS (
    UPDATE \"case\" c
       SET sla_first_response_breach_notified_at = CASE WHEN d.fr THEN now() ELSE c.sla_first_response_breach_notified_at END,
           sla_resolution_breach_notified_at = CASE WHEN d.rs THEN now() ELSE c.sla_resolution_breach_notified_at END
      FROM due d
     WHERE c.id = d.id AND c.org_id = $1 AND (d.fr OR d.rs)
    RETURNING c.id, c.name, d.fr, d.rs,
              c.created_at + make_interval(hours => c.sla_first_response_hours) AS fr_due,
              c.created_at + make_interval(hours => c.sla_resolution_hours) AS rs_due
)
SELECT m.id, m.name, k.breach, to_char(k.due AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), u.email
FROM marked m
CROSS JOIN LATERAL (VALUES ('first response', m.fr, m.fr_due), ('resolution', m.rs, m.rs_due)) k(breach, hit, due)
JOIN case_assigned_to a ON a.case_id = m.id
JOIN profile p ON p.id = a.profile_id AND p.org_id = $1 AND p.is_active
JOIN users u ON u.id = p.user_id AND u.is_active
WHERE k.hit
ORDER BY m.id, k.breach, u.email";

/// Runs the check for `org` in the job's transaction; returns how many e-mails it queued.
pub async fn check(tx: &mut Tx, org: Uuid) -> anyhow::Result<usize> {
    let rows: Vec<(Uuid, String, String, String, String)> = sqlx::query_as(CHECK)
        .bind(org)
        .fetch_all(&mut **tx)
        .await
        .context("SLA check")?;
    let path = crate::common::comments::CASES.page_path(Uuid::nil());
    for (_, name, breach, due, to) in &rows {
        let job = Job::Email {
            template: "sla_breach".into(),
            to: to.clone(),
            context: context::sla_breach("Case", name, &path, breach, due),
        };
        jobs::enqueue(tx, Some(org), job)
            .await
            .map_err(|e| anyhow::anyhow!("cannot queue an SLA e-mail: {e:?}"))?;
    }
    if !rows.is_empty() {
        tracing::info!(org = %org, emails = rows.len(), "SLA breaches mailed");
    }
    Ok(rows.len())
}

/// `Job::CaseSla`: an org job (a job without an org has nothing to check).
pub async fn run_job(tx: &mut Tx, org: Option<Uuid>) -> anyhow::Result<()> {
    if let Some(org) = org {
        check(tx, org).await?;
    }
    Ok(())
}
