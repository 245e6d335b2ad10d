//! `Tenant`: the only way a handler reaches org data. It authenticates the caller (JWT or org
//! API key), opens a transaction on the app-role pool with `app.current_org` set for that
//! transaction only (so a pooled connection never carries a tenant into the next request), and
//! loads the caller's active profile in that org. The handler runs its SQL on `tenant.tx` and
//! calls `commit()`; dropping it rolls back.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::{self, Credentials, jwt::TokenType};
use crate::common::audit;
use crate::error::ApiError;
use crate::state::AppState;

pub type Tx = Transaction<'static, Postgres>;

/// Begins a transaction with the RLS context set. `org`: the tenant whose rows are visible;
/// `user`: lets the user see their own memberships in other orgs (profile policy).
pub async fn begin(
    pool: &PgPool,
    org: Option<Uuid>,
    user: Option<Uuid>,
) -> Result<Tx, sqlx::Error> {
    // Ids are formatted from parsed UUIDs, so inlining them is injection-safe; one round trip.
    // Generic plans: sqlx prepares each statement once per connection, and with PostgreSQL's
    // default the big list statements were planned again on every execution (~3 ms of a 6 ms
    // page); the API's statements are keyed lookups and index walks whose best plan does not
    // depend on the values bound.
    let org = org.map(|o| o.to_string()).unwrap_or_default();
    let user = user.map(|u| u.to_string()).unwrap_or_default();
    let stmt = format!(
        "BEGIN; SELECT set_config('app.current_org', '{org}', true), set_config('app.current_user', '{user}', true),
                       set_config('plan_cache_mode', 'force_generic_plan', true)"
    );
    let pool = pool.clone();
    to_completion(async move { pool.begin_with(sqlx::AssertSqlSafe(stmt)).await }).await
}

/// Commits on a task of its own, like `begin`: a request dropped while COMMIT is in flight
/// leaves neither a half-known transaction state nor a ROLLBACK that finds no transaction.
pub async fn commit(tx: Tx) -> Result<(), sqlx::Error> {
    to_completion(tx.commit()).await
}

/// Runs a transaction-control step (BEGIN, COMMIT) to its end on a task of its own.
///
/// sqlx counts a transaction as open only once the server confirmed BEGIN: a future dropped
/// between sending `BEGIN; ...` and reading the answer (client gone, request timeout) returned
/// its connection to the pool inside a transaction nobody knew of, and the next request ran in
/// it (`there is already a transaction in progress`). Likewise a dropped COMMIT was followed by
/// a ROLLBACK (`there is no transaction in progress`). Run here, a step whose caller went away
/// still finishes; its result is then dropped, which rolls back an unused transaction normally.
pub async fn to_completion<T: Send + 'static>(
    step: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, sqlx::Error> {
    match tokio::spawn(step).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(sqlx::Error::PoolClosed),
    }
}

pub struct Tenant {
    pub tx: Tx,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub profile_id: Uuid,
    pub role: String,
    pub is_organization_admin: bool,
    pub email: String,
    pub via_api_key: bool,
    /// The org's data version in this transaction (see `crate::cache`).
    pub data_version: i64,
}

impl Tenant {
    /// ADMIN role or organization admin flag: what upstream calls an admin almost everywhere.
    pub fn is_admin(&self) -> bool {
        self.role == "ADMIN" || self.is_organization_admin
    }

    /// Who audit rows name as the actor: the signed-in user, or nobody for an org API key (the
    /// row says `via: api_key`), never the member the key's request runs as.
    pub fn actor(&self) -> Option<Uuid> {
        (!self.via_api_key).then_some(self.user_id)
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    pub async fn commit(self) -> Result<(), ApiError> {
        commit(self.tx).await.map_err(ApiError::from)
    }
}

type ProfileRow = (Uuid, String, bool);

/// The caller's user row joined with their membership in the token's org (if active).
#[derive(sqlx::FromRow)]
struct AuthRow {
    email: String,
    is_active: bool,
    revoked_at: i64,
    /// The membership's own revocation (`profile.tokens_revoked_at`).
    org_revoked_at: i64,
    data_version: i64,
    profile_id: Option<Uuid>,
    role: Option<String>,
    is_organization_admin: Option<bool>,
    profile_active: Option<bool>,
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match auth::credentials(&parts.headers) {
            Credentials::Bearer(token) => {
                let claims = state
                    .jwt
                    .decode(&token, TokenType::Access)
                    .map_err(|e| ApiError::token_not_valid(e.message()))?;
                let user_id = claims
                    .user_uuid()
                    .ok_or_else(|| ApiError::token_not_valid("Token is invalid"))?;
                let org_id = claims.org_uuid().ok_or_else(ApiError::org_required)?;
                let mut tx = begin(&state.pool, Some(org_id), Some(user_id)).await?;
                let row: Option<AuthRow> = sqlx::query_as(
                    "SELECT u.email, u.is_active,
                            COALESCE(floor(extract(epoch FROM u.tokens_revoked_at))::bigint, 0) AS revoked_at,
                            (SELECT coalesce(sum(n), 0)::bigint FROM cache_versions
                             WHERE scope IN ($2, '00000000-0000-0000-0000-000000000000')) AS data_version,
                            COALESCE(floor(extract(epoch FROM p.tokens_revoked_at))::bigint, 0) AS org_revoked_at,
                            p.id AS profile_id, p.role, p.is_organization_admin, p.is_active AS profile_active
                     FROM users u
                     LEFT JOIN profile p ON p.user_id = u.id AND p.org_id = $2
                     WHERE u.id = $1",
                )
                .bind(user_id)
                .bind(org_id)
                .fetch_optional(&mut *tx)
                .await?;
                let row = row.ok_or_else(auth::user_not_found)?;
                auth::check_user(
                    row.is_active,
                    row.revoked_at.max(row.org_revoked_at),
                    claims.iat,
                )?;
                let (Some(profile_id), Some(role), Some(is_organization_admin), Some(true)) = (
                    row.profile_id,
                    row.role,
                    row.is_organization_admin,
                    row.profile_active,
                ) else {
                    return Err(ApiError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        json!({"detail": "You no longer have access to this organization. Please login again."}),
                    ));
                };
                let (email, data_version) = (row.email, row.data_version);
                Ok(Tenant {
                    tx,
                    org_id,
                    user_id,
                    profile_id,
                    role,
                    is_organization_admin,
                    email,
                    via_api_key: false,
                    data_version,
                })
            }
            Credentials::ApiKey(key) => {
                let req = audit::RequestInfo::from_parts(parts, state.cfg.trust_proxy);
                let org_id = auth::service::org_by_api_key_audited(&state.pool, &key, &req).await?;
                let mut tx = begin(&state.pool, Some(org_id), None).await?;
                let (user_id, email, (profile_id, role, is_organization_admin)) =
                    auth::service::acting_admin(&mut tx, org_id).await?;
                // Committed with the request's own changes: a use that rolls back leaves no row.
                let ev = audit::Event::new("API_KEY_USED", None, Some(org_id))
                    .describe("API key used")
                    .meta(json!({"endpoint": req.path, "via": "api_key"}));
                audit::write(&mut tx, &req, ev).await?;
                let data_version = data_version(&mut tx, org_id).await?;
                Ok(Tenant {
                    tx,
                    org_id,
                    user_id,
                    profile_id,
                    role,
                    is_organization_admin,
                    email,
                    via_api_key: true,
                    data_version,
                })
            }
            Credentials::None => Err(ApiError::unauthenticated()),
        }
    }
}

/// The org's data version as this transaction sees it (see `crate::cache`). The bearer path
/// reads it with the caller's row instead, saving a round trip.
pub async fn data_version(tx: &mut Tx, org_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(n), 0)::bigint FROM cache_versions
         WHERE scope IN ($1, '00000000-0000-0000-0000-000000000000')",
    )
    .bind(org_id)
    .fetch_one(&mut **tx)
    .await
}

/// Loads (profile id, role, org admin flag) for a user's active membership in the tx's org.
pub async fn active_profile(
    tx: &mut Tx,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, role, is_organization_admin FROM profile WHERE user_id = $1 AND org_id = $2 AND is_active")
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await
}
