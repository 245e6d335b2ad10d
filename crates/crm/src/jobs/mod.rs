//! Background jobs. Until the PostgreSQL queue lands (see the jobs issue), `enqueue` writes the
//! job to the log at the point where it will be stored inside the caller's transaction, so call
//! sites already have their final shape.

use serde::Serialize;
use uuid::Uuid;

use crate::db::tenant::Tx;
use crate::error::ApiError;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// E-mail the activation link to a newly registered user.
    ActivationEmail {
        user_id: Uuid,
        email: String,
        link: String,
    },
    /// A templated e-mail to one recipient. Templates: `assignment` (you were assigned to a
    /// record), `mention` (you were @mentioned in a comment); `context` fills the template.
    Email {
        template: String,
        to: String,
        context: serde_json::Value,
    },
}

pub async fn enqueue(_tx: &mut Tx, org_id: Option<Uuid>, job: Job) -> Result<(), ApiError> {
    let payload = serde_json::to_string(&job).map_err(ApiError::internal)?;
    tracing::info!(target: "bottlecrm::outbox", org_id = ?org_id, job = %payload, "job enqueued (log-only outbox)");
    Ok(())
}
