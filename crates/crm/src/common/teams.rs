//! `/api/teams/` and `/api/teams/<id>/`: org admins manage teams of members. Unlike upstream, no
//! `org` body field is required (the frontend never sends one), members must be active profiles
//! of the org, and unknown ids are 404s instead of 500s.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Action};
use super::ids;
use super::profiles::{self, ProfileObj};
use crate::auth::dto::UserMini;
use crate::db::tenant::{Tenant, Tx};
use crate::error::{ApiError, ApiResult};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamObj {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub users: Vec<ProfileObj>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserMini>,
}

type TeamRow = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

/// Team objects by id, in the given order; three queries whatever the number of teams.
pub async fn load(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<TeamObj>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<TeamRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.description, t.created_at, u.id, u.email, u.profile_pic
         FROM teams t LEFT JOIN users u ON u.id = t.created_by_id
         WHERE t.org_id = $1 AND t.id = ANY($2)",
    )
    .bind(org_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let links: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT tu.teams_id, tu.profile_id FROM teams_users tu JOIN teams t ON t.id = tu.teams_id
         WHERE t.org_id = $1 AND tu.teams_id = ANY($2) ORDER BY tu.id",
    )
    .bind(org_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let member_ids: Vec<Uuid> = links.iter().map(|l| l.1).collect();
    let members: HashMap<Uuid, ProfileObj> = profiles::load(tx, org_id, &member_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut by_team: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (team, profile) in links {
        by_team.entry(team).or_default().push(profile);
    }
    let mut by_id: HashMap<Uuid, TeamObj> = rows
        .into_iter()
        .map(|r| {
            let users = by_team
                .get(&r.0)
                .map(|ps| ps.iter().filter_map(|p| members.get(p).cloned()).collect())
                .unwrap_or_default();
            let created_by = match (r.4, r.5) {
                (Some(id), Some(email)) => Some(UserMini {
                    id,
                    email,
                    profile_pic: r.6,
                }),
                _ => None,
            };
            (
                r.0,
                TeamObj {
                    id: r.0,
                    name: r.1,
                    description: r.2,
                    users,
                    created_at: r.3,
                    created_by,
                },
            )
        })
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Every team of the org, newest first.
pub async fn all(tx: &mut Tx, org_id: Uuid) -> Result<Vec<TeamObj>, sqlx::Error> {
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM teams WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 1000",
    )
    .bind(org_id)
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
    load(tx, org_id, &ids).await
}

fn envelope(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn require_admin(t: &Tenant) -> Result<(), ApiError> {
    if t.is_admin() {
        Ok(())
    } else {
        Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You don't have permission to perform this action."),
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamListResponse {
    pub per_page: i64,
    pub page_number: Vec<i64>,
    pub teams_count: i64,
    pub offset: Option<i64>,
    pub teams: Vec<TeamObj>,
}

/// Org teams, newest first. Filters: `team_name` (contains), `created_by` (user id),
/// `assigned_users` (profile ids, repeated or comma-separated: teams with any of them).
#[utoipa::path(get, path = "/api/teams/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("team_name" = Option<String>, Query),
           ("created_by" = Option<Uuid>, Query), ("assigned_users" = Option<String>, Query)),
    responses((status = 200, body = TeamListResponse), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn list(mut t: Tenant, page: Page, q: RawQuery) -> ApiResult<Json<TeamListResponse>> {
    require_admin(&t)?;
    let name = q
        .get("team_name")
        .filter(|s| !s.is_empty())
        .map(|s| format!("%{}%", like_escape(s)));
    let created_by = match q.get("created_by").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Uuid::parse_str(s)
                .map_err(|_| ApiError::field("created_by", "Must be a valid UUID."))?,
        ),
    };
    let mut assigned: Vec<Uuid> = Vec::new();
    for raw in q.all("assigned_users") {
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            assigned.push(
                Uuid::parse_str(part)
                    .map_err(|_| ApiError::field("assigned_users", "Must be a valid UUID."))?,
            );
        }
    }
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT t.id, count(*) OVER () FROM teams t
         WHERE t.org_id = $1 AND ($2::text IS NULL OR t.name ILIKE $2)
           AND ($3::uuid IS NULL OR t.created_by_id = $3)
           AND (cardinality($4::uuid[]) = 0 OR EXISTS (SELECT 1 FROM teams_users tu WHERE tu.teams_id = t.id AND tu.profile_id = ANY($4)))
         ORDER BY t.created_at DESC, t.id LIMIT $5 OFFSET $6",
    )
    .bind(t.org_id)
    .bind(&name)
    .bind(created_by)
    .bind(&assigned)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *t.tx)
    .await?;
    let count = match rows.first() {
        Some(r) => r.1,
        None => {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM teams t WHERE t.org_id = $1 AND ($2::text IS NULL OR t.name ILIKE $2)
                   AND ($3::uuid IS NULL OR t.created_by_id = $3)
                   AND (cardinality($4::uuid[]) = 0 OR EXISTS (SELECT 1 FROM teams_users tu WHERE tu.teams_id = t.id AND tu.profile_id = ANY($4)))",
            )
            .bind(t.org_id)
            .bind(&name)
            .bind(created_by)
            .bind(&assigned)
            .fetch_one(&mut *t.tx)
            .await?;
            n
        }
    };
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let teams = load(&mut t.tx, t.org_id, &ids).await?;
    t.commit().await?;
    let next = page.offset + teams.len() as i64;
    Ok(Json(TeamListResponse {
        per_page: page.limit,
        page_number: vec![page.offset / page.limit + 1],
        teams_count: count,
        // Upstream: null when this page reaches the end, 0 when the page is empty.
        offset: if teams.is_empty() {
            Some(0)
        } else if next >= count {
            None
        } else {
            Some(next)
        },
        teams,
    }))
}

pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Validated name/description; `partial` leaves absent keys alone.
struct TeamInput {
    name: Option<String>,
    description: Option<String>,
    members: Option<Vec<Uuid>>,
}

async fn validate(
    t: &mut Tenant,
    body: &Map<String, Value>,
    partial: bool,
    team: Option<Uuid>,
) -> Result<TeamInput, ApiError> {
    let mut errors = Map::new();
    let name = match body.opt_str("name").map(|s| s.trim().to_string()) {
        Some(n) if n.is_empty() => {
            errors.insert("name".into(), json!(["This field may not be blank."]));
            None
        }
        Some(n) if n.chars().count() > 100 => {
            errors.insert(
                "name".into(),
                json!(["Ensure this field has no more than 100 characters."]),
            );
            None
        }
        Some(n) => Some(n),
        None if !partial => {
            errors.insert("name".into(), json!(["This field is required."]));
            None
        }
        None => None,
    };
    if let Some(n) = &name {
        let (dup,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM teams WHERE org_id = $1 AND lower(name) = lower($2) AND id IS DISTINCT FROM $3)",
        )
        .bind(t.org_id)
        .bind(n)
        .bind(team)
        .fetch_one(&mut *t.tx)
        .await?;
        if dup {
            errors.insert("name".into(), json!(["Team already exists with this name"]));
        }
    }
    if !errors.is_empty() {
        return Err(envelope(StatusCode::BAD_REQUEST, Value::Object(errors)));
    }
    let description = body.opt_str("description").map(|s| s.trim().to_string());
    // POST sends `users` (+ `assign_users: true`); PUT sends the ids in `assign_users`.
    let members = match ids::uuid_list(body, "users")? {
        Some(m) => Some(m),
        None if matches!(body.get("assign_users"), Some(Value::Array(_))) => {
            ids::uuid_list(body, "assign_users")?
        }
        None => None,
    };
    if let Some(m) = &members {
        ids::ensure_profiles(&mut t.tx, t.org_id, m).await?;
    }
    Ok(TeamInput {
        name,
        description: description.or_else(|| (!partial).then(String::new)),
        members,
    })
}

async fn set_members(t: &mut Tenant, team: Uuid, members: &[Uuid]) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM teams_users WHERE teams_id = $1")
        .bind(team)
        .execute(&mut *t.tx)
        .await?;
    sqlx::query("INSERT INTO teams_users (teams_id, profile_id) SELECT $1, unnest($2::uuid[])")
        .bind(team)
        .bind(members)
        .execute(&mut *t.tx)
        .await?;
    Ok(())
}

/// Body of a team's POST, PUT and PATCH (all optional in PATCH). Members are profile ids, in
/// `users` or in `assign_users` (upstream's PUT name).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TeamBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub users: Option<Vec<uuid::Uuid>>,
    /// Profile ids (PUT), or `true` with `users` (POST).
    pub assign_users: Option<serde_json::Value>,
}

/// `{"team": TeamObj}` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TeamDetail {
    pub team: TeamObj,
}

/// `POST /api/teams/` 200 body (documentation only; the handler builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TeamCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

#[utoipa::path(post, path = "/api/teams/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    request_body = TeamBody,
    responses((status = 200, body = TeamCreated, description = "`{\"error\": false, \"message\": \"Team Created Successfully\", \"id\"}`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {\"name\": [...]}}`"), (status = 403), (status = 404, description = "A member is not in the org")),
    extensions(("x-admin-only" = json!(true))))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    require_admin(&t)?;
    let input = validate(&mut t, &body, false, None).await?;
    let id = Uuid::new_v4();
    let name = input.name.unwrap_or_default();
    sqlx::query(
        "INSERT INTO teams (created_at, updated_at, id, name, description, created_by_id, org_id, updated_by_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, $4)",
    )
    .bind(id)
    .bind(&name)
    .bind(input.description.unwrap_or_default())
    .bind(t.user_id)
    .bind(t.org_id)
    .execute(&mut *t.tx)
    .await?;
    if let Some(m) = &input.members {
        set_members(&mut t, id, m).await?;
    }
    activity::record(&mut t, Action::Create, "Team", id, &name).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Team Created Successfully", "id": id}),
    ))
}

async fn find(t: &mut Tenant, raw: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(raw)?;
    let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM teams WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    row.map(|r| r.0).ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/api/teams/{id}/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = TeamDetail, description = "`{\"team\": TeamObj}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn detail(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    require_admin(&t)?;
    let id = find(&mut t, &raw).await?;
    let team = load(&mut t.tx, t.org_id, &[id])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    Ok(Json(json!({"team": team})))
}

async fn update(
    mut t: Tenant,
    raw: String,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    require_admin(&t)?;
    let id = find(&mut t, &raw).await?;
    let input = validate(&mut t, &body, partial, Some(id)).await?;
    sqlx::query(
        "UPDATE teams SET name = COALESCE($3, name), description = COALESCE($4, description),
                          updated_at = now(), updated_by_id = $5
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(&input.name)
    .bind(&input.description)
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    match &input.members {
        Some(m) => set_members(&mut t, id, m).await?,
        // A full update without a member list empties the team, as upstream's PUT.
        None if !partial => set_members(&mut t, id, &[]).await?,
        None => {}
    }
    let (name,): (String,) = sqlx::query_as("SELECT name FROM teams WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .fetch_one(&mut *t.tx)
        .await?;
    activity::record(&mut t, Action::Update, "Team", id, &name).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Team Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/teams/{id}/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = TeamBody,
    responses((status = 200, body = crate::leads::dto::MessageResponse, description = "`{\"error\": false, \"message\": \"Team Updated Successfully\"}`"), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn put(
    t: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, raw, body, false).await
}

#[utoipa::path(patch, path = "/api/teams/{id}/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = TeamBody,
    responses((status = 200, body = crate::leads::dto::MessageResponse, description = "`{\"error\": false, \"message\": \"Team Updated Successfully\"}`"), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn patch(
    t: Tenant,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    update(t, raw, body, true).await
}

#[utoipa::path(delete, path = "/api/teams/{id}/", tag = "teams", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::leads::dto::MessageResponse, description = "`{\"error\": false, \"message\": \"Team Deleted Successfully\"}`"), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn delete(mut t: Tenant, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    require_admin(&t)?;
    let id = find(&mut t, &raw).await?;
    // Links from every module (lead_teams, document_teams, ...) go first: the FKs do not cascade.
    sqlx::query("SELECT crm_unlink('teams', $1)")
        .bind(id)
        .execute(&mut *t.tx)
        .await?;
    let (name,): (String,) =
        sqlx::query_as("DELETE FROM teams WHERE id = $1 AND org_id = $2 RETURNING name")
            .bind(id)
            .bind(t.org_id)
            .fetch_one(&mut *t.tx)
            .await?;
    activity::record(&mut t, Action::Delete, "Team", id, &name).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Team Deleted Successfully"}),
    ))
}
