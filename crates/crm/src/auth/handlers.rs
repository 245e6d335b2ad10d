//! `/api/auth/*`: login, register + activation, refresh, logout, me, profile, switch-org.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::dto::*;
use super::jwt::TokenType;
use super::password::Verified;
use super::{JwtUser, activation, jwt, service};
use crate::common::audit::{self, Event, RequestInfo};
use crate::db::tenant::{self, Tenant};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::{BodyExt, JsonBody};
use crate::jobs::{self, Job};
use crate::state::AppState;

const REQUIRED: &str = "This field is required.";

fn error_body(status: StatusCode, msg: &str) -> ApiError {
    ApiError::new(status, json!({ "error": msg }))
}

#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, description = "`{\"non_field_errors\": [\"Invalid email or password\"]}` or field errors"),
              (status = 403, description = "`{\"error\": \"User does not have access to specified organization\"}`"),
              (status = 429, description = "Too many failed logins; see `Retry-After`")))]
pub async fn login(
    State(state): State<AppState>,
    req: RequestInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<LoginResponse>> {
    let ip = req.ip.clone();
    let mut errors = FieldErrors::new();
    let email = service::email_field(&body, &mut errors);
    let password = body.opt_str("password").unwrap_or_default();
    if password.is_empty() {
        errors.add("password", REQUIRED);
    }
    let org_id = match body.get("org_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            Some(id) => Some(id),
            None => {
                errors.add("org_id", "Must be a valid UUID.");
                None
            }
        },
    };
    errors.into_result()?;

    if let Some(wait) = state
        .login_limiter
        .check(&state.pool, &email, ip.as_deref())
        .await?
    {
        return Err(ApiError::too_many(
            wait,
            format!("Too many failed login attempts. Try again in {wait} seconds."),
        ));
    }
    let row: Option<(Uuid, String, bool)> =
        sqlx::query_as("SELECT id, password, is_active FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    // No such user: an empty hash, which `password::verify` checks against a dummy argon2id
    // hash of the same cost (as it does for accounts without a usable password).
    let (user_id, stored, is_active) = row.unwrap_or((Uuid::nil(), String::new(), false));
    let verified = service::verify_password(password.clone(), stored).await?;
    if verified == Verified::No || !is_active || user_id.is_nil() {
        state
            .login_limiter
            .record_failure(&state.pool, &email, ip.as_deref())
            .await?;
        let reason = if verified == Verified::No {
            "invalid credentials"
        } else {
            "inactive user"
        };
        let ev = Event::new(
            "LOGIN_FAILURE",
            (!user_id.is_nil()).then_some(user_id),
            None,
        )
        .describe(format!("Login failed for {email}: {reason}"))
        .meta(json!({"email": email, "reason": reason}))
        .failed();
        audit::write_now(&state.pool, &req, ev).await;
        return Err(ApiError::field(
            "non_field_errors",
            "Invalid email or password",
        ));
    }
    state
        .login_limiter
        .record_success(&state.pool, &email, ip.as_deref())
        .await?;

    let mut tx = tenant::begin(&state.pool, None, Some(user_id)).await?;
    if verified == Verified::YesNeedsUpgrade {
        let upgraded = service::hash_password(password).await?;
        sqlx::query("UPDATE users SET password = $2 WHERE id = $1")
            .bind(user_id)
            .bind(upgraded)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE users SET last_login = now() WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let user = service::user_summary(&mut tx, user_id).await?;
    let chosen = match org_id {
        Some(id) => match user.organizations.iter().find(|o| o.id == id) {
            Some(m) => Some(m.clone()),
            None => {
                tx.commit().await?;
                let ev = Event::new("LOGIN_FAILURE", Some(user_id), None)
                    .describe(format!("Login failed for {email}: no access to organization {id}"))
                    .meta(json!({"email": email, "reason": "no access to organization", "org_id": id}))
                    .failed();
                audit::write_now(&state.pool, &req, ev).await;
                return Err(error_body(
                    StatusCode::FORBIDDEN,
                    "User does not have access to specified organization",
                ));
            }
        },
        None => user.organizations.first().cloned(),
    };
    let org_claims = match &chosen {
        Some(m) => Some(service::org_claims(&mut tx, m.id, Some(m.role.clone())).await?),
        None => None,
    };
    let pair = service::issue_tokens(&state, &mut tx, user_id, org_claims.as_ref()).await?;
    let org_id = chosen.as_ref().map(|m| m.id);
    if let Some(org) = org_id {
        // The row belongs to the org logged in to: write it under that org's context.
        sqlx::query("SELECT set_config('app.current_org', $1, true)")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await?;
    }
    let org_name = chosen.as_ref().and_then(|m| m.name.clone());
    let ev = Event::new("LOGIN_SUCCESS", Some(user_id), org_id).describe(format!(
        "User logged in to {}",
        org_name.as_deref().unwrap_or("platform")
    ));
    audit::write(&mut tx, &req, ev).await?;
    tx.commit().await?;
    Ok(Json(LoginResponse {
        access_token: pair.access,
        refresh_token: pair.refresh,
        current_org: chosen.map(|m| OrgRef {
            id: m.id,
            name: m.name,
        }),
        user,
    }))
}

#[utoipa::path(post, path = "/api/auth/register/", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, description = "Field errors")))]
pub async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let mut errors = FieldErrors::new();
    let email = service::email_field(&body, &mut errors);
    let password = service::new_password_fields(&body, &mut errors);
    errors.into_result()?;

    // Hashed either way, so both answers take as long.
    let hash = service::hash_password(password).await?;
    let existing: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE lower(email) = lower($1)")
            .bind(&email)
            .fetch_optional(&state.pool)
            .await?;
    let registered = || {
        (
            StatusCode::CREATED,
            Json(RegisterResponse {
                message:
                    "User registered successfully. Please check your email for activation link."
                        .into(),
                user_id: Uuid::new_v4(),
                email: email.clone(),
            }),
        )
    };
    if let Some((owner, address)) = existing {
        // No enumeration: the same answer as for a new address (with an id that names nobody),
        // and the owner hears about it by e-mail, at most once an hour.
        let mut tx = tenant::begin(&state.pool, None, Some(owner)).await?;
        let notify: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE users SET account_notice_sent_at = now()
             WHERE id = $1 AND (account_notice_sent_at IS NULL OR account_notice_sent_at < now() - interval '1 hour')
             RETURNING id",
        )
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        if notify.is_some() {
            jobs::enqueue(
                &mut tx,
                None,
                Job::Email {
                    template: "account_exists".into(),
                    to: address,
                    context: json!({}),
                },
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(registered());
    }
    let user_id = Uuid::new_v4();
    let mut tx = tenant::begin(&state.pool, None, Some(user_id)).await?;
    sqlx::query(
        "INSERT INTO users (id, password, is_superuser, email, is_active, is_staff) VALUES ($1, $2, false, $3, false, false)",
    )
    .bind(user_id)
    .bind(&hash)
    .bind(&email)
    .execute(&mut *tx)
    .await?;
    let token = activation::make_token(&state.cfg.secret_key, user_id, false, jwt::now_secs());
    let link = format!(
        "{}/api/auth/activate/{user_id}/{token}/",
        state.cfg.api_url.trim_end_matches('/')
    );
    jobs::enqueue(
        &mut tx,
        None,
        Job::ActivationEmail {
            user_id,
            email: email.clone(),
            link,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            message: "User registered successfully. Please check your email for activation link."
                .into(),
            user_id,
            email,
        }),
    ))
}

async fn activate_user(
    state: &AppState,
    uid: Uuid,
    token: &str,
) -> ApiResult<Json<MessageResponse>> {
    let invalid = || {
        error_body(
            StatusCode::BAD_REQUEST,
            "Activation link is invalid or has expired.",
        )
    };
    let row: Option<(bool,)> = sqlx::query_as("SELECT is_active FROM users WHERE id = $1")
        .bind(uid)
        .fetch_optional(&state.pool)
        .await?;
    let Some((is_active,)) = row else {
        return Err(invalid());
    };
    if !activation::check_token(
        &state.cfg.secret_key,
        uid,
        is_active,
        token,
        jwt::now_secs(),
    ) {
        return Err(invalid());
    }
    sqlx::query("UPDATE users SET is_active = true WHERE id = $1")
        .bind(uid)
        .execute(&state.pool)
        .await?;
    Ok(Json(MessageResponse {
        message: "Account activated successfully. You can now log in.".into(),
    }))
}

#[utoipa::path(post, path = "/api/auth/activate/", tag = "auth", request_body = ActivateRequest,
    responses((status = 200, body = MessageResponse), (status = 400, description = "`{\"error\": \"Activation link is invalid or has expired.\"}`")))]
pub async fn activate(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<MessageResponse>> {
    let mut errors = FieldErrors::new();
    let uid = match body.opt_str("uid") {
        None => {
            errors.add("uid", REQUIRED);
            None
        }
        Some(s) => Uuid::parse_str(&s).ok().or_else(|| {
            errors.add("uid", "Must be a valid UUID.");
            None
        }),
    };
    let token = body.opt_str("token").unwrap_or_default();
    if token.is_empty() {
        errors.add("token", REQUIRED);
    }
    errors.into_result()?;
    activate_user(&state, uid.expect("validated above"), &token).await
}

/// The link in the activation e-mail.
#[utoipa::path(get, path = "/api/auth/activate/{uid}/{token}/", tag = "auth",
    params(("uid" = Uuid, Path), ("token" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 400, description = "Invalid or expired link")))]
pub async fn activate_link(
    State(state): State<AppState>,
    Path((uid, token)): Path<(String, String)>,
) -> ApiResult<Json<MessageResponse>> {
    let uid = Uuid::parse_str(&uid).map_err(|_| {
        error_body(
            StatusCode::BAD_REQUEST,
            "Activation link is invalid or has expired.",
        )
    })?;
    activate_user(&state, uid, &token).await
}

#[utoipa::path(post, path = "/api/auth/refresh-token/", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = RefreshResponse), (status = 400, description = "`{\"error\": \"Refresh token is required\"}`"),
              (status = 401, description = "`{\"error\": \"Invalid or expired token\"}`"),
              (status = 403, description = "User disabled or membership revoked")))]
pub async fn refresh(
    State(state): State<AppState>,
    req: RequestInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<RefreshResponse>> {
    let Some(token) = body.opt_str("refresh").filter(|t| !t.is_empty()) else {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            "Refresh token is required",
        ));
    };
    let invalid = || error_body(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    let claims = state
        .jwt
        .decode(&token, TokenType::Refresh)
        .map_err(|_| invalid())?;
    let user_id = claims.user_uuid().ok_or_else(invalid)?;
    let mut tx = tenant::begin(&state.pool, claims.org_uuid(), Some(user_id)).await?;
    // The user's revocation, or the membership's for an org-aware token.
    let row: Option<(bool, i64)> = sqlx::query_as(
        "SELECT u.is_active, GREATEST(COALESCE(floor(extract(epoch FROM u.tokens_revoked_at))::bigint, 0),
                                      COALESCE(floor(extract(epoch FROM p.tokens_revoked_at))::bigint, 0))
         FROM users u LEFT JOIN profile p ON p.user_id = u.id AND p.org_id = $2
         WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(claims.org_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((is_active, revoked_at)) = row else {
        return Err(error_body(StatusCode::UNAUTHORIZED, "User not found"));
    };
    if !is_active {
        return Err(error_body(
            StatusCode::FORBIDDEN,
            "User account is disabled",
        ));
    }
    if revoked_at > 0 && claims.iat <= revoked_at {
        let ev = Event::new("TOKEN_REVOKED", Some(user_id), None)
            .describe("Token revoked: refresh with a revoked token")
            .meta(json!({"reason": "refresh with a revoked token"}))
            .failed();
        audit::write_now(&state.pool, &req, ev).await;
        return Err(invalid());
    }
    let org_claims = match claims.org_uuid() {
        Some(org_id) => {
            let Some((_, role, _)) = tenant::active_profile(&mut tx, user_id, org_id).await? else {
                let reason = format!("refresh for a revoked membership in {org_id}");
                let ev = Event::new("TOKEN_REVOKED", Some(user_id), None)
                    .describe(format!("Token revoked: {reason}"))
                    .meta(json!({"reason": reason}))
                    .failed();
                audit::write_now(&state.pool, &req, ev).await;
                return Err(error_body(
                    StatusCode::FORBIDDEN,
                    "Organization membership revoked. Please login again.",
                ));
            };
            Some(service::org_claims(&mut tx, org_id, Some(role)).await?)
        }
        None => None,
    };
    let pair = service::issue_tokens(&state, &mut tx, user_id, org_claims.as_ref()).await?;
    let ev =
        Event::new("TOKEN_REFRESH", Some(user_id), claims.org_uuid()).describe("Token refreshed");
    audit::write(&mut tx, &req, ev).await?;
    tx.commit().await?;
    Ok(Json(RefreshResponse {
        access: pair.access,
        refresh: pair.refresh,
    }))
}

#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = MessageResponse), (status = 401, description = "Not authenticated")))]
pub async fn logout(
    State(state): State<AppState>,
    caller: JwtUser,
) -> ApiResult<Json<MessageResponse>> {
    let mut conn = state.pool.acquire().await?;
    service::revoke_tokens(&mut conn, caller.user_id).await?;
    Ok(Json(MessageResponse {
        message: "Logged out successfully.".into(),
    }))
}

#[utoipa::path(get, path = "/api/auth/me/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = UserSummary), (status = 401, description = "Not authenticated")))]
pub async fn me(State(state): State<AppState>, caller: JwtUser) -> ApiResult<Json<UserSummary>> {
    let mut tx = tenant::begin(&state.pool, None, Some(caller.user_id)).await?;
    let user = service::user_summary(&mut tx, caller.user_id).await?;
    tx.commit().await?;
    Ok(Json(user))
}

#[utoipa::path(get, path = "/api/auth/profile/", tag = "auth", security(("jwt" = [])),
    responses((status = 200, body = ProfileDetail), (status = 401, description = "Not authenticated"),
              (status = 403, description = "No org in the token, or no active membership")))]
pub async fn profile(mut t: Tenant) -> ApiResult<Json<ProfileDetail>> {
    if t.via_api_key {
        return Err(ApiError::unauthenticated());
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: Uuid,
        email: String,
        profile_pic: Option<String>,
        org_name: Option<String>,
        api_key: String,
        role: String,
        is_organization_admin: bool,
        has_sales_access: bool,
        has_marketing_access: bool,
        phone: Option<String>,
        date_of_joining: Option<chrono::NaiveDate>,
        is_active: bool,
    }
    let r: Row = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.profile_pic, o.name AS org_name, o.api_key, p.role,
                p.is_organization_admin, p.has_sales_access, p.has_marketing_access, p.phone, p.date_of_joining,
                p.is_active
         FROM profile p JOIN users u ON u.id = p.user_id JOIN organization o ON o.id = p.org_id
         WHERE p.id = $1 AND p.org_id = $2",
    )
    .bind(t.profile_id)
    .bind(t.org_id)
    .fetch_one(&mut *t.tx)
    .await?;
    let detail = ProfileDetail {
        id: t.profile_id,
        user: UserMini {
            id: r.user_id,
            email: r.email,
            profile_pic: r.profile_pic,
        },
        org: OrgMini {
            id: t.org_id,
            name: r.org_name,
            api_key: t.is_admin().then_some(r.api_key),
        },
        role: r.role,
        is_organization_admin: r.is_organization_admin,
        has_sales_access: r.has_sales_access,
        has_marketing_access: r.has_marketing_access,
        phone: r.phone,
        date_of_joining: r.date_of_joining,
        is_active: r.is_active,
    };
    t.commit().await?;
    Ok(Json(detail))
}

#[utoipa::path(post, path = "/api/auth/switch-org/", tag = "auth", security(("jwt" = [])), request_body = SwitchOrgRequest,
    responses((status = 200, body = SwitchOrgResponse), (status = 400, description = "`{\"error\": \"org_id is required\"}`"),
              (status = 403, description = "`{\"error\": \"User does not have access to this organization\"}`")))]
pub async fn switch_org(
    State(state): State<AppState>,
    caller: JwtUser,
    req: RequestInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<SwitchOrgResponse>> {
    let Some(raw) = body.opt_str("org_id").filter(|s| !s.is_empty()) else {
        return Err(error_body(StatusCode::BAD_REQUEST, "org_id is required"));
    };
    let no_access = || {
        error_body(
            StatusCode::FORBIDDEN,
            "User does not have access to this organization",
        )
    };
    // A malformed id names no org the user belongs to (upstream: 500).
    let org_id = Uuid::parse_str(&raw).map_err(|_| no_access())?;
    let mut tx = tenant::begin(&state.pool, Some(org_id), Some(caller.user_id)).await?;
    let Some((profile_id, role, is_organization_admin)) =
        tenant::active_profile(&mut tx, caller.user_id, org_id).await?
    else {
        drop(tx);
        // Not written into the target org's log: the caller is no member of it.
        let resource = format!("org:{org_id}");
        let ev = Event::new("PERMISSION_DENIED", Some(caller.user_id), None)
            .describe(format!("Permission denied for ORG_SWITCH on {resource}"))
            .meta(json!({"action": "ORG_SWITCH", "resource": resource}))
            .failed();
        audit::write_now(&state.pool, &req, ev).await;
        return Err(no_access());
    };
    let claims = service::org_claims(&mut tx, org_id, Some(role.clone())).await?;
    let pair = service::issue_tokens(&state, &mut tx, caller.user_id, Some(&claims)).await?;
    let from = caller.claims.org_uuid();
    let ev = Event::new("ORG_SWITCH", Some(caller.user_id), Some(org_id))
        .describe(format!(
            "Switched from {} to {}",
            from.map(|o| o.to_string()).unwrap_or_else(|| "none".into()),
            claims.org_name.as_deref().unwrap_or("")
        ))
        .meta(json!({"from_org_id": from, "to_org_id": org_id}));
    audit::write(&mut tx, &req, ev).await?;
    tx.commit().await?;
    Ok(Json(SwitchOrgResponse {
        access_token: pair.access,
        refresh_token: pair.refresh,
        current_org: OrgRef {
            id: org_id,
            name: claims.org_name,
        },
        profile: SwitchProfile {
            id: profile_id,
            role,
            is_organization_admin,
        },
    }))
}
