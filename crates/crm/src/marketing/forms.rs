//! Public contact forms: an org publishes a form under a random key; anyone may post to
//! `/api/marketing/forms/<key>/` without logging in. A submission is stored in
//! `contact_form_submission` (optionally as a lead too) and e-mailed to the org's admins;
//! admins (and members with marketing access) list and answer them.
//!
//! The public request knows only the key: its transaction sets `app.form_key`, which the
//! `public_form_key` policy turns into "this one active form", learns the org from it, and only
//! then takes that org's RLS context to write.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::email::is_valid_email;
use crate::common::audit::RequestInfo;
use crate::db::Tenant;
use crate::db::sql::Val;
use crate::db::tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::{self, Kind, invalid};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;
use crate::jobs::{self, Job};
use crate::mail::templates::context;
use crate::state::AppState;

/// Submissions one client address may make to one org within `RATE_WINDOW`.
pub const RATE_MAX: i64 = 5;
pub const RATE_WINDOW_SECS: i64 = 600;
/// The spam trap: a field people never see (hidden by the form's CSS) and bots fill in.
pub const HONEYPOT: &str = "website";

const STATUSES: &[&str] = &["new", "read", "replied", "spam", "closed"];

fn json_text(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Admins, or members with marketing access.
async fn require_marketing(t: &mut Tenant) -> Result<(), ApiError> {
    if t.is_admin() {
        return Ok(());
    }
    let ok: Option<bool> =
        sqlx::query_scalar("SELECT has_marketing_access FROM profile WHERE id = $1")
            .bind(t.profile_id)
            .fetch_optional(&mut *t.tx)
            .await?;
    if ok == Some(true) {
        Ok(())
    } else {
        Err(ApiError::permission_denied())
    }
}

const FORM_OBJ: &str =
    "json_build_object('id', f.id, 'key', f.key, 'name', f.name, 'is_active', f.is_active,
    'create_lead', f.create_lead, 'url', '/api/marketing/forms/' || f.key || '/',
    'submissions', (SELECT count(*) FROM contact_form_submission s WHERE s.form_id = f.id),
    'created_at', f.created_at, 'updated_at', f.updated_at)";

#[derive(Debug, Serialize, ToSchema)]
pub struct FormObj {
    pub id: Uuid,
    /// The public key (in `url`).
    pub key: String,
    pub name: String,
    pub is_active: bool,
    pub create_lead: bool,
    /// Where the public posts: `/api/marketing/forms/<key>/`.
    pub url: String,
    pub submissions: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormListResponse {
    pub count: i64,
    pub results: Vec<FormObj>,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct FormBody {
    pub name: String,
    pub is_active: Option<bool>,
    /// Also create a lead from each submission.
    pub create_lead: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormSaved {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketingMessage {
    pub error: bool,
    pub message: String,
}

/// The org's forms, newest first.
#[utoipa::path(get, path = "/api/marketing/forms/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = FormListResponse), (status = 403)))]
pub async fn list_forms(mut t: Tenant, page: Page) -> ApiResult<Response> {
    require_marketing(&mut t).await?;
    let q = format!(
        "SELECT json_build_object('count', (SELECT count(*) FROM contact_form f WHERE f.org_id = $1),
             'results', coalesce((SELECT json_agg(x.o ORDER BY x.created_at DESC, x.id DESC) FROM (
                 SELECT {FORM_OBJ} AS o, f.created_at, f.id FROM contact_form f WHERE f.org_id = $1
                 ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3) x), '[]'::json))::text"
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(t.org_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_one(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(json_text(body))
}

const FORM_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("is_active", Kind::Bool),
    ("create_lead", Kind::Bool),
];

/// A form body's `name`, `is_active`, `create_lead` (each when present).
type FormInput = (Option<String>, Option<bool>, Option<bool>);

fn form_input(body: &Map<String, Value>, partial: bool) -> Result<FormInput, ApiError> {
    let mut errors = FieldErrors::new();
    if !partial && !body.contains_key("name") {
        errors.add("name", "This field is required.");
    }
    let vals = fields::validate(body, FORM_FIELDS, &mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let b = |k: &str| {
        vals.iter().find_map(|(c, v)| match v {
            Val::Bool(b) if *c == k => Some(*b),
            _ => None,
        })
    };
    Ok((
        fields::text(&vals, "name").map(str::to_string),
        b("is_active"),
        b("create_lead"),
    ))
}

/// 32 hex characters (122 random bits).
fn new_key() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Publishes a form (admins).
#[utoipa::path(post, path = "/api/marketing/forms/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    request_body = FormBody,
    responses((status = 200, body = FormSaved), (status = 400), (status = 403)))]
pub async fn create_form(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let (name, active, lead) = form_input(&body, false)?;
    let id = Uuid::new_v4();
    let key = new_key();
    sqlx::query(
        "INSERT INTO contact_form (id, org_id, key, name, is_active, create_lead, created_by_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(&key)
    .bind(name.unwrap_or_default())
    .bind(active.unwrap_or(true))
    .bind(lead.unwrap_or(false))
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Form created", "id": id, "key": key}),
    ))
}

/// The form named by `key` (its key or its id) in the caller's org.
async fn find_form(t: &mut Tenant, key: &str) -> Result<String, ApiError> {
    let q = format!(
        "SELECT {FORM_OBJ}::text FROM contact_form f
         WHERE f.org_id = $1 AND (f.key = $2 OR f.id::text = lower($2))"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(t.org_id)
        .bind(key)
        .fetch_optional(&mut *t.tx)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/api/marketing/forms/{key}/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("key" = String, Path, description = "the form's key or id")),
    responses((status = 200, body = FormObj), (status = 403), (status = 404)))]
pub async fn form_detail(mut t: Tenant, Path(key): Path<String>) -> ApiResult<Response> {
    require_marketing(&mut t).await?;
    let obj = find_form(&mut t, &key).await?;
    t.commit().await?;
    Ok(json_text(obj))
}

/// Renames, (de)activates, or switches lead creation (admins).
#[utoipa::path(patch, path = "/api/marketing/forms/{key}/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("key" = String, Path, description = "the form's key or id")),
    request_body(content = FormBody, description = "Any of these"),
    responses((status = 200, body = MarketingMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn form_patch(
    mut t: Tenant,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let (name, active, lead) = form_input(&body, true)?;
    let r = sqlx::query(
        "UPDATE contact_form SET name = coalesce($3, name), is_active = coalesce($4, is_active),
                create_lead = coalesce($5, create_lead), updated_at = now()
         WHERE org_id = $1 AND (key = $2 OR id::text = lower($2))",
    )
    .bind(t.org_id)
    .bind(&key)
    .bind(name)
    .bind(active)
    .bind(lead)
    .execute(&mut *t.tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Form updated"})))
}

/// Removes the form (admins); its submissions stay.
#[utoipa::path(delete, path = "/api/marketing/forms/{key}/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("key" = String, Path, description = "the form's key or id")),
    responses((status = 200, body = MarketingMessage), (status = 403), (status = 404)))]
pub async fn form_delete(mut t: Tenant, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let r = sqlx::query(
        "DELETE FROM contact_form WHERE org_id = $1 AND (key = $2 OR id::text = lower($2))",
    )
    .bind(t.org_id)
    .bind(&key)
    .execute(&mut *t.tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Form deleted"})))
}

/// What the public posts.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SubmissionBody {
    pub name: String,
    pub email: String,
    pub message: String,
    /// Default `general`.
    pub reason: Option<String>,
    /// The honeypot: leave empty (a filled one is accepted and dropped).
    pub website: Option<String>,
}

const SUBMIT_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("email", Kind::Email),
    ("message", Kind::Required(5000)),
    ("reason", Kind::Text(100)),
];

/// Public, no login: stores a submission to the form `key` (404 when unknown or inactive),
/// at most `RATE_MAX` per client address and org in ten minutes (429), and e-mails the org's
/// admins. A filled honeypot is answered like a success and stored nowhere.
#[utoipa::path(post, path = "/api/marketing/forms/{key}/", tag = "marketing",
    params(("key" = String, Path, description = "the form's public key")),
    request_body = SubmissionBody,
    responses((status = 200, body = MarketingMessage), (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"),
              (status = 404), (status = 429)))]
pub async fn submit(
    State(state): State<AppState>,
    Path(key): Path<String>,
    req: RequestInfo,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let thanks = Json(json!({"error": false, "message": "Thank you: your message was received."}));
    let mut errors = FieldErrors::new();
    for k in ["name", "email", "message"] {
        if !body.contains_key(k) {
            errors.add(k, "This field is required.");
        }
    }
    let vals = fields::validate(&body, SUBMIT_FIELDS, &mut errors);
    let email = fields::text(&vals, "email").unwrap_or_default().to_string();
    if body.contains_key("email") && !errors.has("email") && !is_valid_email(&email) {
        errors.add("email", "Enter a valid email address.");
    }
    let mut tx = tenant::begin(&state.pool, None, None).await?;
    // Its own statement: the policy reads the setting when the next statement starts.
    sqlx::query("SELECT set_config('app.form_key', $1, true)")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    let form: Option<(Uuid, Uuid, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT f.id, f.org_id, f.name, f.create_lead, o.name
         FROM contact_form f JOIN organization o ON o.id = f.org_id
         WHERE f.key = $1 AND f.is_active",
    )
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((form_id, org, form_name, create_lead, org_name)) = form else {
        return Err(ApiError::not_found());
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let trap = body
        .get(HONEYPOT)
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
    if trap {
        return Ok(thanks);
    }
    sqlx::query(
        "SELECT set_config('app.current_org', $1, true), set_config('app.form_key', '', true)",
    )
    .bind(org.to_string())
    .execute(&mut *tx)
    .await?;
    let ip = req
        .ip
        .clone()
        .filter(|i| i.parse::<std::net::IpAddr>().is_ok());
    let recent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contact_form_submission
         WHERE org_id = $1 AND ip_address IS NOT DISTINCT FROM $2::inet
           AND created_at > now() - make_interval(secs => $3)",
    )
    .bind(org)
    .bind(&ip)
    .bind(RATE_WINDOW_SECS as f64)
    .fetch_one(&mut *tx)
    .await?;
    if recent >= RATE_MAX {
        return Err(ApiError::too_many(
            60,
            "Too many messages from your address: try again later.",
        ));
    }
    let name = fields::text(&vals, "name").unwrap_or_default().to_string();
    let message = fields::text(&vals, "message")
        .unwrap_or_default()
        .to_string();
    let reason = fields::text(&vals, "reason")
        .filter(|r| !r.is_empty())
        .unwrap_or("general")
        .to_string();
    let referrer: Option<String> = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(500).collect());
    let lead_id = create_lead.then(Uuid::new_v4);
    if let Some(lead) = lead_id {
        let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
        sqlx::query(
            "INSERT INTO lead (created_at, updated_at, id, org_id, first_name, last_name, email, description,
                               source, is_active)
             VALUES (now(), now(), $1, $2, $3, $4, $5, $6, 'Website', true)",
        )
        .bind(lead)
        .bind(org)
        .bind(first)
        .bind(last.trim())
        .bind(&email)
        .bind(&message)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO contact_form_submission (created_at, updated_at, id, name, email, message, reason, ip_address,
                                              user_agent, referrer, status, org_id, form_id, lead_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, $6::inet, $7, $8, 'new', $9, $10, $11)",
    )
    .bind(Uuid::new_v4())
    .bind(&name)
    .bind(&email)
    .bind(&message)
    .bind(&reason)
    .bind(&ip)
    .bind(&req.user_agent)
    .bind(referrer)
    .bind(org)
    .bind(form_id)
    .bind(lead_id)
    .execute(&mut *tx)
    .await?;
    let admins: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND p.is_active AND u.is_active
           AND (p.role = 'ADMIN' OR p.is_organization_admin)
         ORDER BY u.email",
    )
    .bind(org)
    .fetch_all(&mut *tx)
    .await?;
    let ctx = context::form_submission(
        &name,
        &email,
        &message,
        &form_name,
        org_name.as_deref().unwrap_or_default(),
    );
    for to in admins {
        let job = Job::Email {
            template: "form_submission".into(),
            to,
            context: ctx.clone(),
        };
        jobs::enqueue(&mut tx, Some(org), job).await?;
    }
    tenant::commit(tx).await?;
    let _ = StatusCode::OK;
    Ok(thanks)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionObj {
    pub id: Uuid,
    pub form: Option<Uuid>,
    pub name: String,
    pub email: String,
    pub message: String,
    pub reason: String,
    /// `new`, `read`, `replied`, `spam` or `closed`.
    pub status: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// The lead made from it (forms with `create_lead`).
    pub lead: Option<Uuid>,
    pub replied_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionListResponse {
    pub count: i64,
    pub results: Vec<SubmissionObj>,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SubmissionPatch {
    /// `new`, `read`, `replied` (stamps `replied_at`), `spam` or `closed`.
    pub status: String,
}

/// Submissions, newest first; `form` (key or id) and `status` filter.
#[utoipa::path(get, path = "/api/marketing/submissions/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("form" = Option<String>, Query, description = "a form's key or id"), ("status" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = SubmissionListResponse), (status = 400), (status = 403)))]
pub async fn list_submissions(mut t: Tenant, q: RawQuery, page: Page) -> ApiResult<Response> {
    require_marketing(&mut t).await?;
    let status = q.get("status").map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::field(
            "status",
            format!("\"{s}\" is not a valid choice."),
        ));
    }
    let form = q.get("form").map(str::trim).filter(|s| !s.is_empty());
    let w = "s.org_id = $1 AND ($2::text IS NULL OR s.status = $2)
             AND ($3::text IS NULL OR s.form_id IN (SELECT f.id FROM contact_form f
                                                   WHERE f.org_id = $1 AND (f.key = $3 OR f.id::text = lower($3))))";
    let q = format!(
        "SELECT json_build_object('count', (SELECT count(*) FROM contact_form_submission s WHERE {w}),
             'results', coalesce((SELECT json_agg(x.o ORDER BY x.created_at DESC, x.id DESC) FROM (
                 SELECT json_build_object('id', s.id, 'form', s.form_id, 'name', s.name, 'email', s.email,
                            'message', s.message, 'reason', s.reason, 'status', s.status,
                            'ip_address', host(s.ip_address), 'user_agent', s.user_agent, 'referrer', s.referrer,
                            'lead', s.lead_id, 'replied_at', s.replied_at, 'created_at', s.created_at) AS o,
                        s.created_at, s.id
                 FROM contact_form_submission s WHERE {w}
                 ORDER BY s.created_at DESC, s.id DESC LIMIT $4 OFFSET $5) x), '[]'::json))::text"
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(t.org_id)
        .bind(status)
        .bind(form)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_one(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(json_text(body))
}

/// Marks a submission read, replied, spam or closed (admins and marketing members).
#[utoipa::path(patch, path = "/api/marketing/submissions/{id}/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = SubmissionPatch,
    responses((status = 200, body = MarketingMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch_submission(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let id = crate::http::parse_id(&id)?;
    require_marketing(&mut t).await?;
    let status = match body.get("status").and_then(Value::as_str) {
        Some(s) if STATUSES.contains(&s) => s.to_string(),
        Some(s) => {
            return Err(invalid_one(
                "status",
                format!("\"{s}\" is not a valid choice."),
            ));
        }
        None => return Err(invalid_one("status", "This field is required.".into())),
    };
    let r = sqlx::query(
        "UPDATE contact_form_submission SET status = $3, updated_at = now(), updated_by_id = $4,
                replied_at = CASE WHEN $3 = 'replied' THEN now() ELSE replied_at END,
                replied_by_id = CASE WHEN $3 = 'replied' THEN $4 ELSE replied_by_id END
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(&status)
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Submission updated"}),
    ))
}

fn invalid_one(field: &str, msg: String) -> ApiError {
    let mut e = FieldErrors::new();
    e.add(field, msg);
    invalid(e)
}
