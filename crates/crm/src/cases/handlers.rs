//! `/api/cases/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx;
//! the detail view works for every member who may see the case; closing stamps `resolved_at`
//! (and `closed_on` when the body has none), a priority change moves the SLA targets.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, CaseInput};
use super::model::{self, Resolution, Viewer};
use crate::common::activity::{self, Action};
use crate::common::choices::{CASE_PRIORITIES, CASE_STATUSES, CASE_TYPES, pairs_json};
use crate::common::comments::{self, CASES, envelope};
use crate::common::relations::{self, Kind, Rel, Unique};
use crate::db::Tenant;
use crate::db::sql::Val;
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;
use crate::http::list::{CacheSlot, Cached};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;
use crate::storage::FormData;

fn forbidden(msg: &str) -> ApiError {
    envelope(StatusCode::FORBIDDEN, json!(msg))
}

/// `,"status":[...],"priority":[...],"type_of_case":[...]}`
fn choices_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        format!(
            ",\"status\":{},\"priority\":{},\"type_of_case\":{}}}",
            pairs_json(CASE_STATUSES),
            pairs_json(CASE_PRIORITIES),
            pairs_json(CASE_TYPES)
        )
    })
}

/// Cases the caller may see (admins: all; others: created by them, assigned to them or to one
/// of their teams), `limit`/`offset`-paginated, in upstream's envelope, with the choice lists and
/// the accounts and contacts lookups. A cached page lives at most a minute (the SLA flags move
/// with the clock).
#[utoipa::path(get, path = "/api/cases/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "name contains"),
        ("name" = Option<String>, Query), ("status" = Option<String>, Query), ("priority" = Option<String>, Query),
        ("case_type" = Option<String>, Query), ("account" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key or comma-separate)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query), ("contacts" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("closed_on__gte" = Option<String>, Query), ("closed_on__lte" = Option<String>, Query),
        ("sla_breached" = Option<bool>, Query, description = "either SLA target missed"),
        ("first_response_breached" = Option<bool>, Query), ("resolution_breached" = Option<bool>, Query),
        ("ordering" = Option<String>, Query, description = "e.g. `-created_at`, `name`, `priority`; comma-separated"),
    ),
    responses((status = 200, body = dto::CaseListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let module = format!("cases@{}", Utc::now().timestamp() / 60);
    let (mut t, slot) = match CacheSlot::lookup(&module, &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let v = Viewer::of(&t);
    let body = model::list_json(&mut t.tx, &v, &q, page).await?;
    slot.fill(&state.cache, t, body, choices_tail()).await
}

/// The detail page's JSON (404 outside the org, 403 when the caller may not see it).
async fn detail_body(state: &AppState, t: &mut Tenant, id: Uuid) -> Result<Value, ApiError> {
    let v = Viewer::of(t);
    let base = crate::http::base_url::current(&state.cfg);
    let (visible, body) = model::detail_json(&mut t.tx, &v, id, &base)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (true, Some(body)) = (visible, body) else {
        return Err(forbidden(
            "You don't have Permission to perform this action",
        ));
    };
    let mut body: Map<String, Value> = serde_json::from_str(&body).map_err(ApiError::internal)?;
    body.insert("status".into(), pairs_json(CASE_STATUSES));
    body.insert("priority".into(), pairs_json(CASE_PRIORITIES));
    body.insert("type_of_case".into(), pairs_json(CASE_TYPES));
    Ok(Value::Object(body))
}

#[utoipa::path(get, path = "/api/cases/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::CaseDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// Upstream's detail form: `POST /api/cases/<id>/` with a `comment` and/or a `case_attachment`
/// file (multipart or JSON); answers with the case's detail, like GET. A member's first comment
/// is the case's first response.
#[utoipa::path(post, path = "/api/cases/{id}/", tag = "cases", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::CaseDetailForm, description = "`comment` and/or a `case_attachment` file"),
    responses((status = 200, body = dto::CaseDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &CASES, id, form).await?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// Checks the relation ids, the account and the name against the org (a member's user id in
/// `assigned_to` becomes their profile id); adds field errors.
async fn check(
    tx: &mut Tx,
    org: Uuid,
    input: &mut CaseInput,
    case: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let name = input.text("name").map(str::to_string);
    let mut account = input.account.flatten().map(|a| vec![a]);
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("account", Kind::Account, &mut account),
    ];
    let unique = Unique {
        field: "name",
        table: "\"case\"",
        column: "name",
        value: name.as_deref(),
        except: case,
        message: "Case already exists with this name",
    };
    relations::check(tx, org, &mut rels, Some(unique), errors).await
}

/// Writes the body's relations, records the activity and queues the assignment e-mails.
async fn apply(
    t: &mut Tenant,
    id: Uuid,
    input: &CaseInput,
    name: &str,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = model::sync_relations(&mut t.tx, id, t.profile_id, input).await?;
    activity::record(t, action, "Case", id, name).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Case",
        &CASES.page_path(id),
        name,
        &by,
    )
    .await
}

/// A case closed without a date is closed today (upstream's model requires `closed_on` for a
/// closed case but never checks it; the frontend's "close" sends only the status).
fn close_today(input: &mut CaseInput, stored: Option<chrono::NaiveDate>) {
    let given = input.fields.iter().find_map(|(c, v)| match v {
        Val::Date(d) if *c == "closed_on" => Some(*d),
        _ => None,
    });
    if given.unwrap_or(stored).is_none() {
        input.set("closed_on", Val::Date(Some(Utc::now().date_naive())));
    }
}

/// Any member may create.
#[utoipa::path(post, path = "/api/cases/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::CaseBody,
    responses((status = 200, body = dto::CaseCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, true, &mut errors);
    check(&mut t.tx, t.org_id, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if input.text("status") == Some("Closed") {
        close_today(&mut input, None);
    }
    let mut cols = input.fields.clone();
    if let Some(account) = input.account {
        cols.push(("account_id", Val::Uuid(account)));
    }
    let id = Uuid::new_v4();
    let name = model::insert(&mut t.tx, t.org_id, t.user_id, id, &cols).await?;
    apply(&mut t, id, &input, &name, Action::Create).await?;
    let obj: Value = serde_json::from_str(&model::case_obj(&mut t.tx, t.org_id, id).await?)
        .map_err(ApiError::internal)?;
    t.commit().await?;
    Ok(Json(json!({
        "error": false, "message": "Case Created Successfully", "id": id, "cases_obj": obj,
    })))
}

/// PUT and PATCH: admin, creator, or assignee (directly or through a team). PUT requires `name`,
/// `status` and `priority`, clears an absent `closed_on`/`case_type` and replaces every relation
/// list (an absent list is emptied); PATCH changes only what the body has. `account` is read-only
/// after creation (as upstream).
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let v = Viewer::of(&t);
    let current = model::current(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.visible {
        return Err(forbidden(
            "You do not have Permission to perform this action",
        ));
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, !partial, &mut errors);
    input.account = None;
    if !partial {
        for list in [
            &mut input.assigned_to,
            &mut input.contacts,
            &mut input.teams,
            &mut input.tags,
        ] {
            list.get_or_insert_with(Vec::new);
        }
        if !input.has("closed_on") {
            input.set("closed_on", Val::Date(None));
        }
        if !input.has("case_type") {
            input.set("case_type", Val::Text(None));
        }
    }
    check(&mut t.tx, t.org_id, &mut input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    // Status: closing stamps `resolved_at` (and a missing `closed_on`), reopening clears both.
    let mut resolution = Resolution::Keep;
    if let Some(status) = input.text("status").map(str::to_string) {
        if dto::is_terminal(&status) {
            resolution = Resolution::Stamp;
            if status == "Closed" {
                close_today(&mut input, current.closed_on);
            }
        } else {
            resolution = Resolution::Clear;
            if dto::is_terminal(&current.status) && !input.has("closed_on") {
                input.set("closed_on", Val::Date(None));
            }
        }
    }
    // A new priority brings its SLA targets, unless the body sets them.
    if let Some(priority) = input.text("priority").map(str::to_string)
        && priority != current.priority
    {
        let (first, resolution_hours) = dto::sla_hours(&priority);
        if !input.has("sla_first_response_hours") {
            input.set("sla_first_response_hours", Val::Int(Some(first)));
        }
        if !input.has("sla_resolution_hours") {
            input.set("sla_resolution_hours", Val::Int(Some(resolution_hours)));
        }
    }
    let name = model::update(
        &mut t.tx,
        t.org_id,
        t.user_id,
        id,
        &input.fields,
        resolution,
    )
    .await?;
    apply(&mut t, id, &input, &name, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Case Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/cases/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::CaseBody,
    responses((status = 200, body = dto::CaseMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update: the frontend's edit (every field again, without `account`), close
/// (`{"status": "Closed"}`) and reopen (`{"status": "Assigned"}`).
#[utoipa::path(patch, path = "/api/cases/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::CaseBody, description = "Any of these"),
    responses((status = 200, body = dto::CaseMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the case's creator. Its links, comments and attachments go; tasks keep existing
/// without it.
#[utoipa::path(delete, path = "/api/cases/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::CaseMessage), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let v = Viewer::of(&t);
    let current = model::current(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(forbidden(
            "You don't have permission to perform this action.",
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &CASES, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Case", id, &name).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Case Deleted Successfully."}),
    ))
}
