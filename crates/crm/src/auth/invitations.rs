//! Invitations: an org admin who adds an e-mail that already has an account (`POST /api/users/`)
//! invites it. The account's owner gets an e-mail (through the job queue) and joins when they
//! accept, with `POST /api/auth/invitations/accept/`: `{"token"}` from the e-mail (no login
//! needed: the token proves the mailbox), or signed in as that user, `{"org_id"}` (their pending
//! invitations: `GET /api/auth/invitations/`). An invitation is single-use and lasts
//! `VALID_DAYS`; inviting again renews it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Credentials, JwtUser, links};
use crate::common::audit::{self, Event, RequestInfo};
use crate::db::tenant::{self, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::jobs::{self, Job};
use crate::state::AppState;

/// How long an invitation can be accepted.
pub const VALID_DAYS: i64 = 7;
/// At most one invitation e-mail per (org, user) per this many minutes.
const RESEND_MINUTES: i64 = 10;

/// The membership an invitation grants.
pub struct Grant {
    pub role: String,
    pub is_organization_admin: bool,
    pub has_sales_access: bool,
    pub has_marketing_access: bool,
}

/// Creates (or renews) the pending invitation of `user_id` to the tenant's org and queues its
/// e-mail. Returns the invitation's id.
pub async fn invite(
    t: &mut Tenant,
    user_id: Uuid,
    email: &str,
    grant: &Grant,
) -> Result<Uuid, ApiError> {
    // Inviting again within RESEND_MINUTES updates the grant but sends no second e-mail (an
    // admin cannot flood someone's mailbox).
    let (recent,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM org_invitation WHERE org_id = $1 AND user_id = $2 AND accepted_at IS NULL
                          AND created_at > now() - make_interval(mins => $3))",
    )
    .bind(t.org_id)
    .bind(user_id)
    .bind(RESEND_MINUTES as i32)
    .fetch_one(&mut *t.tx)
    .await?;
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO org_invitation (id, org_id, user_id, role, is_organization_admin, has_sales_access,
                                     has_marketing_access, invited_by_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(days => $9))
         ON CONFLICT (org_id, user_id) WHERE accepted_at IS NULL DO UPDATE
           SET role = EXCLUDED.role, is_organization_admin = EXCLUDED.is_organization_admin,
               has_sales_access = EXCLUDED.has_sales_access,
               has_marketing_access = EXCLUDED.has_marketing_access,
               invited_by_id = EXCLUDED.invited_by_id,
               created_at = CASE WHEN $10 THEN org_invitation.created_at ELSE now() END,
               expires_at = EXCLUDED.expires_at
         RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(t.org_id)
    .bind(user_id)
    .bind(&grant.role)
    .bind(grant.is_organization_admin)
    .bind(grant.has_sales_access)
    .bind(grant.has_marketing_access)
    .bind((!t.via_api_key).then_some(t.user_id))
    .bind(VALID_DAYS as i32)
    .bind(recent)
    .fetch_one(&mut *t.tx)
    .await?;
    if recent {
        return Ok(id);
    }
    let (org_name,): (Option<String>,) =
        sqlx::query_as("SELECT name FROM organization WHERE id = $1")
            .bind(t.org_id)
            .fetch_one(&mut *t.tx)
            .await?;
    let invited_by = if t.via_api_key {
        "An administrator".to_string()
    } else {
        t.email.clone()
    };
    jobs::enqueue(
        &mut t.tx,
        Some(t.org_id),
        Job::InvitationEmail {
            invitation: id,
            org_id: t.org_id,
            to: email.to_string(),
            org_name: org_name.unwrap_or_default(),
            invited_by,
            role: grant.role.clone(),
        },
    )
    .await?;
    Ok(id)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitation {
    /// The token from the invitation e-mail (no login needed).
    pub token: Option<String>,
    /// Signed in as the invited user (Bearer token), the org whose invitation to accept.
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinedOrg {
    pub id: Uuid,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptResponse {
    pub message: String,
    pub org: JoinedOrg,
    pub role: String,
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({"error": "Invitation is invalid or has expired."}),
    )
}

#[utoipa::path(post, path = "/api/auth/invitations/accept/", tag = "auth", request_body = AcceptInvitation,
    responses((status = 200, body = AcceptResponse),
              (status = 400, description = "`{\"error\": \"Invitation is invalid or has expired.\"}` or field errors"),
              (status = 401, description = "`org_id` without a Bearer token")))]
pub async fn accept(
    State(state): State<AppState>,
    req: RequestInfo,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AcceptResponse>> {
    let caller = match super::credentials(&headers) {
        Credentials::Bearer(token) => Some(super::authenticate_jwt(&state, &token).await?),
        _ => None,
    };
    let token = body.opt_str("token").filter(|t| !t.is_empty());
    // Who accepts which invitation: the token names it (and the invited user); a signed-in
    // user names the org.
    let (org_id, invitation_id, user_id) = match (token, caller.as_ref()) {
        (Some(token), caller) => {
            let (org, inv) =
                links::check_invitation_token(&state.cfg.secret_key, &token).ok_or_else(invalid)?;
            (org, Some(inv), caller.map(|c| c.user_id))
        }
        (None, Some(caller)) => {
            let org = match body.opt_str("org_id").map(|s| Uuid::parse_str(&s)) {
                Some(Ok(org)) => org,
                Some(Err(_)) => return Err(ApiError::field("org_id", "Must be a valid UUID.")),
                None => return Err(ApiError::field("token", "This field is required.")),
            };
            (org, None, Some(caller.user_id))
        }
        (None, None) => return Err(ApiError::field("token", "This field is required.")),
    };
    let mut tx = tenant::begin(&state.pool, Some(org_id), user_id).await?;
    // Spending the invitation is the check: one UPDATE, so it is accepted once.
    let spent: Option<(Uuid, Uuid, String, bool, bool, bool)> = sqlx::query_as(
        "UPDATE org_invitation i SET accepted_at = now()
         FROM users u
         WHERE i.org_id = $1 AND ($2::uuid IS NULL OR i.id = $2) AND ($3::uuid IS NULL OR i.user_id = $3)
           AND i.accepted_at IS NULL AND i.expires_at > now() AND u.id = i.user_id AND u.is_active
         RETURNING i.id, i.user_id, i.role, i.is_organization_admin, i.has_sales_access, i.has_marketing_access",
    )
    .bind(org_id)
    .bind(invitation_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((inv_id, user_id, role, org_admin, sales, marketing)) = spent else {
        return Err(invalid());
    };
    // A removed or deactivated membership comes back; otherwise a new one.
    let updated = sqlx::query(
        "UPDATE profile SET is_active = true, role = $3, is_organization_admin = $4, has_sales_access = $5,
                            has_marketing_access = $6, updated_at = now()
         WHERE user_id = $1 AND org_id = $2",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(&role)
    .bind(org_admin)
    .bind(sales)
    .bind(marketing)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO profile (created_at, updated_at, id, role, has_sales_access, has_marketing_access, is_active,
                                  is_organization_admin, date_of_joining, org_id, user_id)
             VALUES (now(), now(), $1, $2, $3, $4, true, $5, CURRENT_DATE, $6, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(&role)
        .bind(sales)
        .bind(marketing)
        .bind(org_admin)
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    let (org_name,): (Option<String>,) =
        sqlx::query_as("SELECT name FROM organization WHERE id = $1")
            .bind(org_id)
            .fetch_one(&mut *tx)
            .await?;
    let ev = Event::new("INVITATION_ACCEPTED", Some(user_id), Some(org_id))
        .describe(format!(
            "Invitation to {} accepted as {role}",
            org_name.as_deref().unwrap_or("")
        ))
        .meta(json!({"invitation_id": inv_id, "role": role}));
    audit::write(&mut tx, &req, ev).await?;
    tx.commit().await?;
    Ok(Json(AcceptResponse {
        message: format!(
            "You joined {}. Switch to it to start working.",
            org_name.as_deref().unwrap_or("the organization")
        ),
        org: JoinedOrg {
            id: org_id,
            name: org_name,
        },
        role,
    }))
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PendingInvitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: Option<String>,
    pub role: String,
    /// The inviting admin's e-mail (null when made with the org's API key).
    pub invited_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingInvitations {
    pub invitations: Vec<PendingInvitation>,
}

/// The caller's pending invitations, newest first (accept one with `{"org_id"}`).
#[utoipa::path(get, path = "/api/auth/invitations/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = PendingInvitations), (status = 401, description = "Not authenticated")))]
pub async fn pending(
    State(state): State<AppState>,
    caller: JwtUser,
) -> ApiResult<Json<PendingInvitations>> {
    let mut tx = tenant::begin(&state.pool, None, Some(caller.user_id)).await?;
    let invitations = sqlx::query_as::<_, PendingInvitation>(
        "SELECT i.id, i.org_id, o.name AS org_name, i.role, u.email AS invited_by, i.created_at, i.expires_at
         FROM org_invitation i JOIN organization o ON o.id = i.org_id
         LEFT JOIN users u ON u.id = i.invited_by_id
         WHERE i.user_id = $1 AND i.accepted_at IS NULL AND i.expires_at > now()
         ORDER BY i.created_at DESC LIMIT 100",
    )
    .bind(caller.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(PendingInvitations { invitations }))
}
