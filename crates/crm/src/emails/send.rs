//! The sending job of a CRM e-mail (`Job::CrmEmail`): renders the message over its record's
//! fields, hands it to the mailer under the idempotency key `crm_email:<id>` (a retried job
//! sends no second copy) and records the outcome in the history row, in the job's transaction.

use anyhow::Context;
use serde_json::Value;
use uuid::Uuid;

use crate::jobs::run::JobContext;
use crate::mail::templates::render_message;
use crate::mail::{Copies, Envelope};

#[derive(sqlx::FromRow)]
struct Pending {
    org_id: Uuid,
    record_type: String,
    record_id: Uuid,
    status: String,
    from_email: String,
    to_addrs: Vec<String>,
    cc_addrs: Vec<String>,
    bcc_addrs: Vec<String>,
    subject: String,
    body: String,
    context: Option<Value>,
    account_email_log_id: Option<Uuid>,
}

/// Sends e-mail `email_id` unless it is gone, a draft again, or already sent.
pub(crate) async fn run(ctx: &mut JobContext<'_>, email_id: Uuid) -> anyhow::Result<()> {
    let row: Option<Pending> = sqlx::query_as(
        "SELECT org_id, record_type, record_id, status, from_email, to_addrs, cc_addrs, bcc_addrs,
                subject, body, context, account_email_log_id
         FROM crm_email WHERE id = $1",
    )
    .bind(email_id)
    .fetch_optional(&mut **ctx.tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    if !matches!(row.status.as_str(), "queued" | "failed") {
        return Ok(());
    }
    let context = match row.context.clone() {
        Some(c) => c,
        None => super::model::record_context(ctx.tx, &row.record_type, row.record_id)
            .await?
            .unwrap_or_else(|| serde_json::json!({})),
    };
    let rendered = render_message(&row.subject, &row.body, &context)?;
    // Suppressed addresses (unsubscribed, bounced, blocked) are dropped from every list.
    let keep = super::model::deliverable(
        ctx.tx,
        row.org_id,
        &row.to_addrs,
        &row.cc_addrs,
        &row.bcc_addrs,
    )
    .await?;
    let (to, cc, bcc) = keep;
    let Some((first, rest)) = to.split_first() else {
        sqlx::query(
            "UPDATE crm_email SET status = 'failed', error = 'every recipient is suppressed (unsubscribed, bounced or blocked)',
                    updated_at = now() WHERE id = $1",
        )
        .bind(email_id)
        .execute(&mut **ctx.tx)
        .await?;
        return Ok(());
    };
    let key = format!("crm_email:{email_id}");
    let env = Envelope {
        to: first,
        idempotency_key: &key,
        org_id: ctx.org_id,
        job_id: Some(ctx.job_id),
        reply_to: Some(&row.from_email),
    };
    let copies = Copies {
        to: rest,
        cc: &cc,
        bcc: &bcc,
    };
    if let Err(e) = ctx
        .mailer
        .send_with(ctx.pool, &env, &rendered, copies, &[])
        .await
    {
        record_failure(ctx, row.org_id, email_id, &format!("{e:#}")).await?;
        return Err(e);
    }
    let message_id = ctx.mailer.message_id(&key);
    sqlx::query(
        "UPDATE crm_email SET status = 'sent', sent_at = now(), error = NULL, message_id = $2,
                rendered_subject = $3, rendered_html = $4, rendered_text = $5, updated_at = now()
         WHERE id = $1",
    )
    .bind(email_id)
    .bind(&message_id)
    .bind(&rendered.subject)
    .bind(&rendered.html)
    .bind(&rendered.text)
    .execute(&mut **ctx.tx)
    .await?;
    if let Some(log) = row.account_email_log_id {
        sqlx::query(
            "WITH l AS (UPDATE \"emailLogs\" SET is_sent = true, updated_at = now() WHERE id = $1
                        RETURNING email_id)
             UPDATE account_email SET rendered_message_body = $2, updated_at = now()
             WHERE id IN (SELECT email_id FROM l)",
        )
        .bind(log)
        .bind(&rendered.html)
        .execute(&mut **ctx.tx)
        .await?;
    }
    Ok(())
}

/// The transport refused: the row says `failed` with the error at once (its own transaction,
/// so it survives the job's rollback); the queue retries, and a later success makes it `sent`.
async fn record_failure(
    ctx: &mut JobContext<'_>,
    org: Uuid,
    email_id: Uuid,
    error: &str,
) -> anyhow::Result<()> {
    let mut tx = crate::db::tenant::begin(ctx.pool, Some(org), None).await?;
    sqlx::query(
        "UPDATE crm_email SET status = 'failed', error = $2, updated_at = now() WHERE id = $1",
    )
    .bind(email_id)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    crate::db::tenant::commit(tx)
        .await
        .context("recording the e-mail's failure")?;
    Ok(())
}

/// An account e-mail's recipient (`emailLogs` row) queued through this module: sends its
/// history row. False when the row predates the module (the caller sends it the old way).
pub(crate) async fn account_log(ctx: &mut JobContext<'_>, log_id: Uuid) -> anyhow::Result<bool> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM crm_email WHERE account_email_log_id = $1")
            .bind(log_id)
            .fetch_optional(&mut **ctx.tx)
            .await?;
    match id {
        Some(id) => {
            run(ctx, id).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
