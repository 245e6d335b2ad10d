//! `/api/tags/`, `/api/tags/<id>/`, `/api/tags/<id>/restore/`: org tags. Any member reads; admins
//! create, edit, archive (soft delete) and restore. The slug is unique per org.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::tenant::{Tenant, Tx};
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::query::RawQuery;

pub const COLORS: &[&str] = &[
    "gray", "red", "orange", "amber", "yellow", "lime", "green", "emerald", "teal", "cyan", "sky",
    "blue", "indigo", "violet", "purple", "fuchsia", "pink", "rose",
];

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TagObj {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub color: String,
    pub description: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, slug, color, description, is_active, created_at";

/// Django's `slugify` for ASCII text: lowercase, keep `[a-z0-9_ -]`, runs of spaces and dashes
/// become one `-`, leading/trailing `-_` stripped. Other characters are dropped.
pub fn slugify(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || c.is_whitespace())
        .collect();
    let mut out = String::new();
    let mut dash = false;
    for c in kept.trim().chars() {
        if c == '-' || c.is_whitespace() {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

fn envelope(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn require_admin(t: &Tenant, msg: &str) -> Result<(), ApiError> {
    if t.is_admin() {
        Ok(())
    } else {
        Err(envelope(StatusCode::FORBIDDEN, json!(msg)))
    }
}

fn tag_not_found() -> ApiError {
    envelope(StatusCode::NOT_FOUND, json!("Tag not found."))
}

async fn get(tx: &mut Tx, org_id: Uuid, raw: &str) -> Result<TagObj, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| tag_not_found())?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tags WHERE id = $1 AND org_id = $2"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(tag_not_found)
}

/// A validated tag name and its slug.
fn name_and_slug(body: &serde_json::Map<String, Value>) -> Result<(String, String), ApiError> {
    let name = body
        .opt_str("name")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let msg = if name.is_empty() {
        "This field is required."
    } else if name.chars().count() > 50 {
        "Ensure this field has no more than 50 characters."
    } else if slugify(&name).is_empty() {
        "The name must contain letters or digits."
    } else {
        let slug = slugify(&name);
        return Ok((name, slug));
    };
    Err(envelope(StatusCode::BAD_REQUEST, json!({"name": [msg]})))
}

fn color(body: &serde_json::Map<String, Value>) -> Option<String> {
    body.opt_str("color")
        .map(|c| c.trim().to_lowercase())
        .filter(|c| COLORS.contains(&c.as_str()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagListResponse {
    pub tags_count: usize,
    pub tags: Vec<TagObj>,
}

/// `{"tag": TagObj}` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TagDetail {
    pub tag: TagObj,
}

/// `{"error": false, "message": ..., "tag": TagObj}` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TagSaved {
    pub error: bool,
    pub message: String,
    pub tag: TagObj,
}

#[utoipa::path(get, path = "/api/tags/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    params(("include_archived" = Option<bool>, Query), ("name" = Option<String>, Query, description = "Contains, case-insensitive")),
    responses((status = 200, body = TagListResponse)))]
pub async fn list(mut t: Tenant, q: RawQuery) -> ApiResult<Json<TagListResponse>> {
    let archived = q
        .get("include_archived")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let name = q
        .get("name")
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", super::teams::like_escape(s)));
    let tags: Vec<TagObj> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tags WHERE org_id = $1 AND (is_active OR $2) AND ($3::text IS NULL OR name ILIKE $3)
         ORDER BY name, id LIMIT 1000"
    )))
    .bind(t.org_id)
    .bind(archived)
    .bind(name)
    .fetch_all(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(TagListResponse {
        tags_count: tags.len(),
        tags,
    }))
}

/// Body of a tag's POST and PUT.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TagBody {
    pub name: String,
    /// One of `COLORS`; default `blue`.
    pub color: Option<String>,
    pub description: Option<String>,
}

#[utoipa::path(post, path = "/api/tags/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    request_body = TagBody,
    responses((status = 201, body = TagSaved, description = "`{\"error\": false, \"message\": \"Tag Created Successfully\", \"tag\": TagObj}`"),
              (status = 200, body = TagSaved, description = "An archived tag of that name was reactivated"),
              (status = 400, description = "`{\"error\": true, \"errors\": {\"name\": [...]}}`"), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn create(
    mut t: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&t, "Only admins can create tags")?;
    let (name, slug) = name_and_slug(&body)?;
    let description = body.opt_str("description");
    let existing: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT id, is_active FROM tags WHERE org_id = $1 AND slug = $2 FOR UPDATE")
            .bind(t.org_id)
            .bind(&slug)
            .fetch_optional(&mut *t.tx)
            .await?;
    let (status, message, id) = match existing {
        Some((_, true)) => {
            return Err(envelope(
                StatusCode::BAD_REQUEST,
                json!({"name": ["A tag with this name already exists."]}),
            ));
        }
        Some((id, false)) => {
            sqlx::query(
                "UPDATE tags SET is_active = true, name = $3, color = COALESCE($4, color),
                                 description = COALESCE($5, description), updated_at = now(), updated_by_id = $6
                 WHERE id = $1 AND org_id = $2",
            )
            .bind(id)
            .bind(t.org_id)
            .bind(&name)
            .bind(color(&body))
            .bind(&description)
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
            (StatusCode::OK, "Tag reactivated successfully", id)
        }
        None => {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO tags (created_at, updated_at, id, name, slug, created_by_id, org_id, updated_by_id,
                                   color, description, is_active)
                 VALUES (now(), now(), $1, $2, $3, $4, $5, $4, $6, $7, true)",
            )
            .bind(id)
            .bind(&name)
            .bind(&slug)
            .bind(t.user_id)
            .bind(t.org_id)
            .bind(color(&body).unwrap_or_else(|| "blue".into()))
            .bind(description.unwrap_or_default())
            .execute(&mut *t.tx)
            .await?;
            (StatusCode::CREATED, "Tag Created Successfully", id)
        }
    };
    let tag = get(&mut t.tx, t.org_id, &id.to_string()).await?;
    t.commit().await?;
    Ok((
        status,
        Json(json!({"error": false, "message": message, "tag": tag})),
    ))
}

#[utoipa::path(get, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TagDetail, description = "`{\"tag\": TagObj}`"), (status = 404, description = "`{\"error\": true, \"errors\": \"Tag not found.\"}`")))]
pub async fn detail(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let tag = get(&mut t.tx, t.org_id, &raw).await?;
    t.commit().await?;
    Ok(Json(json!({"tag": tag})))
}

#[utoipa::path(put, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = TagBody,
    responses((status = 200, body = TagSaved, description = "`{\"error\": false, \"message\": \"Tag Updated Successfully\", \"tag\": TagObj}`"),
              (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn update(
    mut t: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    require_admin(&t, "Only admins can update tags")?;
    let tag = get(&mut t.tx, t.org_id, &raw).await?;
    let (name, slug) = name_and_slug(&body)?;
    let (clash,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM tags WHERE org_id = $1 AND slug = $2 AND id <> $3)",
    )
    .bind(t.org_id)
    .bind(&slug)
    .bind(tag.id)
    .fetch_one(&mut *t.tx)
    .await?;
    if clash {
        return Err(envelope(
            StatusCode::BAD_REQUEST,
            json!({"name": ["A tag with this name already exists."]}),
        ));
    }
    sqlx::query(
        "UPDATE tags SET name = $3, slug = $4, color = COALESCE($5, color), description = COALESCE($6, description),
                         updated_at = now(), updated_by_id = $7
         WHERE id = $1 AND org_id = $2",
    )
    .bind(tag.id)
    .bind(t.org_id)
    .bind(&name)
    .bind(&slug)
    .bind(color(&body))
    .bind(body.opt_str("description"))
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    let tag = get(&mut t.tx, t.org_id, &tag.id.to_string()).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Tag Updated Successfully", "tag": tag}),
    ))
}

async fn set_active(mut t: Tenant, raw: &str, active: bool) -> Result<(Tenant, TagObj), ApiError> {
    let tag = get(&mut t.tx, t.org_id, raw).await?;
    sqlx::query("UPDATE tags SET is_active = $3, updated_at = now(), updated_by_id = $4 WHERE id = $1 AND org_id = $2")
        .bind(tag.id)
        .bind(t.org_id)
        .bind(active)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
    let tag = get(&mut t.tx, t.org_id, raw).await?;
    Ok((t, tag))
}

/// Archives the tag (soft delete): links to records stay, it leaves the default list.
#[utoipa::path(delete, path = "/api/tags/{id}/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::leads::dto::MessageResponse, description = "`{\"error\": false, \"message\": \"Tag archived successfully\"}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn archive(t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    require_admin(&t, "Only admins can archive tags")?;
    let (t, _) = set_active(t, &raw, false).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Tag archived successfully"}),
    ))
}

#[utoipa::path(post, path = "/api/tags/{id}/restore/", tag = "tags", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TagSaved, description = "`{\"error\": false, \"message\": \"Tag restored successfully\", \"tag\": TagObj}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn restore(t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    require_admin(&t, "Only admins can restore tags")?;
    let (t, tag) = set_active(t, &raw, true).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Tag restored successfully", "tag": tag}),
    ))
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_like_django() {
        assert_eq!(slugify("Partner Referral"), "partner-referral");
        assert_eq!(slugify("  Hello -- World!! "), "hello-world");
        assert_eq!(slugify("_x_"), "x");
        assert_eq!(slugify("!!!"), "");
    }
}
