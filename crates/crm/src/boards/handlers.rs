//! `/api/boards/...`: HTTP in and out. Access is by board membership (owner > admin > member >
//! viewer; an org admin acts as every board's owner): viewers read, members change cards, admins
//! change the board, its columns and its members, the owner deletes the board. A caller who is
//! not on the board gets upstream's 404; a member whose role is too low a 403.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto;
use super::model::{self, Access, Pos, Role, Scope, View};
use crate::common::activity::{self, Action};
use crate::common::relations::{self, Kind, Rel};
use crate::db::Tenant;
use crate::db::sql::{self, Val};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::base_url;
use crate::http::body::JsonBody;
use crate::http::fields::{fk, invalid};
use crate::http::list::{Viewer, json_bytes};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;

/// Upstream's `{"error": msg}` body, with DRF's `detail` beside it.
fn deny(status: StatusCode, msg: &str) -> ApiError {
    ApiError::new(status, json!({"detail": msg, "error": msg}))
}

fn missing(scope: Scope) -> ApiError {
    let what = match scope {
        Scope::Board(_) => "Board",
        Scope::Column(_) => "BoardColumn",
        Scope::Card(_) => "BoardTask",
    };
    ApiError::detail(
        StatusCode::NOT_FOUND,
        format!("No {what} matches the given query."),
    )
}

const PERMISSION_DENIED: &str = "Permission denied";
const ACCESS_DENIED: &str = "Access denied";

/// The caller's access, or the error: 404 when the id names nothing in the org or the caller is
/// not on the board, 403 (`denied`) when their role is below `min`.
fn require(
    scope: Scope,
    access: Option<Access>,
    min: Role,
    denied: &str,
) -> Result<Access, ApiError> {
    let a = access.ok_or_else(|| missing(scope))?;
    match a.role {
        None => Err(deny(
            StatusCode::NOT_FOUND,
            "Board not found or access denied",
        )),
        Some(r) if r < min => Err(deny(StatusCode::FORBIDDEN, denied)),
        Some(_) => Ok(a),
    }
}

/// Locks the board of a path id and checks the caller's role.
async fn lock(t: &mut Tenant, scope: Scope, min: Role, denied: &str) -> Result<Access, ApiError> {
    let v = Viewer::of(t);
    let a = model::access(&mut t.tx, &v, scope, true).await?;
    require(scope, a, min, denied)
}

/// A rendered view as the response body (the caller's access checked in the same statement).
async fn render(
    t: &mut Tenant,
    scope: Scope,
    view: View,
    extra: Option<Uuid>,
) -> Result<String, ApiError> {
    let v = Viewer::of(t);
    let (access, body) = match model::view(&mut t.tx, &v, scope, view, extra).await? {
        Some((a, body)) => (Some(a), body),
        None => (None, None),
    };
    require(scope, access, Role::Viewer, ACCESS_DENIED)?;
    body.ok_or_else(ApiError::not_found)
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut res = json_bytes(body.into());
    *res.status_mut() = status;
    res
}

/// Renders a read in its own transaction.
async fn read(mut t: Tenant, scope: Scope, view: View) -> ApiResult<Response> {
    let body = render(&mut t, scope, view, None).await?;
    t.commit().await?;
    Ok(json_response(StatusCode::OK, body))
}

/// Renders what a write answers and commits.
async fn written(
    mut t: Tenant,
    status: StatusCode,
    scope: Scope,
    view: View,
    extra: Option<Uuid>,
) -> ApiResult<Response> {
    let body = render(&mut t, scope, view, extra).await?;
    t.commit().await?;
    Ok(json_response(status, body))
}

async fn no_content(t: Tenant) -> ApiResult<Response> {
    t.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- Boards ----

/// The boards the caller is on (an org admin: every board of the org), newest first,
/// `limit`/`offset`-paginated in DRF's envelope with absolute links.
#[utoipa::path(get, path = "/api/boards/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("archived" = Option<String>, Query, description = "`true`, `1` or `yes`: archived boards; anything else or absent: the others"),
        ("search" = Option<String>, Query, description = "name contains"),
        ("ordering" = Option<String>, Query, description = "`name`, `created_at`, `updated_at` (`-` for descending)"),
    ),
    responses((status = 200, body = dto::BoardListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let v = Viewer::of(&t);
    let (count, results) = model::list_json(&mut t.tx, &v, &q, page).await?;
    t.commit().await?;
    let base = base_url::current(&state.cfg);
    let (next, previous) = page.links(&base, "/api/boards/", &q, count);
    let body = format!(
        "{{\"count\":{count},\"next\":{},\"previous\":{},\"results\":{results}}}",
        json!(next),
        json!(previous)
    );
    Ok(json_response(StatusCode::OK, body))
}

/// Any member creates a board: they own it (and hold an `owner` membership); the To Do / In
/// Progress / Done columns come with it unless `create_default_columns` is false.
#[utoipa::path(post, path = "/api/boards/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::BoardBody,
    responses((status = 201, body = dto::BoardObj),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let input = dto::board(&body, true, &mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let v = Viewer::of(&t);
    let id = Uuid::new_v4();
    let name = model::insert_board(&mut t.tx, &v, id, &input.fields, input.default_columns).await?;
    activity::record(&mut t, Action::Create, "Board", id, &name).await?;
    written(t, StatusCode::CREATED, Scope::Board(id), View::Board, None).await
}

/// The board with its columns (and their card counts) and members.
#[utoipa::path(get, path = "/api/boards/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::BoardObj), (status = 404, description = "unknown, or the caller is not on the board")))]
pub async fn detail(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Board(parse_id(&id)?), View::Board).await
}

/// PUT and PATCH (both partial, as upstream): the board's owner or admins.
async fn write_board(mut t: Tenant, raw_id: &str, body: Map<String, Value>) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(raw_id)?);
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    let mut errors = FieldErrors::new();
    let input = dto::board(&body, false, &mut errors);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let name = sql::update(
        &mut t.tx,
        &model::BOARDS,
        t.org_id,
        t.user_id,
        a.board,
        &input.fields,
    )
    .await?;
    activity::record(&mut t, Action::Update, "Board", a.board, &name).await?;
    written(t, StatusCode::OK, scope, View::Board, None).await
}

#[utoipa::path(put, path = "/api/boards/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::BoardBody, description = "Any of these (partial, as upstream)"),
    responses((status = 200, body = dto::BoardObj), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_board(t, &id, body).await
}

#[utoipa::path(patch, path = "/api/boards/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::BoardBody, description = "Any of these"),
    responses((status = 200, body = dto::BoardObj), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_board(t, &id, body).await
}

/// The owner only: the board goes with its columns, cards and memberships, in one transaction.
#[utoipa::path(delete, path = "/api/boards/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403), (status = 404)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(&id)?);
    let a = lock(
        &mut t,
        scope,
        Role::Owner,
        "Only board owner can delete the board",
    )
    .await?;
    let name = model::delete_board(&mut t.tx, t.org_id, a.board).await?;
    activity::record(&mut t, Action::Delete, "Board", a.board, &name).await?;
    no_content(t).await
}

// ---- Columns ----

/// The board's columns by position, each with its cards by position (a bare array).
#[utoipa::path(get, path = "/api/boards/{id}/columns/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::BoardColumnObj>), (status = 404)))]
pub async fn columns(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Board(parse_id(&id)?), View::Columns).await
}

/// Checks a column body against the board (name free); adds field errors.
async fn check_column(
    t: &mut Tenant,
    board: Uuid,
    input: &dto::ColumnInput,
    column: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    if let Some(name) = input.name()
        && model::column_name_taken(&mut t.tx, board, name, column).await?
    {
        errors.add(
            "name",
            format!("This board already has a column named \"{name}\"."),
        );
    }
    Ok(())
}

/// `limit` is a reserved word: quoted as a column name.
fn quoted(cols: Vec<(&'static str, Val)>) -> Vec<(&'static str, Val)> {
    cols.into_iter()
        .map(|(c, v)| (if c == "limit" { "\"limit\"" } else { c }, v))
        .collect()
}

/// The board's owner or admins add a column (`org` is not needed; without `order` it goes last).
#[utoipa::path(post, path = "/api/boards/{id}/columns/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::ColumnBody,
    responses((status = 201, body = dto::BoardColumnObj), (status = 400), (status = 403), (status = 404)))]
pub async fn create_column(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(&id)?);
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    let mut errors = FieldErrors::new();
    let input = dto::column(&body, true, &mut errors);
    check_column(&mut t, a.board, &input, None, &mut errors).await?;
    errors.into_result()?;
    let id = Uuid::new_v4();
    let mut cols = input.fields.clone();
    cols.push(("board_id", Val::Uuid(Some(a.board))));
    let defaults = [
        ("color", Val::Text(Some("#6B7280".into()))),
        ("\"order\"", Val::Int(Some(0))),
    ];
    let cols = quoted(cols);
    sql::insert(
        &mut t.tx,
        &model::COLUMNS,
        t.org_id,
        Some(t.user_id),
        id,
        &cols,
        &defaults,
    )
    .await?;
    model::place(
        &mut t.tx,
        Pos::Column,
        id,
        Some(a.board),
        input.order,
        t.user_id,
    )
    .await?;
    written(
        t,
        StatusCode::CREATED,
        Scope::Column(id),
        View::Column,
        None,
    )
    .await
}

/// A column with its cards.
#[utoipa::path(get, path = "/api/boards/columns/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::BoardColumnObj), (status = 404)))]
pub async fn column(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Column(parse_id(&id)?), View::Column).await
}

/// PUT and PATCH (both partial): rename, recolour, set the WIP limit, or move (`order`: the
/// other columns are renumbered). The board's owner or admins.
async fn write_column(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
) -> ApiResult<Response> {
    let scope = Scope::Column(parse_id(raw_id)?);
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    let id = a.column.unwrap_or_default();
    let mut errors = FieldErrors::new();
    let input = dto::column(&body, false, &mut errors);
    check_column(&mut t, a.board, &input, Some(id), &mut errors).await?;
    errors.into_result()?;
    let cols = quoted(input.fields.clone());
    sql::update(&mut t.tx, &model::COLUMNS, t.org_id, t.user_id, id, &cols).await?;
    if input.order.is_some() {
        model::place(
            &mut t.tx,
            Pos::Column,
            id,
            Some(a.board),
            input.order,
            t.user_id,
        )
        .await?;
    }
    written(t, StatusCode::OK, scope, View::Column, None).await
}

#[utoipa::path(put, path = "/api/boards/columns/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::ColumnBody, description = "Any of these (partial)"),
    responses((status = 200, body = dto::BoardColumnObj), (status = 400), (status = 403), (status = 404)))]
pub async fn put_column(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_column(t, &id, body).await
}

#[utoipa::path(patch, path = "/api/boards/columns/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::ColumnBody, description = "Any of these; `order` moves the column"),
    responses((status = 200, body = dto::BoardColumnObj), (status = 400), (status = 403), (status = 404)))]
pub async fn patch_column(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_column(t, &id, body).await
}

/// The board's owner or admins: the column goes with its cards; the others close the gap.
#[utoipa::path(delete, path = "/api/boards/columns/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403), (status = 404)))]
pub async fn delete_column(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let scope = Scope::Column(parse_id(&id)?);
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    model::delete_column(&mut t.tx, t.org_id, a.column.unwrap_or_default()).await?;
    no_content(t).await
}

// ---- Cards ----

/// A column's cards by position (a bare array).
#[utoipa::path(get, path = "/api/boards/columns/{id}/tasks/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::BoardTaskObj>), (status = 404)))]
pub async fn column_cards(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Column(parse_id(&id)?), View::ColumnCards).await
}

/// A full column refuses a card that is not already in it: 400 on `column`, naming it.
fn wip_error(target: &model::Target, errors: &mut FieldErrors) {
    if let Some(limit) = target.limit
        && target.others >= i64::from(limit)
    {
        errors.add(
            "column",
            format!(
                "Column \"{}\" has reached its WIP limit of {limit} card{}.",
                target.name,
                if limit == 1 { "" } else { "s" }
            ),
        );
    }
}

/// Checks a card body's ids in the org (assignees, account, contact, opportunity); adds field
/// errors.
async fn check_card(
    t: &mut Tenant,
    input: &mut dto::CardInput,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let mut account = input.account.flatten().map(|a| vec![a]);
    let mut contact = input.contact.flatten().map(|c| vec![c]);
    let mut rels = [
        Rel::new("assigned_to_ids", Kind::Profile, &mut input.assigned_to),
        Rel::new("account", Kind::Account, &mut account),
        Rel::new("contact", Kind::Contact, &mut contact),
    ];
    relations::check(&mut t.tx, t.org_id, &mut rels, None, errors).await?;
    if let Some(Some(o)) = input.opportunity
        && !model::opportunity_exists(&mut t.tx, t.org_id, o).await?
    {
        errors.add(
            "opportunity",
            format!("Invalid pk \"{o}\" - object does not exist."),
        );
    }
    Ok(())
}

/// Writes what every card write shares after its row exists: dates, position, assignees (and
/// their e-mails).
async fn finish_card(
    t: &mut Tenant,
    a: &Access,
    id: Uuid,
    input: &dto::CardInput,
    column: Option<Uuid>,
    moved: bool,
) -> Result<(), ApiError> {
    model::set_card_dates(&mut t.tx, id, input.due_date, input.completed).await?;
    if moved {
        model::place(&mut t.tx, Pos::Card, id, column, input.order, t.user_id).await?;
    }
    let assigned =
        model::sync_assignees(&mut t.tx, id, t.profile_id, input.assigned_to.as_deref()).await?;
    let title: String = sqlx::query_scalar("SELECT title FROM board_task WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *t.tx)
        .await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Board card",
        &format!("/tasks/board/{}", a.board),
        &title,
        &by,
    )
    .await
}

/// Members (not viewers) add a card to the column of the URL (`column` and `org` in the body are
/// not needed; without `order` it goes last). A full column (WIP limit) is a 400.
#[utoipa::path(post, path = "/api/boards/columns/{id}/tasks/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::CardBody,
    responses((status = 201, body = dto::BoardTaskObj), (status = 400), (status = 403), (status = 404)))]
pub async fn create_card(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let scope = Scope::Column(parse_id(&id)?);
    let a = lock(&mut t, scope, Role::Member, ACCESS_DENIED).await?;
    let column = a.column.unwrap_or_default();
    let mut errors = FieldErrors::new();
    let mut input = dto::card(&body, true, &mut errors);
    // The body's `column` (the frontend sends the URL's) is not a second source of truth.
    errors.0.remove("column");
    if let Some(target) = model::target_column(&mut t.tx, t.org_id, column, None).await? {
        wip_error(&target, &mut errors);
    }
    check_card(&mut t, &mut input, &mut errors).await?;
    errors.into_result()?;
    let id = Uuid::new_v4();
    let mut cols = input.columns();
    cols.push(("column_id", Val::Uuid(Some(column))));
    let defaults = [
        ("priority", Val::Text(Some("medium".into()))),
        ("\"order\"", Val::Int(Some(0))),
    ];
    sql::insert(
        &mut t.tx,
        &model::CARDS,
        t.org_id,
        Some(t.user_id),
        id,
        &cols,
        &defaults,
    )
    .await?;
    finish_card(&mut t, &a, id, &input, Some(column), true).await?;
    written(t, StatusCode::CREATED, Scope::Card(id), View::Card, None).await
}

/// A card.
#[utoipa::path(get, path = "/api/boards/tasks/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::BoardTaskObj), (status = 404)))]
pub async fn card(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Card(parse_id(&id)?), View::Card).await
}

/// PUT and PATCH (both partial; the frontend's edit and drag-and-drop send PATCH
/// `{column, order}`): members edit and move cards within the board. A move renumbers the old
/// and the new column in one statement, with the board locked; a full target column is a 400.
async fn write_card(mut t: Tenant, raw_id: &str, body: Map<String, Value>) -> ApiResult<Response> {
    let scope = Scope::Card(parse_id(raw_id)?);
    let a = lock(&mut t, scope, Role::Member, ACCESS_DENIED).await?;
    let id = scope.id();
    let mut errors = FieldErrors::new();
    let mut input = dto::card(&body, false, &mut errors);
    // Where the card goes: `None` keeps its column (as the move statement reads it, after the
    // lock: a concurrent move may have changed it since `lock` read it).
    let mut column = None;
    if let Some(target_id) = input.column {
        match model::target_column(&mut t.tx, t.org_id, target_id, Some(id)).await? {
            None => errors.add(
                "column",
                format!("Invalid pk \"{target_id}\" - object does not exist."),
            ),
            Some(target) if target.board != a.board => errors.add(
                "column",
                "Cards move only between columns of their own board.",
            ),
            Some(target) => {
                if target.card_column != Some(target_id) {
                    wip_error(&target, &mut errors);
                    column = Some(target_id);
                }
            }
        }
    }
    check_card(&mut t, &mut input, &mut errors).await?;
    errors.into_result()?;
    sql::update(
        &mut t.tx,
        &model::CARDS,
        t.org_id,
        t.user_id,
        id,
        &input.columns(),
    )
    .await?;
    // Re-sending the card's own column without an `order` (an edit form) does not move it.
    let moved = input.order.is_some() || column.is_some();
    finish_card(&mut t, &a, id, &input, column, moved).await?;
    written(t, StatusCode::OK, scope, View::Card, None).await
}

#[utoipa::path(put, path = "/api/boards/tasks/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::CardBody, description = "Any of these (partial, as upstream)"),
    responses((status = 200, body = dto::BoardTaskObj), (status = 400), (status = 403), (status = 404)))]
pub async fn put_card(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_card(t, &id, body).await
}

/// What the frontend sends to edit and to drag a card (upstream answers 405).
#[utoipa::path(patch, path = "/api/boards/tasks/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::CardBody, description = "Any of these; `{column, order}` moves the card"),
    responses((status = 200, body = dto::BoardTaskObj), (status = 400), (status = 403), (status = 404)))]
pub async fn patch_card(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_card(t, &id, body).await
}

/// Members (not viewers) delete a card; the column closes the gap.
#[utoipa::path(delete, path = "/api/boards/tasks/{id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403), (status = 404)))]
pub async fn delete_card(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let scope = Scope::Card(parse_id(&id)?);
    lock(&mut t, scope, Role::Member, PERMISSION_DENIED).await?;
    model::delete_card(&mut t.tx, t.org_id, scope.id()).await?;
    no_content(t).await
}

// ---- Members ----

/// The board's memberships (a bare array).
#[utoipa::path(get, path = "/api/boards/{id}/members/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::BoardMemberObj>), (status = 404)))]
pub async fn members(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    read(t, Scope::Board(parse_id(&id)?), View::Members).await
}

/// The board's owner or admins add a member of the org with a role (default `member`).
#[utoipa::path(post, path = "/api/boards/{id}/members/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::MemberBody,
    responses((status = 201, body = dto::BoardMemberObj), (status = 400), (status = 403), (status = 404)))]
pub async fn add_member(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(&id)?);
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    let mut errors = FieldErrors::new();
    let key = if body.contains_key("profile") {
        "profile"
    } else {
        "profile_id"
    };
    let mut profile = match fk(&body, key, &mut errors) {
        Some(Some(p)) => Some(vec![p]),
        Some(None) => {
            errors.add("profile", "This field may not be null.");
            None
        }
        None if !errors.has(key) => {
            errors.add("profile", "This field is required.");
            None
        }
        None => None,
    };
    let role = dto::member_role(&body, false, &mut errors).unwrap_or(Role::Member);
    relations::check(
        &mut t.tx,
        t.org_id,
        &mut [Rel::new("profile", Kind::Profile, &mut profile)],
        None,
        &mut errors,
    )
    .await?;
    errors.into_result()?;
    let Some(&profile) = profile.as_ref().and_then(|p| p.first()) else {
        return Err(ApiError::field("profile", "This field is required."));
    };
    if profile == a.owner {
        return Err(ApiError::field(
            "profile",
            "The owner is already on the board.",
        ));
    }
    let v = Viewer::of(&t);
    let Some(member) = model::insert_member(&mut t.tx, &v, a.board, profile, role).await? else {
        return Err(ApiError::field(
            "profile",
            "This member is already on the board.",
        ));
    };
    written(t, StatusCode::CREATED, scope, View::Member, Some(member)).await
}

/// PUT and PATCH: the board's owner or admins change a member's role (not the owner's).
async fn write_member(
    mut t: Tenant,
    raw_id: &str,
    raw_member: &str,
    body: Map<String, Value>,
) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(raw_id)?);
    let member = parse_id(raw_member)?;
    let a = lock(&mut t, scope, Role::Admin, PERMISSION_DENIED).await?;
    let (profile, _) = model::membership(&mut t.tx, t.org_id, a.board, member)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut errors = FieldErrors::new();
    let role = dto::member_role(&body, true, &mut errors);
    if profile == a.owner {
        errors.add("role", "The owner's role cannot be changed.");
    }
    errors.into_result()?;
    let Some(role) = role else {
        return Err(ApiError::field("role", "This field is required."));
    };
    let v = Viewer::of(&t);
    model::set_member_role(&mut t.tx, &v, member, role).await?;
    written(t, StatusCode::OK, scope, View::Member, Some(member)).await
}

#[utoipa::path(put, path = "/api/boards/{id}/members/{member_id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("member_id" = Uuid, Path)), request_body = dto::MemberRoleBody,
    responses((status = 200, body = dto::BoardMemberObj), (status = 400), (status = 403), (status = 404)))]
pub async fn put_member(
    t: Tenant,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_member(t, &id, &member, body).await
}

#[utoipa::path(patch, path = "/api/boards/{id}/members/{member_id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("member_id" = Uuid, Path)), request_body = dto::MemberRoleBody,
    responses((status = 200, body = dto::BoardMemberObj), (status = 400), (status = 403), (status = 404)))]
pub async fn patch_member(
    t: Tenant,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_member(t, &id, &member, body).await
}

/// The board's owner or admins remove a member; any member may leave. The owner stays.
#[utoipa::path(delete, path = "/api/boards/{id}/members/{member_id}/", tag = "boards", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("member_id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 400), (status = 403), (status = 404)))]
pub async fn delete_member(
    mut t: Tenant,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    let scope = Scope::Board(parse_id(&id)?);
    let member = parse_id(&member)?;
    let a = lock(&mut t, scope, Role::Viewer, PERMISSION_DENIED).await?;
    let (profile, _) = model::membership(&mut t.tx, t.org_id, a.board, member)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if profile == a.owner {
        return Err(ApiError::field(
            "profile",
            "The board owner cannot be removed.",
        ));
    }
    if profile != t.profile_id && a.role < Some(Role::Admin) {
        return Err(deny(StatusCode::FORBIDDEN, PERMISSION_DENIED));
    }
    model::delete_member(&mut t.tx, t.org_id, member).await?;
    no_content(t).await
}
