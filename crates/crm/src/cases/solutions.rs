//! The knowledge base, `/api/cases/solutions/...`: list/create (unreachable upstream, shadowed by
//! the case detail route), detail/update/delete, publish/unpublish, and links to cases (`cases`
//! in a body). Any member reads; the author or an admin writes (upstream: anyone). Errors keep
//! upstream's bare DRF field dicts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::dto::{self, SolutionInput};
use super::model::{COMMENTS_CTE, NESTS, VISIBILITY, case_objects};
use crate::common::render;
use crate::db::Tenant;
use crate::db::sql::{self, Bind, LinkList, Sql, Table, Val};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::list::{Filter as F, ListSpec, json_bytes};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;

const TABLE: Table = Table {
    name: "solution",
    returning: "id::text",
};

const LIST: ListSpec = ListSpec {
    alias: "s",
    filters: &[
        F::Exact("status", "s.status"),
        F::Bool("is_published", "s.is_published"),
        F::Search("search", &["s.title", "s.description"]),
    ],
    orderable: &["created_at", "updated_at", "title", "status"],
};

/// SolutionObj over alias `s` (`$1` is the org).
const SOLUTION_OBJ: &str = "json_build_object('id', s.id, 'title', s.title, 'description', s.description,
    'status', s.status, 'is_published', s.is_published,
    'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = s.org_id),
    'case_count', (SELECT count(*) FROM solution_cases x JOIN \"case\" c ON c.id = x.case_id
                   WHERE x.solution_id = s.id AND c.org_id = $1),
    'created_at', crm_ts(s.created_at), 'updated_at', crm_ts(s.updated_at),
    'created_by', s.created_by_id, 'updated_by', s.updated_by_id)";

/// The text of a JSON document PostgreSQL rendered, as the response.
fn json_text(status: StatusCode, body: String) -> Response {
    (status, json_bytes(body.into())).into_response()
}

/// One solution as SolutionObj (JSON text); `None` outside the org.
async fn solution_obj(t: &mut Tenant, id: Uuid) -> Result<Option<String>, ApiError> {
    let text =
        format!("SELECT {SOLUTION_OBJ}::text FROM solution s WHERE s.org_id = $1 AND s.id = $2");
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .fetch_optional(&mut *t.tx)
        .await?)
}

/// The solution's author (row locked), `None` outside the org.
async fn lock(t: &mut Tenant, id: Uuid) -> Result<(Option<Uuid>, String, bool), ApiError> {
    let row: Option<(Option<Uuid>, String, bool)> = sqlx::query_as(
        "SELECT created_by_id, status, is_published FROM solution WHERE org_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(t.org_id)
    .bind(id)
    .fetch_optional(&mut *t.tx)
    .await?;
    let row = row.ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || row.0 == Some(t.user_id)) {
        return Err(ApiError::permission_denied());
    }
    Ok(row)
}

/// Checks the `cases` to link: cases of the org the caller may see.
async fn check_cases(
    t: &mut Tenant,
    input: &mut SolutionInput,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let Some(ids) = input.cases.as_mut() else {
        return Ok(());
    };
    if ids.is_empty() {
        return Ok(());
    }
    let text = format!(
        "SELECT coalesce(array_agg(c.id), '{{}}') FROM \"case\" c
         WHERE c.org_id = $1 AND c.id = ANY($2) AND {}",
        VISIBILITY.sql("$3", "$4", "$5")
    );
    let found: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(ids.clone())
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_one(&mut *t.tx)
        .await?;
    for id in ids.iter() {
        if !found.contains(id) {
            errors.add(
                "cases",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        }
    }
    ids.dedup();
    Ok(())
}

async fn link_cases(t: &mut Tenant, id: Uuid, input: &SolutionInput) -> Result<(), ApiError> {
    let lists = [LinkList {
        table: "solution_cases",
        col: "case_id",
        ids: input.cases.as_deref(),
    }];
    sql::sync_links(&mut t.tx, "solution_id", id, t.profile_id, "-", &lists).await?;
    Ok(())
}

fn publish_error() -> &'static str {
    "Only approved solutions can be published. Please set status to 'approved' first."
}

/// Solutions of the org, newest first, in DRF's envelope (`count`, absolute `next`/`previous`).
#[utoipa::path(get, path = "/api/cases/solutions/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
           ("status" = Option<String>, Query, description = "draft | reviewed | approved"),
           ("is_published" = Option<bool>, Query),
           ("search" = Option<String>, Query, description = "title or description contains"),
           ("ordering" = Option<String>, Query)),
    responses((status = 200, body = dto::SolutionList), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Json<Value>> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(t.org_id));
    let mut cond = String::from("s.org_id = $1");
    if !t.is_admin() {
        // A member reads the published knowledge base and their own drafts.
        let me = sql.p(Bind::Uuid(t.user_id));
        cond.push_str(&format!(" AND (s.is_published OR s.created_by_id = {me})"));
    }
    for c in LIST.conditions(&q, &mut sql)? {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "SELECT json_build_object('count', (SELECT count(*) FROM solution s WHERE {cond}),
            'results', (SELECT coalesce(json_agg({SOLUTION_OBJ} ORDER BY s.rn), '[]') FROM
                (SELECT s.*, row_number() OVER () AS rn FROM
                    (SELECT s.* FROM solution s WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s) s))::text",
        order = LIST.order_by(&q),
    );
    let body: String = sql::scalar(text, sql.binds).fetch_one(&mut *t.tx).await?;
    t.commit().await?;
    let mut body: Map<String, Value> = serde_json::from_str(&body).map_err(ApiError::internal)?;
    let count = body["count"].as_i64().unwrap_or(0);
    let base = crate::http::base_url::current(&state.cfg);
    let (next, previous) = page.links(&base, "/api/cases/solutions/", &q, count);
    body.insert("next".into(), next.into());
    body.insert("previous".into(), previous.into());
    Ok(Json(Value::Object(body)))
}

/// Any member; `status` defaults to draft. Only an approved solution may be published.
#[utoipa::path(post, path = "/api/cases/solutions/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::SolutionBody,
    responses((status = 201, body = dto::SolutionObj), (status = 400, description = "`{field: [msg]}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate_solution(&body, true, &mut errors);
    check_cases(&mut t, &mut input, &mut errors).await?;
    let status = sql_text(&input.fields, "status").unwrap_or("draft");
    if published(&input.fields) == Some(true) && status != "approved" {
        errors.add("is_published", publish_error());
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    let id = Uuid::new_v4();
    let defaults = [
        ("status", Val::Text(Some("draft".into()))),
        ("is_published", Val::Bool(false)),
    ];
    sql::insert(
        &mut t.tx,
        &TABLE,
        t.org_id,
        Some(t.user_id),
        id,
        &input.fields,
        &defaults,
    )
    .await?;
    link_cases(&mut t, id, &input).await?;
    let obj = solution_obj(&mut t, id).await?.unwrap_or_default();
    t.commit().await?;
    Ok(json_text(StatusCode::CREATED, obj))
}

fn sql_text<'a>(fields: &'a [(&'static str, Val)], col: &str) -> Option<&'a str> {
    crate::http::fields::text(fields, col)
}

fn published(fields: &[(&'static str, Val)]) -> Option<bool> {
    fields.iter().find_map(|(c, v)| match v {
        Val::Bool(b) if *c == "is_published" => Some(*b),
        _ => None,
    })
}

/// SolutionDetailObj: the solution with its first 10 linked cases the caller may see, as CaseObj.
#[utoipa::path(get, path = "/api/cases/solutions/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::SolutionDetailObj), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT c.* FROM \"case\" c JOIN solution_cases x ON x.case_id = c.id
                 WHERE x.solution_id = $2 AND c.org_id = $1 AND {vis}
                 ORDER BY c.created_at DESC, c.id DESC LIMIT 10) s),
         {nested},
         {COMMENTS_CTE}
         SELECT json_build_object('id', s.id, 'title', s.title, 'description', s.description,
            'status', s.status, 'is_published', s.is_published,
            'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = s.org_id),
            'linked_cases', {objects},
            'created_at', crm_ts(s.created_at), 'updated_at', crm_ts(s.updated_at),
            'created_by', s.created_by_id, 'updated_by', s.updated_by_id)::text
         FROM solution s WHERE s.org_id = $1 AND s.id = $2 AND ($3 OR s.is_published OR s.created_by_id = $4)",
        nested = render::nested_ctes("pg", NESTS),
        objects = case_objects(),
    );
    let body: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    let body = body.ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    Ok(json_text(StatusCode::OK, body))
}

/// PUT (`title` and `description` required) and PATCH: the author or an admin. A status other
/// than approved unpublishes; publishing needs approved (the resulting status, not the stored one).
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Response> {
    let id = parse_id(raw_id)?;
    let (_, stored_status, _) = lock(&mut t, id).await?;
    let mut errors = FieldErrors::new();
    let mut input = dto::validate_solution(&body, !partial, &mut errors);
    check_cases(&mut t, &mut input, &mut errors).await?;
    let status = sql_text(&input.fields, "status")
        .unwrap_or(&stored_status)
        .to_string();
    match published(&input.fields) {
        Some(true) if status != "approved" => errors.add("is_published", publish_error()),
        None if status != "approved" => input.fields.push(("is_published", Val::Bool(false))),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    sql::update(&mut t.tx, &TABLE, t.org_id, t.user_id, id, &input.fields).await?;
    link_cases(&mut t, id, &input).await?;
    let obj = solution_obj(&mut t, id).await?.unwrap_or_default();
    t.commit().await?;
    Ok(json_text(StatusCode::OK, obj))
}

#[utoipa::path(put, path = "/api/cases/solutions/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::SolutionBody,
    responses((status = 200, body = dto::SolutionObj), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body, false).await
}

#[utoipa::path(patch, path = "/api/cases/solutions/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::SolutionBody, description = "Any of these"),
    responses((status = 200, body = dto::SolutionObj), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body, true).await
}

/// The author or an admin; its case links go. 204, as upstream.
#[utoipa::path(delete, path = "/api/cases/solutions/{id}/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    lock(&mut t, id).await?;
    sqlx::query(
        "WITH l AS (DELETE FROM solution_cases WHERE solution_id = $2)
         DELETE FROM solution WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_published(mut t: Tenant, raw_id: &str, publish: bool) -> ApiResult<Response> {
    let id = parse_id(raw_id)?;
    let (_, status, _) = lock(&mut t, id).await?;
    if publish && status != "approved" {
        return Err(ApiError::bad_request(
            "Only approved solutions can be published. Please approve it first.",
        ));
    }
    sql::update(
        &mut t.tx,
        &TABLE,
        t.org_id,
        t.user_id,
        id,
        &[("is_published", Val::Bool(publish))],
    )
    .await?;
    let obj = solution_obj(&mut t, id).await?.unwrap_or_default();
    t.commit().await?;
    Ok(json_text(StatusCode::OK, obj))
}

/// Publishes an approved solution (the author or an admin); 400 otherwise.
#[utoipa::path(post, path = "/api/cases/solutions/{id}/publish/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::SolutionObj), (status = 400), (status = 403), (status = 404)))]
pub async fn publish(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    set_published(t, &id, true).await
}

#[utoipa::path(post, path = "/api/cases/solutions/{id}/unpublish/", tag = "cases", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::SolutionObj), (status = 403), (status = 404)))]
pub async fn unpublish(t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    set_published(t, &id, false).await
}
