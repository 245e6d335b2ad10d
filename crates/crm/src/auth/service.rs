//! Account logic shared by the auth handlers, the org endpoints and the CLI.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::dto::{OrgMembership, UserSummary};
use super::jwt::{OrgClaims, TokenPair};
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, FieldErrors};
use crate::http::body::BodyExt;
use crate::state::AppState;

fn invalid_api_key(msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, json!({ "detail": msg }))
}

/// The org whose active API key this is.
pub async fn org_by_api_key(pool: &PgPool, key: &str) -> Result<Uuid, ApiError> {
    if key.len() > 200 {
        return Err(invalid_api_key("Invalid API Key"));
    }
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM organization WHERE api_key = $1 AND is_active")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    row.map(|r| r.0)
        .ok_or_else(|| invalid_api_key("Invalid API Key"))
}

/// `org_by_api_key`, recording an unknown key in the audit log (by its first characters only).
pub async fn org_by_api_key_audited(
    pool: &PgPool,
    key: &str,
    req: &crate::common::audit::RequestInfo,
) -> Result<Uuid, ApiError> {
    let result = org_by_api_key(pool, key).await;
    if let Err(e) = &result
        && e.status == StatusCode::UNAUTHORIZED
    {
        use crate::common::audit::{Event, write_now};
        let prefix: String = key.chars().take(4).collect();
        let ev = Event::new("API_KEY_INVALID", None, None)
            .describe("Invalid API key")
            .meta(json!({"api_key_prefix": prefix}))
            .failed();
        write_now(pool, req, ev).await;
    }
    result
}

/// Who an API-key request acts as: the org's newest active ADMIN (upstream's rule).
pub async fn acting_admin(
    tx: &mut Tx,
    org_id: Uuid,
) -> Result<(Uuid, String, (Uuid, String, bool)), ApiError> {
    let row: Option<(Uuid, String, Uuid, String, bool)> = sqlx::query_as(
        "SELECT u.id, u.email, p.id, p.role, p.is_organization_admin
         FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND p.role = 'ADMIN' AND p.is_active AND u.is_active
         ORDER BY p.created_at DESC LIMIT 1",
    )
    .bind(org_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (uid, email, pid, role, oa) =
        row.ok_or_else(|| invalid_api_key("Invalid API Key configuration"))?;
    Ok((uid, email, (pid, role, oa)))
}

pub struct ApiKeyActor {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
}

pub async fn api_key_actor(
    state: &AppState,
    key: &str,
    req: &crate::common::audit::RequestInfo,
) -> Result<ApiKeyActor, ApiError> {
    use crate::common::audit;
    let org_id = org_by_api_key_audited(&state.pool, key, req).await?;
    let mut tx = tenant::begin(&state.pool, Some(org_id), None).await?;
    let (user_id, email, _) = acting_admin(&mut tx, org_id).await?;
    let ev = audit::Event::new("API_KEY_USED", None, Some(org_id))
        .describe("API key used")
        .meta(json!({"endpoint": req.path, "via": "api_key"}));
    audit::write(&mut tx, req, ev).await?;
    tx.commit().await?;
    Ok(ApiKeyActor {
        org_id,
        user_id,
        email,
    })
}

/// The user object of login and /auth/me/, with active memberships newest first.
/// The tx must carry `app.current_user` = user (profile rows of other orgs are visible then).
pub async fn user_summary(tx: &mut Tx, user_id: Uuid) -> Result<UserSummary, ApiError> {
    let (id, email, profile_pic, is_active): (Uuid, String, Option<String>, bool) =
        sqlx::query_as("SELECT id, email, profile_pic, is_active FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    let organizations = memberships(tx, user_id).await?;
    Ok(UserSummary {
        id,
        email,
        profile_pic,
        is_active,
        organizations,
    })
}

pub async fn memberships(tx: &mut Tx, user_id: Uuid) -> Result<Vec<OrgMembership>, ApiError> {
    let rows = sqlx::query_as::<_, OrgMembership>(
        "SELECT o.id, o.name, o.logo, p.role, p.is_organization_admin, p.has_sales_access, p.has_marketing_access
         FROM profile p JOIN organization o ON o.id = p.org_id
         WHERE p.user_id = $1 AND p.is_active
         ORDER BY p.created_at DESC",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows)
}

/// Org claims for a token, from current database values.
pub async fn org_claims(
    tx: &mut Tx,
    org_id: Uuid,
    role: Option<String>,
) -> Result<OrgClaims, ApiError> {
    let (org_name, default_currency, default_country): (Option<String>, String, Option<String>) =
        sqlx::query_as(
            "SELECT name, default_currency, default_country FROM organization WHERE id = $1",
        )
        .bind(org_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(OrgClaims {
        org_id,
        org_name,
        default_currency: Some(default_currency),
        default_country,
        role,
    })
}

/// The smallest `iat` a new token of this user (for this org) may carry: newer than the last
/// revocation of the user and of the membership.
pub async fn min_iat(tx: &mut Tx, user_id: Uuid, org_id: Option<Uuid>) -> Result<i64, ApiError> {
    let (revoked,): (i64,) = sqlx::query_as(
        "SELECT GREATEST(
                    COALESCE(floor(extract(epoch FROM u.tokens_revoked_at))::bigint + 1, 0),
                    COALESCE((SELECT floor(extract(epoch FROM p.tokens_revoked_at))::bigint + 1
                              FROM profile p WHERE p.user_id = u.id AND p.org_id = $2), 0))
         FROM users u WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(revoked)
}

pub async fn issue_tokens(
    state: &AppState,
    tx: &mut Tx,
    user_id: Uuid,
    org: Option<&OrgClaims>,
) -> Result<TokenPair, ApiError> {
    let min = min_iat(tx, user_id, org.map(|o| o.org_id)).await?;
    Ok(state.jwt.issue_pair(user_id, org, min))
}

/// Invalidates every token of the user issued until now (logout, password change).
pub async fn revoke_tokens(conn: &mut sqlx::PgConnection, user_id: Uuid) -> Result<(), ApiError> {
    sqlx::query("UPDATE users SET tokens_revoked_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Invalidates the tokens the user holds for this org only (removal, deactivation): an org
/// admin's decision does not sign the user out of their other orgs.
pub async fn revoke_org_tokens(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE profile SET tokens_revoked_at = now() WHERE user_id = $1 AND org_id = $2")
        .bind(user_id)
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The `email` field of a body, normalised; records DRF's errors when missing or malformed.
pub fn email_field(body: &Map<String, Value>, errors: &mut FieldErrors) -> String {
    let email = body
        .opt_str("email")
        .map(|e| normalize_email(&e))
        .unwrap_or_default();
    if email.is_empty() {
        errors.add("email", "This field is required.");
    } else if !is_valid_email(&email) {
        errors.add("email", "Enter a valid email address.");
    }
    email
}

/// A new password from `password` + `confirm_password`: at least 8 characters, equal.
/// Records DRF's errors; the mismatch is only reported when nothing else is wrong.
pub fn new_password_fields(body: &Map<String, Value>, errors: &mut FieldErrors) -> String {
    let password = body.opt_str("password").unwrap_or_default();
    let confirm = body.opt_str("confirm_password").unwrap_or_default();
    if password.is_empty() {
        errors.add("password", "This field is required.");
    } else if password.chars().count() < 8 {
        errors.add("password", "Ensure this field has at least 8 characters.");
    } else if password.len() > 4096 {
        errors.add(
            "password",
            "Ensure this field has no more than 4096 characters.",
        );
    }
    if confirm.is_empty() {
        errors.add("confirm_password", "This field is required.");
    }
    if errors.is_empty() && password != confirm {
        errors.add("password", "Password fields didn't match.");
    }
    password
}

pub use super::email::{is_valid_email, normalize_email};

/// Hashes off the async runtime (argon2 takes tens of milliseconds on purpose).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || super::password::hash(&password))
        .await
        .map_err(ApiError::internal)
}

pub async fn verify_password(
    password: String,
    stored: String,
) -> Result<super::password::Verified, ApiError> {
    tokio::task::spawn_blocking(move || super::password::verify(&password, &stored))
        .await
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_valid_email("a@example.com"));
        assert!(is_valid_email("a.b+c@sub.example.co"));
        assert!(!is_valid_email("a@b"));
        assert!(!is_valid_email("nope"));
        assert!(!is_valid_email("a b@example.com"));
        assert_eq!(normalize_email(" Q@EXAMPLE.COM "), "Q@example.com");
    }
}
