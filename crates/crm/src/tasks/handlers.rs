//! `/api/tasks/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx;
//! the detail view (always 500 for non-admins upstream) works; PUT is checked like PATCH.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, PRIORITIES, STATUSES, TaskInput};
use super::model::{self, Viewer};
use crate::common::activity::{self, Action};
use crate::common::choices::pairs_json;
use crate::common::comments::{self, TASKS, envelope};
use crate::common::relations::{self, Kind, Rel, Unique};
use crate::db::Tenant;
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
        json!("You don't have Permission to perform this action"),
    )
}

/// `,"status":[...],"priority":[...]}`
fn choices_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        format!(
            ",\"status\":{},\"priority\":{}}}",
            pairs_json(STATUSES),
            pairs_json(PRIORITIES)
        )
    })
}

/// Tasks the caller may see (admins: all; others: created by them, assigned to them or to one of
/// their teams), `limit`/`offset`-paginated, in upstream's envelope (`tasks`, `tasks_count`,
/// `offset`), with the choice lists and the accounts/contacts lookups. Cached per org and caller.
#[utoipa::path(get, path = "/api/tasks/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "title or description contains"),
        ("title" = Option<String>, Query, description = "title contains"),
        ("status" = Option<String>, Query, description = "New, In Progress, Completed"),
        ("priority" = Option<String>, Query, description = "Low, Medium, High"),
        ("account" = Option<Uuid>, Query), ("opportunity" = Option<Uuid>, Query),
        ("case" = Option<Uuid>, Query), ("lead" = Option<Uuid>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key or comma-separate)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query), ("contacts" = Option<Vec<Uuid>>, Query),
        ("due_date__gte" = Option<String>, Query, description = "YYYY-MM-DD"), ("due_date__lte" = Option<String>, Query, description = "YYYY-MM-DD"),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("ordering" = Option<String>, Query, description = "e.g. `-created_at`, `due_date`, `title`; comma-separated"),
    ),
    responses((status = 200, body = dto::TaskListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let (mut t, slot) = match CacheSlot::lookup("tasks", &state.cache, t, &q).await? {
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
    let current = model::current(&mut t.tx, &v, id, true)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (true, Some(Value::Object(mut out))) = (current.visible, current.page) else {
        return Err(no_permission());
    };
    let (comments, attachments) =
        comments::comments_and_attachments(state, &mut t.tx, t.org_id, &TASKS, id).await?;
    out.insert("comments".into(), json!(comments));
    out.insert("attachments".into(), json!(attachments));
    out.insert("status".into(), pairs_json(STATUSES));
    out.insert("priority".into(), pairs_json(PRIORITIES));
    Ok(Value::Object(out))
}

#[utoipa::path(get, path = "/api/tasks/{id}/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::TaskDetailResponse), (status = 403), (status = 404)))]
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

/// Upstream's detail form: `POST /api/tasks/<id>/` with a `comment` and/or a `task_attachment`
/// file (multipart or JSON); answers with the task's detail, like GET.
#[utoipa::path(post, path = "/api/tasks/{id}/", tag = "tasks", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::TaskDetailForm, description = "`comment` and/or a `task_attachment` file"),
    responses((status = 200, body = dto::TaskDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &TASKS, id, form).await?;
    let body = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(body))
}

/// Checks the relation ids and parents against the org (a member's user id in `assigned_to`
/// becomes their profile id; archived tags and inactive assignees the frontend re-sends are
/// kept), the title's uniqueness and the one-parent rule; adds field errors.
async fn check(
    t: &mut Tenant,
    input: &mut TaskInput,
    task: Option<Uuid>,
    current: [Option<Uuid>; 4],
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    input.check_one_parent(current, errors);
    let title = input.title().map(str::to_string);
    let [mut account, mut opportunity, mut case, mut lead] =
        input.parents.map(|p| p.flatten().map(|id| vec![id]));
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("account", Kind::Account, &mut account),
        Rel::new("opportunity", Kind::Opportunity, &mut opportunity),
        Rel::new("case", Kind::Case, &mut case),
        Rel::new("lead", Kind::Lead, &mut lead),
    ];
    let unique = Unique {
        field: "title",
        table: "task",
        column: "title",
        value: title.as_deref(),
        except: task,
        message: "Task already exists with this title",
    };
    relations::check(&mut t.tx, t.org_id, &mut rels, Some(unique), errors).await
}

/// Writes the body's relations, records the activity and queues the assignment e-mails.
async fn apply(
    t: &mut Tenant,
    id: Uuid,
    input: &TaskInput,
    title: &str,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = model::sync_relations(
        &mut t.tx,
        id,
        t.profile_id,
        [
            (
                "task_assigned_to",
                "profile_id",
                input.assigned_to.as_deref(),
            ),
            ("task_contacts", "contact_id", input.contacts.as_deref()),
            ("task_teams", "teams_id", input.teams.as_deref()),
            ("task_tags", "tags_id", input.tags.as_deref()),
        ],
    )
    .await?;
    activity::record(t, action, "Task", id, title).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Task",
        &TASKS.page_path(id),
        title,
        &by,
    )
    .await
}

/// Any member may create. The frontend's body (every key, the three unused parents null) is
/// accepted; upstream answered it with a 400.
#[utoipa::path(post, path = "/api/tasks/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::TaskBody,
    responses((status = 200, body = dto::TaskCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, true, &mut errors);
    check(&mut t, &mut input, None, [None; 4], &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let id = Uuid::new_v4();
    let title = model::insert(&mut t.tx, t.org_id, t.user_id, id, &input.columns()).await?;
    apply(&mut t, id, &input, &title, Action::Create).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Task Created Successfully", "id": id}),
    ))
}

/// PUT and PATCH: admin, creator, or assignee (directly or through a team). PUT requires title,
/// status and priority and replaces every relation list (an absent list is emptied); PATCH only
/// what is present.
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
        input.replace_all_lists();
    }
    check(&mut t, &mut input, Some(id), current.parents, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let title = crate::db::sql::update(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        t.user_id,
        id,
        &input.columns(),
    )
    .await?;
    apply(&mut t, id, &input, &title, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Task updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/tasks/{id}/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::TaskBody, description = "As POST; lists not sent are emptied"),
    responses((status = 200, body = dto::TaskMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update: the frontend's edit (every key again), complete (`{"status": "Completed"}`)
/// and reopen (`{"status": "New"}`).
#[utoipa::path(patch, path = "/api/tasks/{id}/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::TaskBody, description = "Any of these"),
    responses((status = 200, body = dto::TaskMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the task's creator. Its links, comments and attachments go with it.
#[utoipa::path(delete, path = "/api/tasks/{id}/", tag = "tasks", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::TaskMessage), (status = 403), (status = 404)))]
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
            json!("you don't have permission to delete this task"),
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &TASKS, id).await?;
    let title = model::delete(&mut t.tx, t.org_id, id).await?;
    comments::finish_delete(&state, t, &TASKS, id, &title, files).await?;
    Ok(Json(
        json!({"error": false, "message": "Task deleted Successfully"}),
    ))
}
