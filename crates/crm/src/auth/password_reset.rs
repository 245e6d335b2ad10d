//! Password reset (upstream has none): `POST /api/auth/password-reset/` e-mails a single-use
//! link valid for an hour; `POST /api/auth/password-reset/confirm/` sets the new password,
//! spends the token and revokes every token the user held. Only a SHA-256 of the reset token is
//! stored, and the e-mail job holds a nonce the token is derived from with SECRET_KEY at send
//! time (`auth::links`): neither the tokens table nor the jobs table yields a working link. The
//! request answers the same whether the address exists or not (no enumeration).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::MessageResponse;
use super::service;
use crate::db::tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::{BodyExt, JsonBody};
use crate::jobs::{self, Job};
use crate::state::AppState;

const REQUIRED: &str = "This field is required.";
/// How long a reset link works.
pub const TOKEN_MINUTES: i64 = 60;
/// At most one reset e-mail per user per this many seconds (mailbox flooding).
const RESEND_AFTER_SECS: i64 = 60;

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token from the e-mailed link.
    pub token: String,
    pub password: String,
    pub confirm_password: String,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[utoipa::path(post, path = "/api/auth/password-reset/", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 200, body = MessageResponse, description = "Same answer whether the address is known or not"),
              (status = 400, description = "Field errors")))]
pub async fn request(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let mut errors = FieldErrors::new();
    let email = service::email_field(&body, &mut errors);
    errors.into_result()?;
    let user: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE lower(email) = lower($1) AND is_active")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    if let Some((user_id, address)) = user {
        let mut tx = tenant::begin(&state.pool, None, Some(user_id)).await?;
        let (recent,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM password_reset_token
                            WHERE user_id = $1 AND created_at > now() - make_interval(secs => $2))",
        )
        .bind(user_id)
        .bind(RESEND_AFTER_SECS as f64)
        .fetch_one(&mut *tx)
        .await?;
        if !recent {
            // The token is an HMAC of a fresh nonce under SECRET_KEY: the table keeps its SHA-256,
            // the job only the nonce, and the worker derives the token again when it sends.
            let nonce = Uuid::new_v4();
            let token = super::links::reset_token(&state.cfg.secret_key, nonce);
            sqlx::query(
                "INSERT INTO password_reset_token (token_hash, user_id, expires_at)
                 VALUES ($1, $2, now() + make_interval(mins => $3))",
            )
            .bind(hash_token(&token))
            .bind(user_id)
            .bind(TOKEN_MINUTES as i32)
            .execute(&mut *tx)
            .await?;
            jobs::enqueue(
                &mut tx,
                None,
                Job::PasswordResetEmail {
                    reset: nonce,
                    to: address,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(Json(MessageResponse {
        message:
            "If an active account uses this address, a password reset link has been sent to it."
                .into(),
    }))
}

/// A refused reset: the link is unknown, used or expired.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResetRefused {
    #[schema(example = "Password reset link is invalid or has expired.")]
    pub error: String,
}

/// A body the server could not read: `{"detail": "JSON parse error - ..."}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ResetUnreadable {
    pub detail: String,
}

/// A 400 of the confirm: field errors (`{"token": ["This field is required."]}`), the link
/// refused (`{"error": ...}`) or an unreadable body (`{"detail": ...}`). Documentation only.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ResetConfirmError {
    Refused(ResetRefused),
    Unreadable(ResetUnreadable),
    Fields(std::collections::HashMap<String, Vec<String>>),
}

#[utoipa::path(post, path = "/api/auth/password-reset/confirm/", tag = "auth", request_body = PasswordResetConfirm,
    responses((status = 200, body = MessageResponse),
              (status = 400, body = ResetConfirmError, description = "Field errors, or `{\"error\": \"Password reset link is invalid or has expired.\"}`")))]
pub async fn confirm(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let mut errors = FieldErrors::new();
    let token = body.opt_str("token").unwrap_or_default();
    if token.is_empty() {
        errors.add("token", REQUIRED);
    }
    let password = service::new_password_fields(&body, &mut errors);
    errors.into_result()?;

    let hash = service::hash_password(password).await?;
    let mut tx = tenant::begin(&state.pool, None, None).await?;
    // Spending the token is the check: one UPDATE, so two concurrent confirms cannot both win.
    let spent: Option<(Uuid,)> = sqlx::query_as(
        "UPDATE password_reset_token SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
    )
    .bind(hash_token(&token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id,)) = spent else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({ "error": "Password reset link is invalid or has expired." }),
        ));
    };
    sqlx::query("UPDATE users SET password = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    // Other links sent before this reset die with it.
    sqlx::query(
        "UPDATE password_reset_token SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    service::revoke_tokens(&mut tx, user_id).await?;
    tx.commit().await?;
    tracing::info!(target: "bottlecrm::security", event = "PASSWORD_RESET", %user_id, "password reset");
    Ok(Json(MessageResponse {
        message: "Your password has been reset. You can now log in.".into(),
    }))
}
