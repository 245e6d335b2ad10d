//! `/api/leads/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, LEAD_SOURCE, LEAD_STATUS, LeadInput, Val, lead_errors};
use super::model::{self, Viewer};
use super::service;
use crate::auth::ClientIp;
use crate::auth::ratelimit::window_hit;
use crate::common::activity::{self, Action};
use crate::common::choices::{COUNTRIES, INDUSTRIES, pairs_json};
use crate::common::comments;
use crate::common::relations::{self, Kind, Rel, Unique};
use crate::db::Tenant;
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::list::{CacheSlot, Cached, json_bytes, with_tail};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;
use crate::storage::FormData;

fn viewer(t: &Tenant) -> Viewer {
    Viewer::of(t)
}

fn envelope(status: StatusCode, errors: &str) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        "You do not have Permission to perform this action",
    )
}

fn json_pairs(pairs: &[(&str, &str)]) -> String {
    pairs_json(pairs).to_string()
}

/// `,"status":...,"source":...,"countries":...,"industries":...}` (list page).
fn list_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        let industries: Vec<(&str, &str)> = INDUSTRIES.iter().map(|i| (*i, *i)).collect();
        format!(
            ",\"status\":{},\"source\":{},\"countries\":{},\"industries\":{}}}",
            json_pairs(LEAD_STATUS),
            json_pairs(LEAD_SOURCE),
            json_pairs(COUNTRIES),
            json_pairs(&industries)
        )
    })
}

/// `,"source":...,"status":...,"countries":...}` (detail page).
fn detail_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        format!(
            ",\"source\":{},\"status\":{},\"countries\":{}}}",
            json_pairs(LEAD_SOURCE),
            json_pairs(LEAD_STATUS),
            json_pairs(COUNTRIES)
        )
    })
}

/// Open leads (not closed) and closed leads of the caller's visibility, each paginated with
/// `limit`/`offset`, plus the lookup lists the frontend's forms read. Converted leads are hidden.
#[utoipa::path(get, path = "/api/leads/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "first/last/company name, e-mail or title contains"),
        ("name" = Option<String>, Query), ("salutation" = Option<String>, Query), ("city" = Option<String>, Query),
        ("email" = Option<String>, Query), ("source" = Option<String>, Query), ("status" = Option<String>, Query),
        ("rating" = Option<String>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("close_date__gte" = Option<String>, Query), ("close_date__lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "e.g. `-created_at`, `first_name`; comma-separated"),
    ),
    responses((status = 200, body = dto::LeadListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let (mut t, slot) = match CacheSlot::lookup("leads", &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let v = viewer(&t);
    let body = model::list_json(&mut t.tx, &v, &q, page).await?;
    slot.fill(&state.cache, t, body, list_tail()).await
}

#[utoipa::path(get, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::LeadDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let v = viewer(&t);
    let (allowed, body) = model::detail_json(
        &mut t.tx,
        &v,
        id,
        &crate::http::base_url::current(&state.cfg),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    match (allowed, body) {
        (true, Some(body)) => Ok(json_bytes(with_tail(body, detail_tail()))),
        _ => Err(no_permission()),
    }
}

/// Upstream's detail form: `POST /api/leads/<id>/` with a `comment` and/or a `lead_attachment`
/// file (multipart or JSON); answers with the lead's detail, like GET.
#[utoipa::path(post, path = "/api/leads/{id}/", tag = "leads", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::LeadDetailForm, description = "`comment` and/or a `lead_attachment` file"),
    responses((status = 200, description = "The lead detail, as GET"), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &comments::LEADS, id, form).await?;
    let v = viewer(&t);
    let (allowed, body) = model::detail_json(
        &mut t.tx,
        &v,
        id,
        &crate::http::base_url::current(&state.cfg),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    match (allowed, body) {
        (true, Some(body)) => Ok(json_bytes(with_tail(body, detail_tail()))),
        _ => Err(no_permission()),
    }
}

/// Checks the relation ids and the e-mail against the org (a member's user id in `assigned_to`
/// becomes their profile id); adds field errors.
async fn check(
    tx: &mut Tx,
    org: Uuid,
    input: &mut LeadInput,
    lead: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let email = input.text("email").map(str::to_string);
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
    ];
    let unique = Unique {
        field: "email",
        table: "lead",
        column: "email",
        value: email.as_deref(),
        except: lead,
        message: "Lead with this email already exists in this organization.",
    };
    relations::check(tx, org, &mut rels, Some(unique), errors).await
}

fn relation_lists(input: &LeadInput) -> [(&'static str, &'static str, Option<&[Uuid]>); 4] {
    [
        (
            "lead_assigned_to",
            "profile_id",
            input.assigned_to.as_deref(),
        ),
        ("lead_teams", "teams_id", input.teams.as_deref()),
        ("lead_tags", "tags_id", input.tags.as_deref()),
        ("lead_contacts", "contact_id", input.contacts.as_deref()),
    ]
}

async fn notify_assigned(
    tx: &mut Tx,
    org: Uuid,
    to: Vec<String>,
    lead: Uuid,
    name: &str,
    by: &str,
) -> Result<(), ApiError> {
    relations::notify_assigned(
        tx,
        org,
        to,
        "Lead",
        &comments::LEADS.page_path(lead),
        name,
        by,
    )
    .await
}

/// Any member may create. `status: "converted"` creates and converts in one transaction.
#[utoipa::path(post, path = "/api/leads/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::LeadBody,
    responses((status = 200, body = dto::LeadCreated, description = "or LeadConverted when `status` is `converted`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, &mut errors);
    if input.text("status") == Some("converted") && !body.contains_key("email") {
        errors.add("email", "This field is required.");
    }
    check(&mut t.tx, t.org_id, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(lead_errors(errors));
    }
    let converting = input.take_conversion();
    let id = Uuid::new_v4();
    let name = model::insert(&mut t.tx, t.org_id, Some(t.user_id), id, &input.fields).await?;
    let assigned =
        model::sync_relations(&mut t.tx, id, t.profile_id, relation_lists(&input)).await?;
    activity::record(&mut t, Action::Create, "Lead", id, &name).await?;
    notify_assigned(&mut t.tx, t.org_id, assigned, id, &name, &t.email.clone()).await?;
    let out = if converting {
        service::convert(&mut t, id).await?.body()
    } else {
        json!({"error": false, "message": "Lead Created Successfully", "id": id})
    };
    t.commit().await?;
    Ok(Json(out))
}

/// PUT and PATCH: same permission (admin, creator, assignee directly or through a team).
/// PUT replaces every relation list (an absent list is emptied); PATCH only those present.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let v = viewer(&t);
    let current = model::lock(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, &mut errors);
    if !partial {
        for list in [
            &mut input.assigned_to,
            &mut input.teams,
            &mut input.tags,
            &mut input.contacts,
        ] {
            list.get_or_insert_with(Vec::new);
        }
        if input.text("status") == Some("converted") && !body.contains_key("email") {
            errors.add("email", "This field is required.");
        }
    }
    check(&mut t.tx, t.org_id, &mut input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(lead_errors(errors));
    }
    // The frontend converts with PATCH {"status": "converted"}; upstream also takes `is_converted`.
    let is_converted = partial
        && body.get("is_converted").is_some_and(|v| {
            !matches!(v, Value::Null | Value::Bool(false)) && v != "" && v != "false"
        });
    let converting = input.take_conversion() || is_converted;
    if converting && current.status.as_deref() == Some("converted") {
        let mut e = FieldErrors::new();
        e.add("status", "This lead has already been converted.");
        return Err(lead_errors(e));
    }
    let name = model::update(&mut t.tx, t.org_id, t.user_id, id, &input.fields).await?;
    let assigned =
        model::sync_relations(&mut t.tx, id, t.profile_id, relation_lists(&input)).await?;
    activity::record(&mut t, Action::Update, "Lead", id, &name).await?;
    notify_assigned(&mut t.tx, t.org_id, assigned, id, &name, &t.email.clone()).await?;
    let out = if converting {
        service::convert(&mut t, id).await?.body()
    } else {
        json!({"error": false, "message": "Lead updated Successfully"})
    };
    t.commit().await?;
    Ok(Json(out))
}

#[utoipa::path(put, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::LeadBody,
    responses((status = 200, body = dto::MessageResponse), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update; `{"status": "converted"}` converts the lead (account, contact, opportunity).
#[utoipa::path(patch, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::LeadBody, description = "Any of these"),
    responses((status = 200, body = dto::MessageResponse, description = "or LeadConverted"), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the lead's creator.
#[utoipa::path(delete, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::MessageResponse), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let v = viewer(&t);
    let current = model::lock(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            "you don't have permission to delete this lead",
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &comments::LEADS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Lead", id, &name).await?;
    t.commit().await?;
    // Stored files go only once the rows are gone for good.
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Lead deleted Successfully"}),
    ))
}

// ---- CSV/XLSX import and CSV export: see `upload` and `export` ----

pub use super::export::{__path_export, export};
pub use super::upload::{
    __path_status as __path_upload_status, __path_upload, status as upload_status, upload,
};

// ---- Web-to-lead ----

/// Requests per minute from one address (any key), and per address and key.
const SITE_PER_IP: u32 = 60;
const SITE_PER_KEY_AND_IP: u32 = 20;

fn site_denied() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        json!({"error": true, "message": "You don't have permission, please contact the admin!."}),
    )
}

/// Public web-form capture: authenticated by an API-settings key (`apikey` in the body), not by
/// a user. Creates an `assigned` lead with source `website`, assigned to and tagged as the API
/// setting says, and e-mails the assignees.
#[utoipa::path(post, path = "/api/leads/create-from-site/", tag = "leads",
    request_body = dto::WebToLead,
    responses((status = 200, body = dto::MessageResponse), (status = 400, description = "`{\"error\": true, \"message\": \"Invalid data\", \"errors\": {...}}`"),
              (status = 403), (status = 429)))]
pub async fn create_from_site(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let ip = ip.unwrap_or_else(|| "unknown".into());
    let minute = Duration::from_secs(60);
    if let Some(wait) =
        window_hit(&state.pool, &format!("site-ip:{ip}"), SITE_PER_IP, minute).await?
    {
        return Err(ApiError::too_many(wait, "Request was throttled."));
    }
    let key = body
        .opt_str("apikey")
        .unwrap_or_default()
        .trim()
        .to_string();
    if key.is_empty() || key.len() > 64 {
        return Err(site_denied());
    }
    let mut tx = tenant::begin(&state.pool, None, None).await?;
    sqlx::query("SELECT set_config('app.api_settings_key', $1, true)")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    let setting: Option<(Uuid, Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT id, org_id, created_by_id FROM \"apiSettings\" WHERE apikey = $1 LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((setting_id, org_id, creator)) = setting else {
        return Err(site_denied());
    };
    let key = format!("site-key:{setting_id}:{ip}");
    if let Some(wait) = window_hit(&state.pool, &key, SITE_PER_KEY_AND_IP, minute).await? {
        return Err(ApiError::too_many(wait, "Request was throttled."));
    }
    sqlx::query("SELECT set_config('app.current_org', $1, true), set_config('app.api_settings_key', '', true)")
        .bind(org_id.to_string())
        .execute(&mut *tx)
        .await?;

    // The form's fields mapped onto lead columns, validated like any lead.
    let mut form = Map::new();
    for (from, to) in [
        ("email", "email"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("title", "salutation"),
        ("phone", "phone"),
        ("message", "description"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            form.insert(to.into(), v.clone());
        }
    }
    let mut errors = FieldErrors::new();
    if form
        .get("email")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
    {
        errors.add("email", "This field is required.");
    }
    let mut input = dto::validate(&form, &mut errors);
    input
        .fields
        .push(("status", Val::Text(Some("assigned".into()))));
    input
        .fields
        .push(("source", Val::Text(Some("website".into()))));
    let (assignees, tags): (Vec<Uuid>, Vec<Uuid>) = sqlx::query_as(
        "SELECT ARRAY(SELECT a.profile_id FROM \"apiSettings_lead_assigned_to\" a JOIN profile p ON p.id = a.profile_id
                      WHERE a.apisettings_id = $1 AND p.org_id = $2 AND p.is_active),
                ARRAY(SELECT x.tags_id FROM \"apiSettings_tags\" x JOIN tags t ON t.id = x.tags_id
                      WHERE x.apisettings_id = $1 AND t.org_id = $2)",
    )
    .bind(setting_id)
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    input.assigned_to = Some(assignees);
    input.tags = Some(tags);
    check(&mut tx, org_id, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"error": true, "message": "Invalid data", "errors": errors.to_value()}),
        ));
    }
    let id = Uuid::new_v4();
    let name = model::insert(&mut tx, org_id, creator, id, &input.fields).await?;
    let assigned = model::sync_relations(&mut tx, id, Uuid::nil(), relation_lists(&input)).await?;
    notify_assigned(&mut tx, org_id, assigned, id, &name, "web form").await?;
    tx.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Lead Created sucessfully."}),
    ))
}
