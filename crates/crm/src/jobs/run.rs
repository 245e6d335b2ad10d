//! What each job does. Runs inside the job's tenant transaction (`tx`); the worker commits it
//! together with the job's completion.

use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::Job;
use crate::db::tenant::Tx;
use crate::mail::{self, Envelope, Mailer};

pub(crate) struct JobContext<'a> {
    pub tx: &'a mut Tx,
    pub pool: &'a PgPool,
    pub mailer: &'a Mailer,
    pub job_id: Uuid,
    pub org_id: Option<Uuid>,
}

/// How long finished things are kept before `PurgeExpired` deletes them.
const DONE_JOBS_KEPT: &str = "7 days";
const MAIL_LEDGER_KEPT: &str = "30 days";
const RESET_TOKENS_KEPT: &str = "1 day";

pub(crate) async fn run(ctx: &mut JobContext<'_>, job: Job) -> anyhow::Result<()> {
    match job {
        Job::ActivationEmail { email, link, .. } => {
            send(ctx, "activation", &email, json!({ "link": link })).await
        }
        Job::Email {
            template,
            to,
            context,
        } => send(ctx, &template, &to, context).await,
        Job::LeadImport { import_id } => {
            crate::leads::upload::run_job(ctx.tx, ctx.pool, ctx.org_id, import_id).await
        }
        Job::PasswordResetEmail { reset, to } => {
            let secret = link_secret(ctx)?;
            let token = crate::auth::links::reset_token(&secret, reset);
            let link = format!(
                "{}/reset-password?token={token}",
                ctx.mailer.site_url().trim_end_matches('/')
            );
            let minutes = crate::auth::password_reset::TOKEN_MINUTES;
            send(
                ctx,
                "password_reset",
                &to,
                json!({ "link": link, "expires_minutes": minutes }),
            )
            .await
        }
        Job::InvitationEmail {
            invitation,
            org_id,
            to,
            org_name,
            invited_by,
            role,
        } => {
            let secret = link_secret(ctx)?;
            let token = crate::auth::links::invitation_token(&secret, org_id, invitation);
            let link = format!(
                "{}/invitations/accept?token={token}",
                ctx.mailer.site_url().trim_end_matches('/')
            );
            let context = json!({
                "link": link, "token": token, "org_name": org_name, "invited_by": invited_by,
                "role": role, "expires_days": crate::auth::invitations::VALID_DAYS,
            });
            send(ctx, "invitation", &to, context).await
        }
        Job::AccountEmail { email_id } => account_email(ctx, email_id).await,
        Job::EventInvitation {
            event_id,
            invitee_id,
        } => {
            crate::events::invites::send_invitation(
                ctx.tx, ctx.pool, ctx.mailer, ctx.job_id, ctx.org_id, event_id, invitee_id,
            )
            .await
        }
        Job::CrmEmail { email_id } => crate::emails::send::run(ctx, email_id).await,
        Job::PurgeExpired => purge(ctx).await,
        Job::TaskReminders => crate::tasks::reminders::run(ctx.tx, ctx.org_id).await,
        Job::CaseSla => crate::cases::sla::run_job(ctx.tx, ctx.org_id).await,
        Job::InvoicesNightly => crate::invoices::service::nightly(ctx.tx, ctx.org_id).await,
        Job::Noop { sleep_ms, fail } => {
            if sleep_ms > 0 {
                tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
            }
            match fail {
                Some(msg) => bail!("{msg}"),
                None => Ok(()),
            }
        }
    }
}

fn link_secret(ctx: &JobContext<'_>) -> anyhow::Result<String> {
    match ctx.mailer.link_secret() {
        Some(s) => Ok(s.to_string()),
        None => bail!("the mailer has no link secret (SECRET_KEY): cannot sign the link"),
    }
}

/// One e-mail per job: the job id is the idempotency key.
async fn send(
    ctx: &mut JobContext<'_>,
    template: &str,
    to: &str,
    context: Value,
) -> anyhow::Result<()> {
    let rendered = mail::templates::render(template, &context, ctx.mailer.site_url())?;
    let key = format!("job:{}", ctx.job_id);
    let env = Envelope {
        to,
        idempotency_key: &key,
        org_id: ctx.org_id,
        job_id: Some(ctx.job_id),
        reply_to: None,
    };
    ctx.mailer.send(ctx.pool, &env, &rendered).await?;
    Ok(())
}

/// One message per recipient contact, its body rendered with the contact's fields
/// (`{{ first_name }}`, `{{ last_name }}`, `{{ email }}`...). The idempotency key is per e-mail
/// and contact, so a retried job sends nobody a second copy.
async fn account_email(ctx: &mut JobContext<'_>, email_id: Uuid) -> anyhow::Result<()> {
    let head: Option<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT message_subject, message_body, from_email FROM account_email WHERE id = $1",
    )
    .bind(email_id)
    .fetch_optional(&mut **ctx.tx)
    .await?;
    // Deleted with its account since it was queued: nothing to send.
    let Some((subject, body, from_email)) = head else {
        return Ok(());
    };
    let pending: Vec<(Uuid, Uuid, Value)> = sqlx::query_as(
        "SELECT l.id, c.id, json_build_object('first_name', c.first_name, 'last_name', c.last_name,
                    'email', c.email, 'phone', c.phone, 'organization', c.organization, 'title', c.title)
         FROM \"emailLogs\" l JOIN contacts c ON c.id = l.contact_id
         WHERE l.email_id = $1 AND NOT l.is_sent AND coalesce(c.email, '') <> ''
         ORDER BY l.created_at, l.id",
    )
    .bind(email_id)
    .fetch_all(&mut **ctx.tx)
    .await?;
    let subject = subject.unwrap_or_default();
    let body = body.unwrap_or_default();
    for (log_id, contact_id, contact) in pending {
        // Queued through the e-mails module (its history row): sent and recorded there.
        if crate::emails::send::account_log(ctx, log_id).await? {
            continue;
        }
        let to = contact["email"].as_str().unwrap_or_default().to_string();
        let rendered = mail::templates::render_message(&subject, &body, &contact)?;
        let key = format!("account_email:{email_id}:{contact_id}");
        let env = Envelope {
            to: &to,
            idempotency_key: &key,
            org_id: ctx.org_id,
            job_id: Some(ctx.job_id),
            reply_to: Some(&from_email),
        };
        ctx.mailer.send(ctx.pool, &env, &rendered).await?;
        sqlx::query("UPDATE \"emailLogs\" SET is_sent = true, updated_at = now() WHERE id = $1;")
            .bind(log_id)
            .execute(&mut **ctx.tx)
            .await?;
        sqlx::query(
            "UPDATE account_email SET rendered_message_body = $2, updated_at = now() WHERE id = $1",
        )
        .bind(email_id)
        .bind(&rendered.html)
        .execute(&mut **ctx.tx)
        .await?;
    }
    Ok(())
}

async fn purge(ctx: &mut JobContext<'_>) -> anyhow::Result<()> {
    let statements = [
        "DELETE FROM session_token WHERE expires_at < now()".to_string(),
        format!(
            "DELETE FROM password_reset_token WHERE expires_at < now() - interval '{RESET_TOKENS_KEPT}'"
        ),
        format!(
            "DELETE FROM jobs WHERE status = 'done' AND finished_at < now() - interval '{DONE_JOBS_KEPT}'"
        ),
        format!("DELETE FROM mail_outbox WHERE created_at < now() - interval '{MAIL_LEDGER_KEPT}'"),
    ];
    let mut deleted = Vec::new();
    for sql in statements {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **ctx.tx)
            .await?;
        deleted.push(r.rows_affected());
    }
    tracing::info!(
        sessions = deleted[0],
        reset_tokens = deleted[1],
        jobs = deleted[2],
        mails = deleted[3],
        "purged expired data"
    );
    Ok(())
}
