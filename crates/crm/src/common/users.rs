//! `/api/users/`, `/api/user/<user id>/`, `/api/user/<user id>/status/`,
//! `/api/users/get-teams-and-users/`: an org's members (profiles). Fixed against upstream: create,
//! update and detail work; a member cannot raise their own role; an admin cannot change the login
//! e-mail of someone who also belongs to other orgs; the last admin cannot be demoted, deactivated
//! or removed; deactivation and removal revoke the member's tokens for this org at once. Adding an
//! e-mail that already has an account invites it (`auth::invitations`); the account's own fields
//! (login e-mail, picture) stay its owner's once it is not this org's alone.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, Event, RequestInfo};
use super::enums::{COUNTRY_CODES, ROLES, is_country};
use super::profiles::{self, ProfileObj};
use super::teams::{self, TeamObj};
use crate::auth::{invitations, service};
use crate::db::tenant::{Tenant, Tx};
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;

const REQUIRED: &str = "This field is required.";

fn envelope(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn denied() -> ApiError {
    envelope(StatusCode::FORBIDDEN, json!("Permission Denied"))
}

fn last_admin() -> ApiError {
    envelope(
        StatusCode::BAD_REQUEST,
        json!("The organization must have at least one admin."),
    )
}

/// Profiles of the org by id, keeping the given order.
async fn load_ordered(
    tx: &mut Tx,
    org: Uuid,
    ids: &[Uuid],
) -> Result<Vec<ProfileObj>, sqlx::Error> {
    let mut objs = profiles::load(tx, org, ids).await?;
    objs.sort_by_key(|p| ids.iter().position(|i| *i == p.id));
    Ok(objs)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveUsers {
    pub active_users_count: i64,
    pub active_users: Vec<ProfileObj>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InactiveUsers {
    pub inactive_users_count: i64,
    pub inactive_users: Vec<ProfileObj>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersListResponse {
    pub active_users: ActiveUsers,
    pub inactive_users: InactiveUsers,
    pub admin_email: String,
    pub roles: Vec<[String; 2]>,
    pub status: Vec<[String; 2]>,
}

/// Upstream's per-list `offset`: null when the page reaches the end, 0 when it is empty.
fn next_offset(page: Page, returned: usize, total: i64) -> Option<i64> {
    let next = page.offset + returned as i64;
    if returned == 0 {
        Some(0)
    } else if next >= total {
        None
    } else {
        Some(next)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "active" | "t" | "yes" => Some(true),
        "false" | "0" | "inactive" | "f" | "no" => Some(false),
        _ => None,
    }
}

/// Members split into active and inactive, each paginated with the same limit/offset. Filters:
/// `email` (contains), `role`, `status` (True/False; Active/Inactive accepted too).
#[utoipa::path(get, path = "/api/users/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("email" = Option<String>, Query),
           ("role" = Option<String>, Query), ("status" = Option<String>, Query)),
    responses((status = 200, body = UsersListResponse), (status = 400), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    page: Page,
    q: RawQuery,
) -> ApiResult<Json<UsersListResponse>> {
    if !t.is_admin() {
        return Err(denied());
    }
    let email = q
        .get("email")
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", teams::like_escape(s)));
    let role = q.get("role").filter(|s| !s.is_empty());
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(parse_bool(s).ok_or_else(|| {
            ApiError::field(
                "status",
                format!("\u{201c}{s}\u{201d} value must be either True or False."),
            )
        })?),
    };
    const FILTER: &str = "p.org_id = $1 AND ($2::text IS NULL OR u.email ILIKE $2)
        AND ($3::text IS NULL OR p.role = $3) AND ($4::bool IS NULL OR p.is_active = $4)";
    let (active_count, inactive_count): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FILTER (WHERE p.is_active), count(*) FILTER (WHERE NOT p.is_active)
         FROM profile p JOIN users u ON u.id = p.user_id WHERE {FILTER}"
    )))
    .bind(t.org_id)
    .bind(&email)
    .bind(role)
    .bind(status)
    .fetch_one(&mut *t.tx)
    .await?;
    // One page of each subset in one query.
    let rows: Vec<(Uuid, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, is_active FROM (
            SELECT p.id, p.is_active,
                   row_number() OVER (PARTITION BY p.is_active ORDER BY p.created_at DESC, p.id) AS n
            FROM profile p JOIN users u ON u.id = p.user_id WHERE {FILTER}) x
         WHERE n > $5 AND n <= $5 + $6 ORDER BY n"
    )))
    .bind(t.org_id)
    .bind(&email)
    .bind(role)
    .bind(status)
    .bind(page.offset)
    .bind(page.limit)
    .fetch_all(&mut *t.tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let objs = load_ordered(&mut t.tx, t.org_id, &ids).await?;
    t.commit().await?;
    let (active, inactive): (Vec<ProfileObj>, Vec<ProfileObj>) =
        objs.into_iter().partition(|p| p.is_active);
    let pair = |a: &str, b: &str| [a.to_string(), b.to_string()];
    Ok(Json(UsersListResponse {
        active_users: ActiveUsers {
            active_users_count: active_count,
            offset: next_offset(page, active.len(), active_count),
            active_users: active,
        },
        inactive_users: InactiveUsers {
            inactive_users_count: inactive_count,
            offset: next_offset(page, inactive.len(), inactive_count),
            inactive_users: inactive,
        },
        admin_email: state.cfg.admin_email.clone(),
        roles: ROLES.iter().map(|r| pair(r, r)).collect(),
        status: vec![pair("True", "Active"), pair("False", "In Active")],
    }))
}

/// Validated membership fields; `None` = not given.
#[derive(Default)]
struct ProfileInput {
    role: Option<String>,
    is_organization_admin: Option<bool>,
    has_sales_access: Option<bool>,
    has_marketing_access: Option<bool>,
    phone: Option<Option<String>>,
    alternate_phone: Option<Option<String>>,
}

fn opt_bool(body: &Map<String, Value>, key: &str, errors: &mut Map<String, Value>) -> Option<bool> {
    match body.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s).or_else(|| {
            errors.insert(key.into(), json!(["Must be a valid boolean."]));
            None
        }),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Some(n.as_i64() == Some(1))
        }
        _ => {
            errors.insert(key.into(), json!(["Must be a valid boolean."]));
            None
        }
    }
}

fn opt_text(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
    errors: &mut Map<String, Value>,
) -> Option<Option<String>> {
    match body.get(key)? {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) if s.trim().chars().count() > max => {
            errors.insert(
                key.into(),
                json!([format!(
                    "Ensure this field has no more than {max} characters."
                )]),
            );
            None
        }
        Value::String(s) => Some(Some(s.trim().to_string())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => {
            errors.insert(key.into(), json!(["Not a valid string."]));
            None
        }
    }
}

fn profile_input(
    body: &Map<String, Value>,
    require_role: bool,
    errors: &mut Map<String, Value>,
) -> ProfileInput {
    let role = match body.opt_str("role").map(|r| r.trim().to_uppercase()) {
        Some(r) if ROLES.contains(&r.as_str()) => Some(r),
        Some(r) => {
            errors.insert(
                "role".into(),
                json!([format!("\"{r}\" is not a valid choice.")]),
            );
            None
        }
        None => {
            if require_role {
                errors.insert("role".into(), json!([REQUIRED]));
            }
            None
        }
    };
    ProfileInput {
        role,
        is_organization_admin: opt_bool(body, "is_organization_admin", errors),
        has_sales_access: opt_bool(body, "has_sales_access", errors),
        has_marketing_access: opt_bool(body, "has_marketing_access", errors),
        phone: opt_text(body, "phone", 20, errors),
        alternate_phone: opt_text(body, "alternate_phone", 20, errors),
    }
}

const ADDRESS_FIELDS: &[(&str, usize)] = &[
    ("address_line", 255),
    ("street", 55),
    ("city", 255),
    ("state", 255),
    ("postcode", 64),
    ("country", 3),
];

/// Address fields given in the body (validated), or None when the body names none.
fn address_input(
    body: &Map<String, Value>,
    errors: &mut Map<String, Value>,
) -> Option<Vec<String>> {
    if !ADDRESS_FIELDS.iter().any(|(k, _)| body.contains_key(*k)) {
        return None;
    }
    let mut out = Vec::new();
    for (key, max) in ADDRESS_FIELDS {
        let v = opt_text(body, key, *max, errors)
            .flatten()
            .unwrap_or_default();
        if *key == "country" && !v.is_empty() && !is_country(&v.to_uppercase()) {
            errors.insert(
                "country".into(),
                json!([format!("\"{v}\" is not a valid choice.")]),
            );
        }
        out.push(if *key == "country" {
            v.to_uppercase()
        } else {
            v
        });
    }
    Some(out)
}

/// Creates or replaces the profile's address.
async fn save_address(t: &mut Tenant, profile: Uuid, fields: &[String]) -> Result<(), ApiError> {
    let current: Option<(Option<Uuid>,)> =
        sqlx::query_as("SELECT address_id FROM profile WHERE id = $1 AND org_id = $2")
            .bind(profile)
            .bind(t.org_id)
            .fetch_optional(&mut *t.tx)
            .await?;
    match current.and_then(|c| c.0) {
        Some(addr) => {
            sqlx::query(
                "UPDATE address SET address_line = $3, street = $4, city = $5, state = $6, postcode = $7, country = $8,
                                    updated_at = now(), updated_by_id = $9
                 WHERE id = $1 AND org_id = $2",
            )
            .bind(addr)
            .bind(t.org_id)
            .bind(&fields[0])
            .bind(&fields[1])
            .bind(&fields[2])
            .bind(&fields[3])
            .bind(&fields[4])
            .bind(&fields[5])
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
        }
        None => {
            let addr = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO address (created_at, updated_at, id, address_line, street, city, state, postcode, country,
                                      created_by_id, updated_by_id, org_id)
                 VALUES (now(), now(), $1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            )
            .bind(addr)
            .bind(&fields[0])
            .bind(&fields[1])
            .bind(&fields[2])
            .bind(&fields[3])
            .bind(&fields[4])
            .bind(&fields[5])
            .bind(t.user_id)
            .bind(t.org_id)
            .execute(&mut *t.tx)
            .await?;
            sqlx::query("UPDATE profile SET address_id = $3 WHERE id = $1 AND org_id = $2")
                .bind(profile)
                .bind(t.org_id)
                .bind(addr)
                .execute(&mut *t.tx)
                .await?;
        }
    }
    Ok(())
}

async fn phone_taken(t: &mut Tenant, phone: &str, except: Option<Uuid>) -> Result<bool, ApiError> {
    let (taken,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM profile WHERE org_id = $1 AND phone = $2 AND id IS DISTINCT FROM $3)",
    )
    .bind(t.org_id)
    .bind(phone)
    .bind(except)
    .fetch_one(&mut *t.tx)
    .await?;
    Ok(taken)
}

/// Body of `POST /api/users/` and `PUT/PATCH /api/user/<id>/`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct UserBody {
    pub email: Option<String>,
    /// `ADMIN` or `USER`.
    pub role: Option<String>,
    /// New accounts only.
    pub password: Option<String>,
    pub phone: Option<String>,
    pub alternate_phone: Option<String>,
    pub is_organization_admin: Option<bool>,
    pub has_sales_access: Option<bool>,
    pub has_marketing_access: Option<bool>,
    pub profile_pic: Option<String>,
    pub address_line: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
}

/// Adds a member: a new account, or an invitation for an e-mail that already has one.
#[utoipa::path(post, path = "/api/users/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    request_body = UserBody,
    responses((status = 201, description = "A new address: `{\"error\": false, \"message\": \"User Created Successfully\", \"user_id\", \"profile_id\"}`. An existing account is invited instead: `{\"error\": false, \"invited\": true, \"invitation_id\", \"message\"}` (it joins when its owner accepts)"),
              (status = 400, description = "`{\"error\": true, \"errors\": {\"user_errors\": {...}, \"profile_errors\": {...}, \"address_errors\": [{...}]}}`"),
              (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn create(
    mut t: Tenant,
    req: RequestInfo,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !t.is_admin() {
        return Err(denied());
    }
    let mut user_errors = Map::new();
    let mut profile_errors = Map::new();
    let mut address_errors = Map::new();
    let email = body
        .opt_str("email")
        .map(|e| service::normalize_email(&e).to_lowercase())
        .unwrap_or_default();
    if email.is_empty() {
        user_errors.insert("email".into(), json!([REQUIRED]));
    } else if !service::is_valid_email(&email) {
        user_errors.insert("email".into(), json!(["Enter a valid email address."]));
    }
    let profile_pic = opt_text(&body, "profile_pic", 1000, &mut user_errors).flatten();
    let password = body.opt_str("password").filter(|p| !p.is_empty());
    if password.as_ref().is_some_and(|p| p.chars().count() < 8) {
        user_errors.insert(
            "password".into(),
            json!(["Ensure this field has at least 8 characters."]),
        );
    }
    let input = profile_input(&body, true, &mut profile_errors);
    let address = address_input(&body, &mut address_errors);
    if let Some(Some(phone)) = &input.phone
        && phone_taken(&mut t, phone, None).await?
    {
        profile_errors.insert(
            "phone".into(),
            json!(["Profile with this phone already exists in this organization."]),
        );
    }
    let existing: Option<(Uuid,)> = if user_errors.contains_key("email") {
        None
    } else {
        sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(&email)
            .fetch_optional(&mut *t.tx)
            .await?
    };
    let membership: Option<(Uuid, bool)> = match existing {
        Some((uid,)) => {
            sqlx::query_as("SELECT id, is_active FROM profile WHERE user_id = $1 AND org_id = $2")
                .bind(uid)
                .bind(t.org_id)
                .fetch_optional(&mut *t.tx)
                .await?
        }
        None => None,
    };
    if membership.is_some_and(|m| m.1) {
        user_errors.insert(
            "email".into(),
            json!(["User already exists in this organization."]),
        );
    }
    if !user_errors.is_empty() || !profile_errors.is_empty() || !address_errors.is_empty() {
        let mut errors = Map::new();
        if !user_errors.is_empty() {
            errors.insert("user_errors".into(), Value::Object(user_errors));
        }
        if !profile_errors.is_empty() {
            errors.insert("profile_errors".into(), Value::Object(profile_errors));
        }
        if !address_errors.is_empty() {
            errors.insert("address_errors".into(), json!([address_errors]));
        }
        return Err(envelope(StatusCode::BAD_REQUEST, Value::Object(errors)));
    }

    // An account that exists but has never been a member here is invited, not added: its owner
    // joins when they accept (auth::invitations). A past member (removed or deactivated) comes
    // back as before: they accepted once.
    if let (Some((uid,)), None) = (existing, membership) {
        let grant = invitations::Grant {
            role: input.role.clone().unwrap_or_else(|| "USER".into()),
            is_organization_admin: input.is_organization_admin.unwrap_or(false),
            has_sales_access: input.has_sales_access.unwrap_or(false),
            has_marketing_access: input.has_marketing_access.unwrap_or(false),
        };
        let invitation_id = invitations::invite(&mut t, uid, &email, &grant).await?;
        let ev = Event::new("MEMBERSHIP_INVITED", t.actor(), Some(t.org_id))
            .describe(format!("{email} invited as {}", grant.role))
            .meta(
                json!({"target_user_id": uid, "invitation_id": invitation_id, "role": grant.role}),
            );
        audit::write(&mut t.tx, &req, ev).await?;
        t.commit().await?;
        return Ok((
            StatusCode::CREATED,
            Json(
                json!({"error": false, "invited": true, "invitation_id": invitation_id,
                        "message": format!("Invitation sent: {email} joins the organization after accepting it.")}),
            ),
        ));
    }
    let user_id = match existing {
        Some((uid,)) => uid,
        None => {
            // Without a password the account signs in with Google (same e-mail) only.
            let hash = match password {
                Some(p) => service::hash_password(p).await?,
                None => format!("!{}", Uuid::new_v4().simple()),
            };
            let uid = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO users (id, password, is_superuser, email, profile_pic, is_active, is_staff)
                 VALUES ($1, $2, false, $3, $4, true, false)",
            )
            .bind(uid)
            .bind(hash)
            .bind(&email)
            .bind(&profile_pic)
            .execute(&mut *t.tx)
            .await?;
            uid
        }
    };
    let role = input.role.clone().unwrap_or_else(|| "USER".into());
    let profile_id = match membership {
        // A removed or deactivated membership comes back with the new settings.
        Some((pid, _)) => {
            sqlx::query(
                "UPDATE profile SET is_active = true, role = $3, is_organization_admin = $4, has_sales_access = $5,
                                    has_marketing_access = $6, phone = $7, alternate_phone = $8,
                                    updated_at = now(), updated_by_id = $9
                 WHERE id = $1 AND org_id = $2",
            )
            .bind(pid)
            .bind(t.org_id)
            .bind(&role)
            .bind(input.is_organization_admin.unwrap_or(false))
            .bind(input.has_sales_access.unwrap_or(false))
            .bind(input.has_marketing_access.unwrap_or(false))
            .bind(input.phone.clone().flatten())
            .bind(input.alternate_phone.clone().flatten())
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
            pid
        }
        None => {
            let pid = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO profile (created_at, updated_at, id, phone, alternate_phone, role, has_sales_access,
                                      has_marketing_access, is_active, is_organization_admin, date_of_joining,
                                      address_id, created_by_id, org_id, updated_by_id, user_id)
                 VALUES (now(), now(), $1, $2, $3, $4, $5, $6, true, $7, CURRENT_DATE, NULL, $8, $9, $8, $10)",
            )
            .bind(pid)
            .bind(input.phone.clone().flatten())
            .bind(input.alternate_phone.clone().flatten())
            .bind(&role)
            .bind(input.has_sales_access.unwrap_or(false))
            .bind(input.has_marketing_access.unwrap_or(false))
            .bind(input.is_organization_admin.unwrap_or(false))
            .bind(t.user_id)
            .bind(t.org_id)
            .bind(user_id)
            .execute(&mut *t.tx)
            .await?;
            pid
        }
    };
    if let Some(fields) = &address {
        save_address(&mut t, profile_id, fields).await?;
    }
    let ev = Event::new("MEMBERSHIP_ADDED", t.actor(), Some(t.org_id))
        .describe(format!("{email} added as {role}"))
        .meta(
            json!({"target_user_id": user_id, "profile_id": profile_id, "role": role,
                     "existing_account": existing.is_some()}),
        );
    audit::write(&mut t.tx, &req, ev).await?;
    t.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"error": false, "message": "User Created Successfully",
                    "user_id": user_id, "profile_id": profile_id}),
        ),
    ))
}

/// Whether the org may edit the account itself (login e-mail, picture): only when it was made
/// for this org (`POST /api/users/` with a new address) and belongs to no other. An account that
/// joined by invitation, or has another membership, is its owner's alone.
async fn account_is_orgs(t: &mut Tenant, user_id: Uuid) -> Result<bool, ApiError> {
    let (orgs, invited): (i64, bool) = sqlx::query_as(
        "SELECT crm_membership_count($1),
                EXISTS (SELECT 1 FROM org_invitation WHERE org_id = $2 AND user_id = $1 AND accepted_at IS NOT NULL)",
    )
    .bind(user_id)
    .bind(t.org_id)
    .fetch_one(&mut *t.tx)
    .await?;
    Ok(orgs <= 1 && !invited)
}

/// The membership a `/user/<user id>/` path names, in the caller's org.
struct Target {
    profile_id: Uuid,
    user_id: Uuid,
    email: String,
    role: String,
    is_organization_admin: bool,
    has_sales_access: bool,
    has_marketing_access: bool,
    is_active: bool,
}

impl Target {
    fn is_admin(&self) -> bool {
        self.is_active && (self.role == "ADMIN" || self.is_organization_admin)
    }
}

/// `for_change`: the caller will change a membership. Such changes are serialised per org (a
/// transaction-scoped advisory lock taken before any row lock), so the last-admin check cannot
/// race and two changes cannot deadlock on each other's rows.
async fn target(t: &mut Tenant, raw: &str, for_change: bool) -> Result<Target, ApiError> {
    let user_id = parse_id(raw)?;
    if for_change {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('crm_memberships:' || $1::text, 0))",
        )
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    }
    let row: Option<(Uuid, String, String, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT p.id, u.email, p.role, p.is_organization_admin, p.has_sales_access, p.has_marketing_access, p.is_active
         FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.user_id = $1 AND p.org_id = $2",
    )
    .bind(user_id)
    .bind(t.org_id)
    .fetch_optional(&mut *t.tx)
    .await?;
    let r = row.ok_or_else(ApiError::not_found)?;
    Ok(Target {
        profile_id: r.0,
        user_id,
        email: r.1,
        role: r.2,
        is_organization_admin: r.3,
        has_sales_access: r.4,
        has_marketing_access: r.5,
        is_active: r.6,
    })
}

/// Fails unless another active admin remains when `target` stops being one (the caller holds the
/// org's membership lock, see `target`).
async fn ensure_other_admin(t: &mut Tenant, target: &Target) -> Result<(), ApiError> {
    if !target.is_admin() {
        return Ok(());
    }
    let (others,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM profile WHERE org_id = $1 AND id <> $2 AND is_active
                          AND (role = 'ADMIN' OR is_organization_admin))",
    )
    .bind(t.org_id)
    .bind(target.profile_id)
    .fetch_one(&mut *t.tx)
    .await?;
    if others { Ok(()) } else { Err(last_admin()) }
}

#[utoipa::path(get, path = "/api/user/{id}/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "User id (not profile id)")),
    responses((status = 200, description = "`{\"error\": false, \"data\": {\"profile_obj\", \"opportunity_list\", \"contacts\", \"cases\", \"assigned_data\", \"comments\", \"countries\"}}`"),
              (status = 403), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let target = target(&mut t, &raw, false).await?;
    if !t.is_admin() && target.user_id != t.user_id {
        return Err(denied());
    }
    let profile_obj = profiles::load(&mut t.tx, t.org_id, &[target.profile_id])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    // What is assigned to the member, capped; one query.
    let (opportunity_list, contacts, cases, assigned_data, comments): (Value, Value, Value, Value, Value) = sqlx::query_as(
        "SELECT
            (SELECT COALESCE(json_agg(x), '[]') FROM (
                SELECT o.id, o.name, o.stage, o.amount::text AS amount, o.currency, o.closed_on FROM opportunity o
                JOIN opportunity_assigned_to a ON a.opportunity_id = o.id
                WHERE o.org_id = $1 AND a.profile_id = $2 ORDER BY o.created_at DESC LIMIT 100) x),
            (SELECT COALESCE(json_agg(x), '[]') FROM (
                SELECT c.id, c.first_name, c.last_name, c.email FROM contacts c
                JOIN contacts_assigned_to a ON a.contact_id = c.id
                WHERE c.org_id = $1 AND a.profile_id = $2 ORDER BY c.created_at DESC LIMIT 100) x),
            (SELECT COALESCE(json_agg(x), '[]') FROM (
                SELECT c.id, c.name, c.status, c.priority FROM \"case\" c
                JOIN case_assigned_to a ON a.case_id = c.id
                WHERE c.org_id = $1 AND a.profile_id = $2 ORDER BY c.created_at DESC LIMIT 100) x),
            (SELECT COALESCE(json_agg(x), '[]') FROM (
                SELECT p.id, u.email AS user__email FROM profile p JOIN users u ON u.id = p.user_id
                WHERE p.org_id = $1 AND p.is_active ORDER BY u.email LIMIT 1000) x),
            (SELECT COALESCE(json_agg(x), '[]') FROM (
                SELECT id, comment, commented_on, commented_by_id AS commented_by FROM comment
                WHERE org_id = $1 AND object_id = $2 ORDER BY commented_on DESC LIMIT 100) x)",
    )
    .bind(t.org_id)
    .bind(target.profile_id)
    .fetch_one(&mut *t.tx)
    .await?;
    t.commit().await?;
    let countries: Vec<[&str; 2]> = COUNTRY_CODES.iter().map(|c| [*c, *c]).collect();
    Ok(Json(json!({"error": false, "data": {
        "profile_obj": profile_obj,
        "opportunity_list": opportunity_list,
        "contacts": contacts,
        "cases": cases,
        "assigned_data": assigned_data,
        "comments": comments,
        "countries": countries,
    }})))
}

async fn update(
    mut t: Tenant,
    req: RequestInfo,
    raw: String,
    body: Map<String, Value>,
    full: bool,
) -> ApiResult<Json<Value>> {
    let target = target(&mut t, &raw, true).await?;
    let is_self = target.user_id == t.user_id;
    if !t.is_admin() && !is_self {
        return Err(denied());
    }
    let mut contact_errors = Map::new();
    let mut profile_errors = Map::new();
    let mut address_errors = Map::new();
    let email = match body.opt_str("email").map(|e| service::normalize_email(&e)) {
        None if full => {
            contact_errors.insert("email".into(), json!([REQUIRED]));
            None
        }
        None => None,
        Some(e) if !service::is_valid_email(&e) => {
            contact_errors.insert("email".into(), json!(["Enter a valid email address."]));
            None
        }
        Some(e) if e.eq_ignore_ascii_case(&target.email) => None,
        Some(e) => Some(e),
    };
    let profile_pic = opt_text(&body, "profile_pic", 1000, &mut contact_errors);
    let input = profile_input(&body, full, &mut profile_errors);
    let address = if full {
        address_input(&body, &mut address_errors)
    } else {
        None
    };
    if let Some(e) = &email {
        let (taken,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND id <> $2)",
        )
        .bind(e)
        .bind(target.user_id)
        .fetch_one(&mut *t.tx)
        .await?;
        if taken {
            contact_errors.insert(
                "email".into(),
                json!(["User with this email address already exists."]),
            );
        } else if !is_self && !account_is_orgs(&mut t, target.user_id).await? {
            contact_errors.insert(
                "email".into(),
                json!(["This user belongs to other organizations; only they can change their login e-mail."]),
            );
        }
    }
    // The picture is the account's too (shown in every org it belongs to).
    let pic_changes = match &profile_pic {
        Some(new) if !is_self => {
            let (current,): (Option<String>,) =
                sqlx::query_as("SELECT profile_pic FROM users WHERE id = $1")
                    .bind(target.user_id)
                    .fetch_one(&mut *t.tx)
                    .await?;
            *new != current
        }
        _ => false,
    };
    if pic_changes && !account_is_orgs(&mut t, target.user_id).await? {
        contact_errors.insert(
            "profile_pic".into(),
            json!([
                "This user belongs to other organizations; only they can change their picture."
            ]),
        );
    }
    if let Some(Some(phone)) = &input.phone
        && phone_taken(&mut t, phone, Some(target.profile_id)).await?
    {
        profile_errors.insert(
            "phone".into(),
            json!(["Profile with this phone already exists in this organization."]),
        );
    }
    if !contact_errors.is_empty() || !profile_errors.is_empty() || !address_errors.is_empty() {
        // PUT wraps profile and address errors in a list, PATCH does not (upstream's shapes).
        let mut out = Map::new();
        if !contact_errors.is_empty() {
            out.insert("contact_errors".into(), Value::Object(contact_errors));
        }
        if !address_errors.is_empty() {
            out.insert("address_errors".into(), json!([address_errors]));
        }
        if !profile_errors.is_empty() {
            let v = Value::Object(profile_errors);
            out.insert("profile_errors".into(), if full { json!([v]) } else { v });
        }
        out.insert("error".into(), json!(true));
        return Err(ApiError::new(StatusCode::BAD_REQUEST, Value::Object(out)));
    }

    let role = input.role.clone().unwrap_or_else(|| target.role.clone());
    let org_admin = input
        .is_organization_admin
        .unwrap_or(target.is_organization_admin);
    let sales = input.has_sales_access.unwrap_or(target.has_sales_access);
    let marketing = input
        .has_marketing_access
        .unwrap_or(target.has_marketing_access);
    let permissions_change = role != target.role
        || org_admin != target.is_organization_admin
        || sales != target.has_sales_access
        || marketing != target.has_marketing_access;
    if permissions_change && !t.is_admin() {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You cannot change your own role or permissions."),
        ));
    }
    if role != "ADMIN" && !org_admin {
        ensure_other_admin(&mut t, &target).await?;
    }
    if let Some(e) = &email {
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(target.user_id)
            .bind(e)
            .execute(&mut *t.tx)
            .await?;
        // The caller's own role may have changed while waiting: decide with the current one.
        let me: Option<(String, bool)> = sqlx::query_as(
            "SELECT role, is_organization_admin FROM profile WHERE id = $1 AND org_id = $2 AND is_active",
        )
        .bind(t.profile_id)
        .bind(t.org_id)
        .fetch_optional(&mut *t.tx)
        .await?;
        let (role, org_admin) = me.ok_or_else(denied)?;
        t.role = role;
        t.is_organization_admin = org_admin;
    }
    if let Some(pic) = profile_pic {
        sqlx::query("UPDATE users SET profile_pic = $2 WHERE id = $1")
            .bind(target.user_id)
            .bind(pic)
            .execute(&mut *t.tx)
            .await?;
    }
    sqlx::query(
        "UPDATE profile SET role = $3, is_organization_admin = $4, has_sales_access = $5, has_marketing_access = $6,
                            phone = CASE WHEN $7 THEN $8 ELSE phone END,
                            alternate_phone = CASE WHEN $9 THEN $10 ELSE alternate_phone END,
                            updated_at = now(), updated_by_id = $11
         WHERE id = $1 AND org_id = $2",
    )
    .bind(target.profile_id)
    .bind(t.org_id)
    .bind(&role)
    .bind(org_admin)
    .bind(sales)
    .bind(marketing)
    .bind(input.phone.is_some())
    .bind(input.phone.clone().flatten())
    .bind(input.alternate_phone.is_some())
    .bind(input.alternate_phone.clone().flatten())
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    if let Some(fields) = &address {
        save_address(&mut t, target.profile_id, fields).await?;
    }
    if role != target.role || org_admin != target.is_organization_admin {
        let ev = Event::new("ROLE_CHANGED", t.actor(), Some(t.org_id))
            .describe(format!(
                "{} changed from {} to {}",
                target.email, target.role, role
            ))
            .meta(
                json!({"target_user_id": target.user_id, "from_role": target.role, "to_role": role,
                         "from_is_organization_admin": target.is_organization_admin,
                         "to_is_organization_admin": org_admin}),
            );
        audit::write(&mut t.tx, &req, ev).await?;
    }
    if let Some(e) = &email {
        let ev = Event::new("EMAIL_CHANGED", t.actor(), Some(t.org_id))
            .describe(format!("Login e-mail changed from {} to {e}", target.email))
            .meta(json!({"target_user_id": target.user_id, "from": target.email, "to": e}));
        audit::write(&mut t.tx, &req, ev).await?;
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "User Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/user/{id}/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserBody,
    responses((status = 200, description = "`{\"error\": false, \"message\": \"User Updated Successfully\"}`"),
              (status = 400, description = "`{\"contact_errors\", \"address_errors\": [..], \"profile_errors\": [..], \"error\": true}` or `{\"error\": true, \"errors\": \"The organization must have at least one admin.\"}`"),
              (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    req: RequestInfo,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, req, raw, body, true).await
}

#[utoipa::path(patch, path = "/api/user/{id}/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body(content = UserBody, description = "Any of these"),
    responses((status = 200, description = "`{\"error\": false, \"message\": \"User Updated Successfully\"}`"),
              (status = 400), (status = 403, description = "Not an admin, or a member changing their own role"), (status = 404)))]
pub async fn patch(
    t: Tenant,
    req: RequestInfo,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, req, raw, body, false).await
}

/// Removes the member from the org: the membership is deactivated and unlinked from every team,
/// assignment and share, and their tokens are revoked. Their history (comments, activity) stays.
#[utoipa::path(delete, path = "/api/user/{id}/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "`{\"status\": \"success\"}`"), (status = 400, description = "Last admin"),
              (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn delete(
    mut t: Tenant,
    req: RequestInfo,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let target = target(&mut t, &raw, true).await?;
    if !t.is_admin() || target.user_id == t.user_id {
        return Err(denied());
    }
    ensure_other_admin(&mut t, &target).await?;
    sqlx::query("SELECT crm_unlink('profile', $1)")
        .bind(target.profile_id)
        .execute(&mut *t.tx)
        .await?;
    sqlx::query("UPDATE profile SET is_active = false, updated_at = now(), updated_by_id = $3 WHERE id = $1 AND org_id = $2")
        .bind(target.profile_id)
        .bind(t.org_id)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
    service::revoke_org_tokens(&mut t.tx, target.user_id, t.org_id).await?;
    let ev = Event::new("MEMBERSHIP_REVOKED", t.actor(), Some(t.org_id))
        .describe(format!(
            "Membership of {} revoked by {}",
            target.email, t.email
        ))
        .meta(json!({"target_user_id": target.user_id, "revoked_by": t.email}));
    audit::write(&mut t.tx, &req, ev).await?;
    t.commit().await?;
    Ok(Json(json!({"status": "success"})))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    pub active_profiles: Vec<ProfileObj>,
    pub inactive_profiles: Vec<ProfileObj>,
}

/// Body of `POST /api/user/<id>/status/`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct UserStatus {
    #[schema(example = "Inactive")]
    pub status: String,
}

/// `{"status": "Active" | "Inactive"}`. Deactivation revokes the member's tokens at once.
#[utoipa::path(post, path = "/api/user/{id}/status/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserStatus,
    responses((status = 200, body = StatusResponse),
              (status = 400, description = "`{\"error\": true, \"errors\": \"Please enter Valid Status for user\"}` or last admin"),
              (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn set_status(
    mut t: Tenant,
    req: RequestInfo,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<StatusResponse>> {
    let target = target(&mut t, &raw, true).await?;
    if !t.is_admin() {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You do not have permission to perform this action"),
        ));
    }
    let wanted = match body.opt_str("status").unwrap_or_default().as_str() {
        "" => None,
        "Active" => Some(true),
        "Inactive" => Some(false),
        _ => {
            return Err(envelope(
                StatusCode::BAD_REQUEST,
                json!("Please enter Valid Status for user"),
            ));
        }
    };
    if let Some(active) = wanted.filter(|a| *a != target.is_active) {
        if !active {
            ensure_other_admin(&mut t, &target).await?;
            service::revoke_org_tokens(&mut t.tx, target.user_id, t.org_id).await?;
        }
        sqlx::query("UPDATE profile SET is_active = $3, updated_at = now(), updated_by_id = $4 WHERE id = $1 AND org_id = $2")
            .bind(target.profile_id)
            .bind(t.org_id)
            .bind(active)
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
        let status = if active { "Active" } else { "Inactive" };
        let ev = Event::new("STATUS_CHANGED", t.actor(), Some(t.org_id))
            .describe(format!("{} set to {status}", target.email))
            .meta(json!({"target_user_id": target.user_id, "is_active": active}));
        audit::write(&mut t.tx, &req, ev).await?;
    }
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM profile WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 2000",
    )
    .bind(t.org_id)
    .fetch_all(&mut *t.tx)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
    let objs = load_ordered(&mut t.tx, t.org_id, &ids).await?;
    t.commit().await?;
    let (active_profiles, inactive_profiles) = objs.into_iter().partition(|p| p.is_active);
    Ok(Json(StatusResponse {
        active_profiles,
        inactive_profiles,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamsAndUsers {
    pub teams: Vec<TeamObj>,
    pub profiles: Vec<ProfileObj>,
}

/// Pickers: the org's teams and its active members (by e-mail). Any member.
#[utoipa::path(get, path = "/api/users/get-teams-and-users/", tag = "users", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = TeamsAndUsers)))]
pub async fn teams_and_users(mut t: Tenant) -> ApiResult<Json<TeamsAndUsers>> {
    let teams = teams::all(&mut t.tx, t.org_id).await?;
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT p.id FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND p.is_active ORDER BY u.email LIMIT 2000",
    )
    .bind(t.org_id)
    .fetch_all(&mut *t.tx)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
    let profiles = load_ordered(&mut t.tx, t.org_id, &ids).await?;
    t.commit().await?;
    Ok(Json(TeamsAndUsers { teams, profiles }))
}
