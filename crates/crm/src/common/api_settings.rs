//! `/api/api-settings/` and `/api/api-settings/<id>/`: keys for the website lead form
//! (`POST /api/leads/create-from-site/`). Admins only (upstream lets any member in). The nested
//! org never carries the org API key, and every linked profile or tag is checked against the org.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ids;
use super::profiles::{self, ProfileObj};
use super::tags;
use crate::auth::dto::{OrgMini, UserMini};
use crate::db::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::parse_id;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiSettingObj {
    /// Not in upstream's list serializer; needed to address the object.
    pub id: Uuid,
    pub title: String,
    pub apikey: String,
    pub website: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserMini>,
    pub lead_assigned_to: Vec<ProfileObj>,
    #[schema(value_type = Vec<Object>)]
    pub tags: Vec<Value>,
    pub org: OrgMini,
}

fn envelope(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

type Row = (
    Uuid,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    Value,
    Value,
);

/// Settings objects of the org (all, or one): two queries plus one for the linked profiles.
async fn load(t: &mut Tenant, one: Option<Uuid>) -> Result<Vec<ApiSettingObj>, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.title, s.apikey, s.website, s.created_at, u.id, u.email, u.profile_pic, o.name,
                COALESCE((SELECT json_agg(l.profile_id ORDER BY l.id) FROM \"apiSettings_lead_assigned_to\" l
                          WHERE l.apisettings_id = s.id), '[]'),
                COALESCE((SELECT json_agg(json_build_object(
                              'created_at', g.created_at, 'updated_at', g.updated_at, 'created_by_id', g.created_by_id,
                              'updated_by_id', g.updated_by_id, 'id', g.id, 'name', g.name, 'slug', g.slug,
                              'color', g.color, 'description', g.description, 'is_active', g.is_active,
                              'org_id', g.org_id) ORDER BY l.id)
                          FROM \"apiSettings_tags\" l JOIN tags g ON g.id = l.tags_id
                          WHERE l.apisettings_id = s.id), '[]')
         FROM \"apiSettings\" s JOIN organization o ON o.id = s.org_id
         LEFT JOIN users u ON u.id = s.created_by_id
         WHERE s.org_id = $1 AND ($2::uuid IS NULL OR s.id = $2)
         ORDER BY s.created_at DESC, s.id LIMIT 1000",
    )
    .bind(t.org_id)
    .bind(one)
    .fetch_all(&mut *t.tx)
    .await?;
    let profile_ids: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| serde_json::from_value::<Vec<Uuid>>(r.9.clone()).unwrap_or_default())
        .collect();
    let loaded = profiles::load(&mut t.tx, t.org_id, &profile_ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let assigned: Vec<Uuid> = serde_json::from_value(r.9).unwrap_or_default();
            ApiSettingObj {
                id: r.0,
                title: r.1,
                apikey: r.2,
                website: r.3,
                created_at: r.4,
                created_by: match (r.5, r.6) {
                    (Some(id), Some(email)) => Some(UserMini {
                        id,
                        email,
                        profile_pic: r.7,
                    }),
                    _ => None,
                },
                lead_assigned_to: assigned
                    .iter()
                    .filter_map(|id| loaded.iter().find(|p| p.id == *id).cloned())
                    .collect(),
                tags: match r.10 {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                },
                org: OrgMini {
                    id: t.org_id,
                    name: r.8,
                    api_key: None,
                },
            }
        })
        .collect())
}

/// Upstream's website rules: URL syntax, an http(s) scheme, a host with a TLD and an optional
/// port, no path.
fn check_website(w: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(w).map_err(|_| "Enter a valid URL.")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("Please provide valid schema");
    }
    let rest = w.split_once("://").map(|x| x.1).unwrap_or("");
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = host.rsplit_once('.').is_some_and(|(name, tld)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && (2..=63).contains(&tld.len())
            && tld.chars().all(|c| c.is_ascii_alphabetic())
    });
    let port_ok =
        port.is_none_or(|p| (2..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(
            "Please provide a valid URL with schema and without trailing slash - Example: http://google.com",
        )
    }
}

struct Input {
    title: Option<String>,
    website: Option<Option<String>>,
    assigned: Option<Vec<Uuid>>,
    tags: Option<Vec<String>>,
}

fn validate(body: &Map<String, Value>, partial: bool) -> Result<Input, ApiError> {
    let mut errors = Map::new();
    let title = match body.opt_str("title").map(|s| s.trim().to_string()) {
        Some(t) if t.is_empty() => {
            errors.insert("title".into(), json!(["This field may not be blank."]));
            None
        }
        Some(t) => Some(t),
        None if !partial => {
            errors.insert("title".into(), json!(["This field is required."]));
            None
        }
        None => None,
    };
    let website = match body.get("website") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => match body.opt_str("website").map(|s| s.trim().to_string()) {
            Some(w) if w.is_empty() => Some(None),
            Some(w) if w.len() > 255 => {
                errors.insert(
                    "website".into(),
                    json!(["Ensure this field has no more than 255 characters."]),
                );
                None
            }
            Some(w) => match check_website(&w) {
                Ok(()) => Some(Some(w)),
                Err(m) => {
                    errors.insert("website".into(), json!([m]));
                    None
                }
            },
            None => {
                errors.insert("website".into(), json!(["Not a valid string."]));
                None
            }
        },
    };
    let tags = match body.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        Some(Value::String(s)) => {
            Some(serde_json::from_str::<Vec<String>>(s).unwrap_or_else(|_| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            }))
        }
        Some(_) => {
            errors.insert("tags".into(), json!(["Expected a list of tag names."]));
            None
        }
    };
    if let Some(t) = &tags
        && t.iter()
            .any(|n| n.chars().count() > 50 || tags::slugify(n).is_empty())
    {
        errors.insert(
            "tags".into(),
            json!(["Tag names must have letters or digits and at most 50 characters."]),
        );
    }
    if !errors.is_empty() {
        return Err(envelope(StatusCode::BAD_REQUEST, Value::Object(errors)));
    }
    let assigned = ids::uuid_list(body, "lead_assigned_to")
        .map_err(|e| envelope(StatusCode::BAD_REQUEST, e.body))?;
    Ok(Input {
        title,
        website,
        assigned,
        tags,
    })
}

/// Replaces the links; tags are found by name in the org (active or not) or created.
async fn link(t: &mut Tenant, id: Uuid, input: &Input) -> Result<(), ApiError> {
    if let Some(assigned) = &input.assigned {
        ids::ensure_profiles(&mut t.tx, t.org_id, assigned).await?;
        sqlx::query("DELETE FROM \"apiSettings_lead_assigned_to\" WHERE apisettings_id = $1")
            .bind(id)
            .execute(&mut *t.tx)
            .await?;
        sqlx::query("INSERT INTO \"apiSettings_lead_assigned_to\" (apisettings_id, profile_id) SELECT $1, unnest($2::uuid[])")
            .bind(id)
            .bind(assigned)
            .execute(&mut *t.tx)
            .await?;
    }
    if let Some(names) = &input.tags {
        let slugs: Vec<String> = names.iter().map(|n| tags::slugify(n)).collect();
        // Missing tags are created in the org; existing ones (by slug) are reused.
        sqlx::query(
            "INSERT INTO tags (created_at, updated_at, id, name, slug, created_by_id, org_id, updated_by_id, color, description, is_active)
             SELECT now(), now(), gen_random_uuid(), n.name, n.slug, $3, $1, $3, 'blue', '', true
             FROM (SELECT DISTINCT ON (slug) name, slug FROM unnest($2::text[], $4::text[]) AS x(name, slug)) n
             WHERE NOT EXISTS (SELECT 1 FROM tags g WHERE g.org_id = $1 AND g.slug = n.slug)",
        )
        .bind(t.org_id)
        .bind(names)
        .bind(t.user_id)
        .bind(&slugs)
        .execute(&mut *t.tx)
        .await?;
        sqlx::query("DELETE FROM \"apiSettings_tags\" WHERE apisettings_id = $1")
            .bind(id)
            .execute(&mut *t.tx)
            .await?;
        sqlx::query(
            "INSERT INTO \"apiSettings_tags\" (apisettings_id, tags_id)
             SELECT $1, g.id FROM tags g WHERE g.org_id = $2 AND g.slug = ANY($3)",
        )
        .bind(id)
        .bind(t.org_id)
        .bind(&slugs)
        .execute(&mut *t.tx)
        .await?;
    }
    Ok(())
}

/// 64 lowercase hex characters, as upstream (two v4 UUIDs: 244 random bits).
fn new_apikey() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiSettingsList {
    pub error: bool,
    pub api_settings: Vec<ApiSettingObj>,
    pub users: Vec<ProfileObj>,
}

#[utoipa::path(get, path = "/api/api-settings/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = ApiSettingsList), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn list(mut t: Tenant) -> ApiResult<Json<ApiSettingsList>> {
    t.require_admin()?;
    let api_settings = load(&mut t, None).await?;
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT p.id FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active ORDER BY u.email LIMIT 2000",
    )
    .bind(t.org_id)
    .fetch_all(&mut *t.tx)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
    let mut users = profiles::load(&mut t.tx, t.org_id, &ids).await?;
    users.sort_by(|a, b| a.user_details.email.cmp(&b.user_details.email));
    t.commit().await?;
    Ok(Json(ApiSettingsList {
        error: false,
        api_settings,
        users,
    }))
}

/// Body of an API setting's POST and PUT (PATCH: `title` and/or `website`).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ApiSettingsBody {
    pub title: Option<String>,
    pub website: Option<String>,
    /// Profile ids new web-form leads are assigned to.
    pub lead_assigned_to: Option<Vec<uuid::Uuid>>,
    /// Tag names given to new web-form leads.
    pub tags: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/api-settings/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    request_body = ApiSettingsBody,
    responses((status = 201, description = "`{\"error\": false, \"message\": \"API key added sucessfully\", \"id\"}`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {...}}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn create(
    mut t: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    t.require_admin()?;
    let input = validate(&body, false)?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO \"apiSettings\" (created_at, updated_at, id, title, apikey, website, created_by_id, updated_by_id, org_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(id)
    .bind(input.title.clone().unwrap_or_default())
    .bind(new_apikey())
    .bind(input.website.clone().flatten())
    .bind(t.user_id)
    .bind(t.org_id)
    .execute(&mut *t.tx)
    .await?;
    link(&mut t, id, &input).await?;
    t.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"error": false, "message": "API key added sucessfully", "id": id})),
    ))
}

async fn find(t: &mut Tenant, raw: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(raw)?;
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM \"apiSettings\" WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(t.org_id)
            .fetch_optional(&mut *t.tx)
            .await?;
    row.map(|r| r.0).ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/api/api-settings/{id}/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "`{\"error\": false, \"domain\": ApiSettingObj}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn detail(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let id = find(&mut t, &raw).await?;
    let obj = load(&mut t, Some(id))
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "domain": obj})))
}

async fn update(
    mut t: Tenant,
    raw: String,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let id = find(&mut t, &raw).await?;
    let mut input = validate(&body, partial)?;
    if partial {
        // PATCH edits title and website only, as upstream.
        input.assigned = None;
        input.tags = None;
    } else {
        input.assigned.get_or_insert_with(Vec::new);
        input.tags.get_or_insert_with(Vec::new);
    }
    sqlx::query(
        "UPDATE \"apiSettings\" SET title = COALESCE($3, title),
                website = CASE WHEN $4 THEN $5 ELSE website END, updated_at = now(), updated_by_id = $6
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(&input.title)
    .bind(input.website.is_some() || !partial)
    .bind(input.website.clone().flatten())
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    link(&mut t, id, &input).await?;
    t.commit().await?;
    let message = if partial {
        "API setting Updated successfully"
    } else {
        "API setting Updated sucessfully"
    };
    Ok(Json(json!({"error": false, "message": message})))
}

#[utoipa::path(put, path = "/api/api-settings/{id}/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = ApiSettingsBody,
    responses((status = 200, description = "`{\"error\": false, \"message\": \"API setting Updated sucessfully\"}`"), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn put(
    t: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, raw, body, false).await
}

#[utoipa::path(patch, path = "/api/api-settings/{id}/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = ApiSettingsBody, description = "`title` and/or `website`"),
    responses((status = 200, description = "`{\"error\": false, \"message\": \"API setting Updated successfully\"}`"), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn patch(
    t: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, raw, body, true).await
}

#[utoipa::path(delete, path = "/api/api-settings/{id}/", tag = "api-settings", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::leads::dto::MessageResponse, description = "`{\"error\": false, \"message\": \"API setting deleted sucessfully\"}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn delete(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let id = find(&mut t, &raw).await?;
    sqlx::query("SELECT crm_unlink('apiSettings', $1)")
        .bind(id)
        .execute(&mut *t.tx)
        .await?;
    sqlx::query("DELETE FROM \"apiSettings\" WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "API setting deleted sucessfully"}),
    ))
}
