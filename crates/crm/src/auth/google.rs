//! `POST /api/auth/google/callback/`: Google sign-in (authorization code + PKCE). The code is
//! exchanged at the provider's token endpoint, and the returned ID token is trusted only after its
//! RS256 signature verifies against the provider's published keys (JWKS) and its audience
//! (our client id), issuer, expiry and `email_verified` check out. Upstream decodes the payload
//! without any check. Endpoints come from configuration (GOOGLE_TOKEN_URL, GOOGLE_JWKS_URL), so
//! tests run against a local OpenID Connect server.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::OrgRef;
use super::service;
use crate::common::audit::{self, Event, RequestInfo};
use crate::db::tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::state::AppState;

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
});

fn error(status: StatusCode, msg: &str) -> ApiError {
    ApiError::new(status, json!({ "error": msg }))
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    email: Option<String>,
    /// Google sends a boolean; some providers send "true".
    #[serde(default)]
    email_verified: Value,
    picture: Option<String>,
}

/// Verifies the ID token against the provider's keys; the message says what failed.
async fn verify(state: &AppState, id_token: &str, client_id: &str) -> Result<IdClaims, ApiError> {
    let invalid = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|_| invalid("Invalid ID token format"))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid("Invalid ID token: unexpected signing algorithm"));
    }
    let jwks: JwkSet = async {
        HTTP.get(&state.cfg.google.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "JWKS fetch failed");
        error(StatusCode::BAD_GATEWAY, "Failed to communicate with Google")
    })?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None => jwks.keys.first().filter(|_| jwks.keys.len() == 1),
    }
    .ok_or_else(|| invalid("Invalid ID token: unknown signing key"))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| invalid("Invalid ID token: unusable signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&state.cfg.google.issuers);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let data =
        jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => invalid("ID token expired"),
                ErrorKind::InvalidSignature => invalid("Invalid ID token signature"),
                ErrorKind::InvalidAudience => invalid("Invalid ID token audience"),
                ErrorKind::InvalidIssuer => invalid("Invalid ID token issuer"),
                _ => invalid("Invalid ID token"),
            }
        })?;
    Ok(data.claims)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoogleUser {
    pub id: Uuid,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoogleLoginResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub user: GoogleUser,
    /// The org the tokens are for (the newest membership), as `/api/auth/login/`.
    pub current_org: Option<OrgRef>,
}

/// Body of `POST /api/auth/google/callback/` (PKCE authorization code flow).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct GoogleCallback {
    pub code: String,
    pub code_verifier: String,
    pub redirect_uri: String,
}

#[utoipa::path(post, path = "/api/auth/google/callback/", tag = "auth",
    request_body = GoogleCallback,
    responses((status = 200, body = GoogleLoginResponse),
              (status = 400, description = "`{\"error\": \"...\"}`: missing parameters, exchange refused, token invalid/expired, e-mail not verified"),
              (status = 403, description = "`{\"error\": \"User account is disabled\"}`"),
              (status = 502, description = "`{\"error\": \"Failed to communicate with Google\"}`"),
              (status = 503, description = "Google sign-in is not configured")))]
pub async fn callback(
    State(state): State<AppState>,
    req: RequestInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<GoogleLoginResponse>> {
    let get = |k: &str| body.opt_str(k).filter(|s| !s.is_empty());
    let (Some(code), Some(verifier), Some(redirect_uri)) =
        (get("code"), get("code_verifier"), get("redirect_uri"))
    else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Missing required parameters",
        ));
    };
    let g = &state.cfg.google;
    let (Some(client_id), Some(client_secret)) = (&g.client_id, &g.client_secret) else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Google sign-in is not configured",
        ));
    };
    let form = [
        ("code", code.as_str()),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("redirect_uri", redirect_uri.as_str()),
        ("grant_type", "authorization_code"),
        ("code_verifier", verifier.as_str()),
    ];
    let res = HTTP
        .post(&g.token_url)
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "Google token exchange failed");
            error(StatusCode::BAD_GATEWAY, "Failed to communicate with Google")
        })?;
    let ok = res.status().is_success();
    let tokens: Value = res.json().await.unwrap_or(Value::Null);
    if !ok {
        let msg = tokens["error_description"]
            .as_str()
            .unwrap_or("Token exchange failed");
        return Err(error(StatusCode::BAD_REQUEST, msg));
    }
    let Some(id_token) = tokens["id_token"].as_str() else {
        return Err(error(StatusCode::BAD_REQUEST, "No ID token received"));
    };
    let claims = match verify(&state, id_token, client_id).await {
        Ok(c) => c,
        Err(e) => {
            let reason = e.body["error"]
                .as_str()
                .unwrap_or("invalid ID token")
                .to_string();
            let ev = Event::new("LOGIN_FAILURE", None, None)
                .describe(format!("Google sign-in failed: {reason}"))
                .meta(json!({"method": "google", "reason": reason}))
                .failed();
            audit::write_now(&state.pool, &req, ev).await;
            return Err(e);
        }
    };
    let email = claims
        .email
        .map(|e| service::normalize_email(&e))
        .filter(|e| service::is_valid_email(e))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "No email in token"))?;
    let verified = matches!(&claims.email_verified, Value::Bool(true))
        || claims.email_verified.as_str() == Some("true");
    if !verified {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Email not verified by Google",
        ));
    }

    let existing: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT id, is_active FROM users WHERE lower(email) = lower($1)")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    let user_id = existing.map(|e| e.0).unwrap_or_else(Uuid::new_v4);
    if existing.is_some_and(|e| !e.1) {
        let ev = Event::new("LOGIN_FAILURE", Some(user_id), None)
            .describe(format!("Login failed for {email}: inactive user"))
            .meta(json!({"method": "google", "email": email, "reason": "inactive user"}))
            .failed();
        audit::write_now(&state.pool, &req, ev).await;
        return Err(error(StatusCode::FORBIDDEN, "User account is disabled"));
    }
    let mut tx = tenant::begin(&state.pool, None, Some(user_id)).await?;
    if existing.is_none() {
        // No password: this account signs in with Google until one is set.
        sqlx::query(
            "INSERT INTO users (id, password, is_superuser, email, profile_pic, is_active, is_staff)
             VALUES ($1, $2, false, $3, $4, true, false)",
        )
        .bind(user_id)
        .bind(format!("!{}", Uuid::new_v4().simple()))
        .bind(&email)
        .bind(claims.picture.as_deref().map(|p| p.chars().take(1000).collect::<String>()))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE users SET last_login = now() WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let chosen = service::memberships(&mut tx, user_id)
        .await?
        .into_iter()
        .next();
    let org_claims = match &chosen {
        Some(m) => Some(service::org_claims(&mut tx, m.id, Some(m.role.clone())).await?),
        None => None,
    };
    let pair = service::issue_tokens(&state, &mut tx, user_id, org_claims.as_ref()).await?;
    if let Some(m) = &chosen {
        sqlx::query("SELECT set_config('app.current_org', $1, true)")
            .bind(m.id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    let ev = Event::new(
        "LOGIN_SUCCESS",
        Some(user_id),
        chosen.as_ref().map(|m| m.id),
    )
    .describe(format!(
        "User logged in to {} with Google",
        chosen
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .unwrap_or("platform")
    ))
    .meta(json!({"method": "google", "new_account": existing.is_none()}));
    audit::write(&mut tx, &req, ev).await?;
    tx.commit().await?;
    Ok(Json(GoogleLoginResponse {
        access_token: pair.access,
        refresh_token: pair.refresh,
        user: GoogleUser { id: user_id, email },
        current_org: chosen.map(|m| OrgRef {
            id: m.id,
            name: m.name,
        }),
    }))
}
