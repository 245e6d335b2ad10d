//! `/api/emails/templates/...`: the org's e-mail templates. Shared ones are managed by admins
//! and offered to every member; personal ones belong to their author alone.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto;
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;
use crate::http::pagination::Page;
use crate::http::parse_id;

const OBJ: &str = "json_build_object('id', m.id, 'name', m.name, 'subject', m.subject, 'body', m.body,
    'is_shared', m.is_shared,
    'created_by', CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', u.id, 'email', u.email) END,
    'created_at', m.created_at, 'updated_at', m.updated_at)";

fn json_text(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Shared templates and the caller's own, by name.
#[utoipa::path(get, path = "/api/emails/templates/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = dto::TemplateListResponse)))]
pub async fn list(mut t: Tenant, page: Page) -> ApiResult<Response> {
    let q = format!(
        "SELECT json_build_object(
             'count', (SELECT count(*) FROM crm_email_template m WHERE m.org_id = $1 AND (m.is_shared OR m.created_by_id = $2)),
             'results', coalesce((SELECT json_agg(x.o ORDER BY x.name, x.id) FROM (
                 SELECT {OBJ} AS o, m.name, m.id FROM crm_email_template m LEFT JOIN users u ON u.id = m.created_by_id
                 WHERE m.org_id = $1 AND (m.is_shared OR m.created_by_id = $2)
                 ORDER BY m.name, m.id LIMIT $3 OFFSET $4) x), '[]'::json))::text"
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(t.org_id)
        .bind(t.user_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_one(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(json_text(body))
}

/// A template the caller may use: (is_shared, author, JSON).
async fn find(t: &mut Tenant, id: Uuid) -> Result<(bool, Option<Uuid>, String), ApiError> {
    let q = format!(
        "SELECT m.is_shared, m.created_by_id, {OBJ}::text FROM crm_email_template m
         LEFT JOIN users u ON u.id = m.created_by_id
         WHERE m.id = $1 AND m.org_id = $2 AND (m.is_shared OR m.created_by_id = $3) FOR UPDATE OF m"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .bind(t.org_id)
        .bind(t.user_id)
        .fetch_optional(&mut *t.tx)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Shared templates are changed by admins, personal ones by their author.
fn may_edit(t: &Tenant, shared: bool, author: Option<Uuid>) -> Result<(), ApiError> {
    if (shared && t.is_admin()) || (!shared && author == Some(t.user_id)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only admins manage shared templates; personal ones belong to their author.",
        ))
    }
}

fn validated(body: &Map<String, Value>, partial: bool) -> Result<dto::TemplateInput, ApiError> {
    let mut errors = FieldErrors::new();
    let input = dto::validate_template(body, partial, &mut errors);
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(invalid(errors))
    }
}

#[utoipa::path(post, path = "/api/emails/templates/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::TemplateBody,
    responses((status = 200, body = dto::TemplateSaved), (status = 400), (status = 403)))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let input = validated(&body, false)?;
    let shared = input.is_shared.unwrap_or(false);
    if shared && !t.is_admin() {
        return Err(ApiError::forbidden("Only admins create shared templates."));
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO crm_email_template (id, org_id, name, subject, body, is_shared, created_by_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(input.name.unwrap_or_default())
    .bind(input.subject.unwrap_or_default())
    .bind(input.body.unwrap_or_default())
    .bind(shared)
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Template created", "id": id}),
    ))
}

#[utoipa::path(get, path = "/api/emails/templates/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::TemplateObj), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let (_, _, obj) = find(&mut t, id).await?;
    t.commit().await?;
    Ok(json_text(obj))
}

async fn write(
    mut t: Tenant,
    raw: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw)?;
    let (shared, author, _) = find(&mut t, id).await?;
    may_edit(&t, shared, author)?;
    let input = validated(&body, partial)?;
    if input.is_shared == Some(true) && !t.is_admin() {
        return Err(ApiError::forbidden("Only admins share templates."));
    }
    // PUT: absent texts become empty.
    let keep = |v: Option<String>| {
        if partial {
            v
        } else {
            Some(v.unwrap_or_default())
        }
    };
    sqlx::query(
        "UPDATE crm_email_template SET name = coalesce($3, name), subject = coalesce($4, subject),
                body = coalesce($5, body), is_shared = coalesce($6, is_shared), updated_at = now()
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(input.name)
    .bind(keep(input.subject))
    .bind(keep(input.body))
    .bind(input.is_shared)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Template updated"})))
}

#[utoipa::path(put, path = "/api/emails/templates/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::TemplateBody,
    responses((status = 200, body = dto::EmailMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

#[utoipa::path(patch, path = "/api/emails/templates/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::TemplateBody, description = "Any of these"),
    responses((status = 200, body = dto::EmailMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// E-mails made from it keep their text (their `template` becomes null).
#[utoipa::path(delete, path = "/api/emails/templates/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EmailMessage), (status = 403), (status = 404)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let (shared, author, _) = find(&mut t, id).await?;
    may_edit(&t, shared, author)?;
    sqlx::query("DELETE FROM crm_email_template WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    t.commit().await?;
    let _ = StatusCode::OK;
    Ok(Json(json!({"error": false, "message": "Template deleted"})))
}
