//! `/api/contacts/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are
//! 4xx; the detail view (always 500 upstream) works.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, ContactInput};
use super::model::{self, Viewer};
use crate::common::activity::{self, Action};
use crate::common::choices::{COUNTRIES, pairs_json};
use crate::common::comments::{self, CONTACTS, envelope};
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

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        json!("You do not have Permission to perform this action"),
    )
}

/// `,"countries":[...]}`
fn countries_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| format!(",\"countries\":{}}}", pairs_json(COUNTRIES)))
}

/// Contacts the caller may see (admins: all; others: created by them, assigned to them or to one
/// of their teams), `limit`/`offset`-paginated, in upstream's envelope (`contact_obj_list` and
/// `contacts_count`, plus DRF's `count`/`results` with the same data), with the org's members and
/// the country choices.
#[utoipa::path(get, path = "/api/contacts/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "first/last name, e-mail, phone or organization contains"),
        ("name" = Option<String>, Query), ("city" = Option<String>, Query), ("phone" = Option<String>, Query),
        ("email" = Option<String>, Query), ("organization" = Option<String>, Query), ("country" = Option<String>, Query),
        ("account" = Option<Uuid>, Query), ("is_active" = Option<bool>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key or comma-separate)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("ordering" = Option<String>, Query, description = "e.g. `-created_at`, `first_name`; comma-separated"),
    ),
    responses((status = 200, body = dto::ContactListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let (mut t, slot) = match CacheSlot::lookup("contacts", &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let v = Viewer::of(&t);
    let body = model::list_json(&mut t.tx, &v, &q, page).await?;
    slot.fill(&state.cache, t, body, countries_tail()).await
}

/// The detail page's JSON (404 outside the org, 403 when the caller may not see it).
async fn detail_body(state: &AppState, t: &mut Tenant, id: Uuid) -> Result<Value, ApiError> {
    let v = Viewer::of(t);
    let current = model::current(&mut t.tx, &v, id, true)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (true, Some(obj)) = (current.visible, current.obj) else {
        return Err(no_permission());
    };
    let contact: Value = serde_json::from_str(&obj).map_err(ApiError::internal)?;
    let extras: Value = serde_json::from_str(&model::detail_extras(&mut t.tx, &v, id).await?)
        .map_err(ApiError::internal)?;
    let (comments, attachments) =
        comments::comments_and_attachments(state, &mut t.tx, t.org_id, &CONTACTS, id).await?;
    let address: Map<String, Value> = ["address_line", "city", "state", "postcode", "country"]
        .iter()
        .map(|k| (k.to_string(), contact[*k].clone()))
        .collect();
    Ok(json!({
        "contact_obj": contact,
        "address_obj": address,
        "countries": pairs_json(COUNTRIES),
        "comments": comments,
        "attachments": attachments,
        "assigned_data": extras["assigned_data"],
        "tasks": extras["tasks"],
        "users_mention": extras["users_mention"],
    }))
}

#[utoipa::path(get, path = "/api/contacts/{id}/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::ContactDetailResponse), (status = 403), (status = 404)))]
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

/// Upstream's detail form: `POST /api/contacts/<id>/` with a `comment` and/or a
/// `contact_attachment` file (multipart or JSON); answers with the contact's detail, like GET.
#[utoipa::path(post, path = "/api/contacts/{id}/", tag = "contacts", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::ContactDetailForm, description = "`comment` and/or a `contact_attachment` file"),
    responses((status = 200, body = dto::ContactDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &CONTACTS, id, form).await?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// Checks the relation ids, the account and the e-mail against the org (a member's user id in
/// `assigned_to` becomes their profile id); adds field errors.
async fn check(
    tx: &mut Tx,
    org: Uuid,
    input: &mut ContactInput,
    contact: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let email = input.text("email").map(str::to_string);
    let mut account = input.account.flatten().map(|a| vec![a]);
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("account", Kind::Account, &mut account),
    ];
    let unique = Unique {
        field: "email",
        table: "contacts",
        column: "email",
        value: email.as_deref(),
        except: contact,
        message: "Contact already exists with this email",
    };
    relations::check(tx, org, &mut rels, Some(unique), errors).await
}

/// Writes the body's relations and FK, records the activity and queues the assignment e-mails.
async fn apply(
    t: &mut Tenant,
    id: Uuid,
    input: &ContactInput,
    name: &str,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = model::sync_relations(
        &mut t.tx,
        id,
        t.profile_id,
        input.assigned_to.as_deref(),
        input.teams.as_deref(),
        input.tags.as_deref(),
        input.account.flatten(),
    )
    .await?;
    activity::record(t, action, "Contact", id, name).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Contact",
        &comments::CONTACTS.page_path(id),
        name,
        &by,
    )
    .await
}

/// The body's columns plus the `account` FK when it names one.
fn columns(input: &ContactInput) -> Vec<(&'static str, Val)> {
    let mut cols = input.fields.clone();
    if let Some(account) = input.account {
        cols.push(("account_id", Val::Uuid(account)));
    }
    cols
}

/// Any member may create.
#[utoipa::path(post, path = "/api/contacts/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::ContactBody,
    responses((status = 200, body = dto::ContactCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, true, &mut errors);
    check(&mut t.tx, t.org_id, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let id = Uuid::new_v4();
    let name = model::insert(&mut t.tx, t.org_id, t.user_id, id, &columns(&input)).await?;
    apply(&mut t, id, &input, &name, Action::Create).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Contact created Successfuly", "id": id}),
    ))
}

/// PUT and PATCH: admin, creator, or assignee (directly or through a team). PUT requires the
/// names and replaces every relation list (an absent list is emptied); PATCH only those present.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let v = Viewer::of(&t);
    let current = model::current(&mut t.tx, &v, id, false)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.visible {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, !partial, &mut errors);
    if !partial {
        for list in [&mut input.assigned_to, &mut input.teams, &mut input.tags] {
            list.get_or_insert_with(Vec::new);
        }
    }
    check(&mut t.tx, t.org_id, &mut input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let name = crate::db::sql::update(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        t.user_id,
        id,
        &columns(&input),
    )
    .await?;
    apply(&mut t, id, &input, &name, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Contact Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/contacts/{id}/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::ContactBody,
    responses((status = 200, body = dto::ContactMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update (what the frontend sends: every field again, without `account`).
#[utoipa::path(patch, path = "/api/contacts/{id}/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::ContactBody, description = "Any of these"),
    responses((status = 200, body = dto::ContactMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the contact's creator. Its links go, records pointing at it keep existing.
#[utoipa::path(delete, path = "/api/contacts/{id}/", tag = "contacts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::ContactMessage), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let v = Viewer::of(&t);
    let current = model::current(&mut t.tx, &v, id, false)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You don't have permission to perform this action."),
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &CONTACTS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    comments::finish_delete(&state, t, &CONTACTS, id, &name, files).await?;
    Ok(Json(
        json!({"error": false, "message": "Contact Deleted Successfully."}),
    ))
}
