//! Background jobs in PostgreSQL (transactional outbox). A job is inserted by `enqueue` inside
//! the caller's transaction: if the request commits, the job runs; if it rolls back, it never
//! existed. Workers (`bottlecrm worker`, or the one embedded in `serve`) take jobs with
//! `FOR UPDATE SKIP LOCKED` under a lease, run each in a transaction with `app.current_org` set
//! to the job's org, retry failures with exponential backoff and keep jobs that keep failing
//! (`bottlecrm jobs failed` / `jobs retry <id>`). See docs/decisions.md for why not a crate.
//!
//! To send an e-mail from a handler, in the handler's transaction:
//! ```ignore
//! jobs::enqueue(&mut t.tx, Some(t.org_id), Job::Email {
//!     template: "assignment".into(),
//!     to: assignee_email,
//!     context: json!({"module": "Lead", "name": lead.title, "path": format!("/leads/{id}"), "assigned_by": t.email}),
//! }).await?;
//! ```
//! Templates and their context keys: see `mail::templates`.
//!
//! To add a job type: a variant of `Job`, its name in `Job::kind`, and its code in `run.rs`
//! (it runs on `ctx.tx`, a transaction with the job's org as RLS context; return an error to
//! retry). A recurring job: a line in `schedule::SCHEDULES` (`per_org` for one job per org).

pub mod queue;
pub(crate) mod run;
pub mod schedule;
pub mod worker;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::tenant::Tx;
use crate::error::ApiError;

pub use worker::{Worker, WorkerHandle, WorkerOptions};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// E-mail the activation link to a newly registered user.
    ActivationEmail {
        user_id: Uuid,
        email: String,
        link: String,
    },
    /// One e-mail to one recipient from a template (`mail::templates`), e.g. `assignment`,
    /// `mention`, `account_status`, `user_removed`, `account_exists`.
    Email {
        template: String,
        to: String,
        context: serde_json::Value,
    },
    /// Imports a stored lead file (`lead_import` row), all rows or none.
    LeadImport { import_id: Uuid },
    /// The password-reset e-mail. Holds no token: the worker derives it from the reset's nonce
    /// with SECRET_KEY (`auth::links`), so the jobs table never holds a working link.
    PasswordResetEmail { reset: Uuid, to: String },
    /// An invitation to join an org, for an existing account; its token is derived at send time
    /// like a reset's.
    InvitationEmail {
        invitation: Uuid,
        org_id: Uuid,
        to: String,
        org_name: String,
        invited_by: String,
        role: String,
    },
    /// Sends an account e-mail (`POST /api/accounts/<id>/create_mail/`) to each of its recipients
    /// that has not had it yet, marking their `emailLogs` row sent.
    AccountEmail { email_id: Uuid },
    /// E-mails one invitee of an event its invitation (`.ics` attached) and RSVP link.
    EventInvitation { event_id: Uuid, invitee_id: Uuid },
    /// Sends one CRM e-mail (`crm_email` row, `emails` module) to its To, Cc and Bcc, once.
    CrmEmail { email_id: Uuid },
    /// Deletes expired sessions and reset tokens, old finished jobs and old ledger rows.
    PurgeExpired,
    /// Daily, per org: e-mails each assignee of an open task due today or overdue, once per
    /// task and day (`tasks::reminders`).
    TaskReminders,
    /// The org's cases that just missed an SLA target: each breach e-mails the case's assignees
    /// once (`cases::sla`).
    CaseSla,
    /// Per org, nightly: marks unpaid invoices past their due date Overdue and open estimates
    /// past their expiry date Expired (`invoices::service::nightly`).
    InvoicesNightly,
    /// Does nothing (after `sleep_ms`), or fails with `fail`: benchmarks and worker checks.
    Noop {
        #[serde(default)]
        sleep_ms: u64,
        #[serde(default)]
        fail: Option<String>,
    },
}

impl Job {
    /// Stored in `jobs.kind` for listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::ActivationEmail { .. } => "activation_email",
            Job::Email { .. } => "email",
            Job::LeadImport { .. } => "lead_import",
            Job::PasswordResetEmail { .. } => "password_reset_email",
            Job::InvitationEmail { .. } => "invitation_email",
            Job::AccountEmail { .. } => "account_email",
            Job::EventInvitation { .. } => "event_invitation",
            Job::CrmEmail { .. } => "crm_email",
            Job::PurgeExpired => "purge_expired",
            Job::TaskReminders => "task_reminders",
            Job::CaseSla => "case_sla",
            Job::InvoicesNightly => "invoices_nightly",
            Job::Noop { .. } => "noop",
        }
    }
}

/// Adds `job` to the queue inside `tx`; it runs (for `org_id`, under RLS) once `tx` commits.
pub async fn enqueue(tx: &mut Tx, org_id: Option<Uuid>, job: Job) -> Result<(), ApiError> {
    queue::insert(tx, org_id, &job, None).await?;
    Ok(())
}

/// Like `enqueue`, but the job does not run before `at`.
pub async fn enqueue_at(
    tx: &mut Tx,
    org_id: Option<Uuid>,
    job: Job,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    queue::insert(tx, org_id, &job, Some(at)).await?;
    Ok(())
}
