//! `/api/accounts/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, AccountInput, account_errors};
use super::{model, pages};
use crate::common::activity::{self, Action};
use crate::common::choices::{
    CASE_PRIORITIES, CASE_STATUSES, CASE_TYPES, COUNTRIES, INDUSTRIES, OPPORTUNITY_SOURCES, STAGES,
    pairs_json,
};
use crate::common::comments;
use crate::common::enums::CURRENCY_CODES;
use crate::common::relations::{self, Kind, Rel, Unique};
use crate::db::Tenant;
use crate::db::sql::{self, LinkList, Val};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::list::{CacheSlot, Cached};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::jobs::{self, Job};
use crate::mail::templates::render_message;
use crate::state::AppState;
use crate::storage::FormData;

const TABLE: sql::Table = sql::Table {
    name: "accounts",
    returning: "name",
};

pub(super) fn envelope(status: StatusCode, errors: &str) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

pub(super) fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        "You do not have Permission to perform this action",
    )
}

/// `,"countries":...,"industries":...,"status":[...]}` (list page).
fn list_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        let industries: Vec<(&str, &str)> = INDUSTRIES.iter().map(|i| (*i, *i)).collect();
        format!(
            ",\"countries\":{},\"industries\":{},\"status\":[\"active\",\"inactive\"]}}",
            pairs_json(COUNTRIES),
            pairs_json(&industries)
        )
    })
}

/// The detail page's choice lists.
fn detail_lists() -> &'static Map<String, Value> {
    static LISTS: OnceLock<Map<String, Value>> = OnceLock::new();
    LISTS.get_or_init(|| {
        let mut m = Map::new();
        for (k, v) in [
            ("stages", STAGES),
            ("sources", OPPORTUNITY_SOURCES),
            ("countries", COUNTRIES),
            ("currencies", CURRENCY_CODES),
            ("case_types", CASE_TYPES),
            ("case_priority", CASE_PRIORITIES),
            ("case_status", CASE_STATUSES),
        ] {
            m.insert(k.into(), pairs_json(v));
        }
        m.insert("status".into(), json!(["open", "close"]));
        m
    })
}

/// Active and inactive accounts the caller can see, each paginated with `limit`/`offset`, plus
/// the lookup lists the frontend's forms read. Cached per org and caller.
#[utoipa::path(get, path = "/api/accounts/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "name contains"),
        ("name" = Option<String>, Query), ("city" = Option<String>, Query), ("industry" = Option<String>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("ordering" = Option<String>, Query, description = "e.g. `name`, `-created_at`; comma-separated"),
    ),
    responses((status = 200, body = dto::AccountListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let (mut t, slot) = match CacheSlot::lookup("accounts", &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let body = pages::list_json(&mut t, &q, page).await?;
    slot.fill(&state.cache, t, body, list_tail()).await
}

/// The account with everything its page shows: contacts, opportunities, cases, tasks, invoices,
/// e-mails, comments and attachments. Admins, its creator, assignees and team members.
#[utoipa::path(get, path = "/api/accounts/{id}/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::AccountDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let out = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(out))
}

async fn detail_body(state: &AppState, t: &mut Tenant, id: Uuid) -> ApiResult<Value> {
    let (allowed, body) = pages::detail_json(t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(body) = body.filter(|_| allowed) else {
        return Err(no_permission());
    };
    let mut out: Map<String, Value> = serde_json::from_str(&body).map_err(ApiError::internal)?;
    let (comments, files) =
        comments::comments_and_attachments(state, &mut t.tx, t.org_id, &comments::ACCOUNTS, id)
            .await?;
    out.insert("attachments".into(), json!(files));
    out.insert("comments".into(), json!(comments));
    for (k, v) in detail_lists() {
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(out))
}

/// Upstream's detail form: `POST /api/accounts/<id>/` with a `comment` and/or an
/// `account_attachment` file (multipart or JSON); answers with the detail, like GET.
#[utoipa::path(post, path = "/api/accounts/{id}/", tag = "accounts", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::AccountDetailForm, description = "`comment` and/or an `account_attachment` file"),
    responses((status = 200, body = dto::AccountDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &comments::ACCOUNTS, id, form).await?;
    let out = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(out))
}

/// Checks the relation ids (user ids of members are taken as their profiles) and the name's
/// uniqueness in the org; adds field errors.
async fn check(
    t: &mut Tenant,
    input: &mut AccountInput,
    account: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
    ];
    let name = input.fields.iter().find_map(|(c, v)| match v {
        Val::Text(Some(n)) if *c == "name" => Some(n.clone()),
        _ => None,
    });
    let unique = Unique {
        field: "name",
        table: "accounts",
        column: "name",
        value: name.as_deref(),
        except: account,
        message: "Account already exists with this name",
    };
    relations::check(&mut t.tx, t.org_id, &mut rels, Some(unique), errors).await
}

fn links(input: &AccountInput) -> [LinkList<'_>; 4] {
    [
        LinkList {
            table: "accounts_assigned_to",
            col: "profile_id",
            ids: input.assigned_to.as_deref(),
        },
        LinkList {
            table: "accounts_teams",
            col: "teams_id",
            ids: input.teams.as_deref(),
        },
        LinkList {
            table: "accounts_tags",
            col: "tags_id",
            ids: input.tags.as_deref(),
        },
        LinkList {
            table: "accounts_contacts",
            col: "contact_id",
            ids: input.contacts.as_deref(),
        },
    ]
}

/// Links the lists, records the activity and e-mails newly assigned members.
async fn finish_write(
    t: &mut Tenant,
    id: Uuid,
    name: &str,
    input: &AccountInput,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = sql::sync_links(
        &mut t.tx,
        "account_id",
        id,
        t.profile_id,
        "accounts_assigned_to",
        &links(input),
    )
    .await?;
    activity::record(t, action, "Account", id, name).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Account",
        &comments::ACCOUNTS.page_path(id),
        name,
        &by,
    )
    .await
}

/// Any member may create. `tags` are tag ids, as the frontend sends them.
#[utoipa::path(post, path = "/api/accounts/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::AccountBody,
    responses((status = 200, body = dto::AccountCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, false, &mut errors);
    check(&mut t, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(account_errors(errors));
    }
    let id = Uuid::new_v4();
    let defaults = [("is_active", Val::Bool(true))];
    let name = sql::insert(
        &mut t.tx,
        &TABLE,
        t.org_id,
        Some(t.user_id),
        id,
        &input.fields,
        &defaults,
    )
    .await?;
    finish_write(&mut t, id, &name, &input, Action::Create).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Account Created Successfully", "id": id}),
    ))
}

/// PUT and PATCH: admins, the creator, assignees and team members. PUT requires `name` and
/// replaces every relation list (an absent one is emptied); PATCH changes what it carries.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, partial, &mut errors);
    if !partial {
        input.replace_all_lists();
    }
    check(&mut t, &mut input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(account_errors(errors));
    }
    let name = sql::update(&mut t.tx, &TABLE, t.org_id, t.user_id, id, &input.fields).await?;
    finish_write(&mut t, id, &name, &input, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Account Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/accounts/{id}/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::AccountBody, description = "As POST; lists not sent are emptied"),
    responses((status = 200, body = dto::MessageResponse), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update, also how the frontend activates and deactivates (`{"is_active": false}`).
#[utoipa::path(patch, path = "/api/accounts/{id}/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::AccountBody, description = "Any of these"),
    responses((status = 200, body = dto::MessageResponse), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the account's creator. Opportunities and cases of the account go with it;
/// contacts, tasks and board cards stay, unlinked. Invoices, estimates or recurring invoices
/// that refer to it block the delete (409; upstream: 500).
#[utoipa::path(delete, path = "/api/accounts/{id}/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::MessageResponse), (status = 403), (status = 404),
              (status = 409, description = "`{\"error\": true, \"errors\": \"...\"}`: invoices or estimates refer to it")))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(no_permission());
    }
    if let Some(msg) = model::delete_blockers(&mut t.tx, t.org_id, id).await? {
        return Err(envelope(StatusCode::CONFLICT, &msg));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &comments::ACCOUNTS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Account", id, &name).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Account Deleted Successfully."}),
    ))
}

/// E-mails contacts of the org from the account (upstream: always 500). The subject and body
/// are templates over each recipient's fields (`{{ first_name }}`...); `{`/`}` must balance.
/// Sent now through the job queue, or at `scheduled_date_time` when `scheduled_later`; each
/// recipient gets an `emailLogs` row, marked sent once the mail transport accepted the message.
#[utoipa::path(post, path = "/api/accounts/{id}/create_mail/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    request_body = dto::MailBody,
    responses((status = 200, body = dto::AccountCreated, description = "`Email sent successfully`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"), (status = 403), (status = 404)))]
pub async fn create_mail(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let input = dto::validate_mail(&body, &mut errors);
    let mut at = None;
    if let Some(input) = &input {
        at = model::check_mail(&mut t.tx, t.org_id, input, &mut errors).await?;
        let sample = json!({"first_name": "", "last_name": "", "email": ""});
        let subject = input.subject.as_deref().unwrap_or_default();
        if let Err(e) = render_message(subject, input.body.as_deref().unwrap_or_default(), &sample)
        {
            errors.add("message_body", format!("{e:#}"));
        }
    }
    let Some(input) = input.filter(|_| errors.is_empty()) else {
        return Err(account_errors(errors));
    };
    let email_id = model::insert_mail(&mut t.tx, t.org_id, t.user_id, id, &input, at).await?;
    // Each recipient becomes an e-mail of the account's history (`emails`), which sends it.
    crate::emails::model::queue_account_mail(&mut t.tx, t.org_id, t.user_id, id, email_id, at)
        .await?;
    let job = Job::AccountEmail { email_id };
    match at {
        Some(at) => jobs::enqueue_at(&mut t.tx, Some(t.org_id), job, at).await?,
        None => jobs::enqueue(&mut t.tx, Some(t.org_id), job).await?,
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Email sent successfully", "id": email_id}),
    ))
}
