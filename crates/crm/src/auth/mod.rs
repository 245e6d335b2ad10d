//! Authentication: JWTs, passwords, API keys, activation tokens, login throttling, and the
//! extractors that turn request headers into a caller.

pub mod activation;
pub mod dto;
pub mod email;
pub mod google;
pub mod handlers;
pub mod invitations;
pub mod jwt;
pub mod links;
pub mod password;
pub mod password_reset;
pub mod ratelimit;
pub mod service;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;
use std::net::SocketAddr;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use jwt::{Claims, TokenType};

/// What the request presented.
pub enum Credentials {
    Bearer(String),
    ApiKey(String),
    None,
}

/// `Authorization: Bearer <jwt>` wins over `Token: <org api key>`, as upstream. Another scheme
/// in `Authorization` counts as no credentials (simplejwt ignores it).
pub fn credentials(headers: &HeaderMap) -> Credentials {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut it = v.split_whitespace();
        return match (it.next(), it.next()) {
            (Some(s), Some(tok)) if s.eq_ignore_ascii_case("bearer") => {
                Credentials::Bearer(tok.to_string())
            }
            _ => Credentials::None,
        };
    }
    if let Some(v) = headers.get("token").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if !v.is_empty() {
            return Credentials::ApiKey(v.to_string());
        }
    }
    Credentials::None
}

pub fn client_ip(parts: &Parts, trust_proxy: bool) -> Option<String> {
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let (true, Some(first)) = (trust_proxy, forwarded) {
        return Some(first.to_string());
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The client address, for rate limits and the audit log.
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state.cfg.trust_proxy)))
    }
}

/// Validates an access token and the user behind it (exists, active, tokens not revoked).
pub async fn authenticate_jwt(state: &AppState, token: &str) -> Result<JwtUser, ApiError> {
    let claims = state
        .jwt
        .decode(token, TokenType::Access)
        .map_err(|e| ApiError::token_not_valid(e.message()))?;
    let user_id = claims
        .user_uuid()
        .ok_or_else(|| ApiError::token_not_valid("Token is invalid"))?;
    let row: Option<(String, bool, i64)> = sqlx::query_as(
        "SELECT email, is_active, COALESCE(floor(extract(epoch FROM tokens_revoked_at))::bigint, 0)
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    let (email, is_active, revoked_at) = row.ok_or_else(user_not_found)?;
    check_user(is_active, revoked_at, claims.iat)?;
    Ok(JwtUser {
        user_id,
        email,
        claims,
    })
}

pub fn user_not_found() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        json!({"detail": "User not found", "code": "user_not_found"}),
    )
}

/// The user must be active, and the token newer than the user's last revocation.
pub fn check_user(is_active: bool, revoked_at: i64, iat: i64) -> Result<(), ApiError> {
    if !is_active {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User is inactive", "code": "user_inactive"}),
        ));
    }
    if revoked_at > 0 && iat <= revoked_at {
        return Err(ApiError::token_not_valid("Token has been revoked"));
    }
    Ok(())
}

/// A caller authenticated by JWT only (upstream pins me, auth/profile and switch-org to JWT).
pub struct JwtUser {
    pub user_id: Uuid,
    pub email: String,
    pub claims: Claims,
}

impl FromRequestParts<AppState> for JwtUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match credentials(&parts.headers) {
            Credentials::Bearer(token) => authenticate_jwt(state, &token).await,
            _ => Err(ApiError::unauthenticated()),
        }
    }
}

/// A caller authenticated by JWT or org API key, with or without an org (for the org entry
/// points that work before an org is chosen). With an API key the caller is the org's newest
/// active ADMIN, as upstream.
pub struct Caller {
    pub user_id: Uuid,
    pub email: String,
    pub org_id: Option<Uuid>,
    pub via_api_key: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match credentials(&parts.headers) {
            Credentials::Bearer(token) => {
                let user = authenticate_jwt(state, &token).await?;
                Ok(Caller {
                    org_id: user.claims.org_uuid(),
                    user_id: user.user_id,
                    email: user.email,
                    via_api_key: false,
                })
            }
            Credentials::ApiKey(key) => {
                let req =
                    crate::common::audit::RequestInfo::from_parts(parts, state.cfg.trust_proxy);
                let acting = service::api_key_actor(state, &key, &req).await?;
                Ok(Caller {
                    user_id: acting.user_id,
                    email: acting.email,
                    org_id: Some(acting.org_id),
                    via_api_key: true,
                })
            }
            Credentials::None => Err(ApiError::unauthenticated()),
        }
    }
}
