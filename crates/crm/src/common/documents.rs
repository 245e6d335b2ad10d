//! `/api/documents/`, `/api/documents/<id>/` and `/api/documents/<id>/download/`: the org's
//! shared files. Admins see every document; other members see those they uploaded and those
//! shared with them (directly or through a team). Only the uploader or an admin may change or
//! delete a document (upstream lets sharees edit it, so a sharee could rewrite its share list
//! and replace its file). Fixed against upstream: no `org` form field,
//! list fields (`shared_to`, `teams`) work in multipart bodies, non-admin lists work, the
//! inactive page has a correct offset, PUT may keep the file and title, the creator may delete,
//! deleting removes the stored file, downloads need membership.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Action};
use super::comments::{Message, envelope};
use super::profiles::{self, ProfileObj};
use crate::auth::dto::{OrgMini, UserMini};
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;
use crate::storage::FormData;
use crate::storage::upload::{file_type, id_list};

const STATUSES: &[&str] = &["active", "inactive"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/documents/",
            get(list).post(create).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/documents/{pk}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/documents/{pk}/download/", get(download))
}

/// A team as upstream nests it in documents: the raw row.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct TeamRow {
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by_id: Option<Uuid>,
    pub updated_by_id: Option<Uuid>,
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub org_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentObj {
    pub id: Uuid,
    pub title: Option<String>,
    /// Authenticated download URL (upstream: the storage URL).
    pub document_file: String,
    /// The uploaded file's name.
    pub file_name: String,
    pub status: String,
    #[schema(value_type = Vec<ProfileObj>)]
    pub shared_to: Vec<Value>,
    pub teams: Vec<TeamRow>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserMini>,
    pub org: OrgMini,
}

#[derive(sqlx::FromRow)]
struct DocRow {
    id: Uuid,
    title: Option<String>,
    document_file: String,
    status: String,
    created_at: DateTime<Utc>,
    created_by_id: Option<Uuid>,
}

const DOC_COLUMNS: &str = "d.id, d.title, d.document_file, d.status, d.created_at, d.created_by_id";

/// Rows the caller may see ($1 org, $2 is admin, $3 user id, $4 profile id).
static VISIBLE: LazyLock<String> =
    LazyLock::new(|| format!("d.org_id = $1 AND {}", visible_cond("$2", "$3", "$4")));

/// Who may see a document (alias `d`): an admin (`admin`), its uploader (`user`), a member it
/// is shared with (`profile`), directly or through a team. Placeholders are the caller's.
pub fn visible_cond(admin: &str, user: &str, profile: &str) -> String {
    format!(
        "({admin} OR d.created_by_id = {user}
          OR EXISTS (SELECT 1 FROM document_shared_to s WHERE s.document_id = d.id AND s.profile_id = {profile})
          OR EXISTS (SELECT 1 FROM document_teams dt JOIN teams_users tu ON tu.teams_id = dt.teams_id
                     WHERE dt.document_id = d.id AND tu.profile_id = {profile}))"
    )
}

/// The ids of the documents a member (not an admin) may see, as a one-column `SELECT`.
pub fn visible_ids_sql(org: &str, user: &str, profile: &str) -> String {
    format!(
        "SELECT id FROM document WHERE org_id = {org} AND created_by_id = {user}
         UNION SELECT document_id FROM document_shared_to WHERE profile_id = {profile}
         UNION SELECT dt.document_id FROM document_teams dt JOIN teams_users tu ON tu.teams_id = dt.teams_id
               WHERE tu.profile_id = {profile}"
    )
}

/// The file name shown for a stored key: its last segment (ours: `docs/<random>/<name>`;
/// upstream's: `docs/<epoch>/<name>`).
fn display_name(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_string()
}

fn download_url(state: &AppState, id: Uuid) -> String {
    format!(
        "{}/api/documents/{id}/download/",
        crate::http::base_url::current(&state.cfg)
    )
}

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        json!("You do not have Permission to perform this action"),
    )
}

/// Nests profiles, teams, creator and org into document rows (a fixed number of queries).
async fn to_objs(
    state: &AppState,
    t: &mut Tenant,
    rows: Vec<DocRow>,
) -> ApiResult<Vec<DocumentObj>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let shares: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT document_id, profile_id FROM document_shared_to WHERE document_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(&mut *t.tx)
    .await?;
    let profile_ids: Vec<Uuid> = shares.iter().map(|s| s.1).collect();
    let profiles: HashMap<Uuid, Value> = profiles::load(&mut t.tx, t.org_id, &profile_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, serde_json::to_value(&p).unwrap_or(Value::Null)))
        .collect();
    let teams: Vec<(Uuid, TeamRow)> = sqlx::query_as::<_, (Uuid, DateTime<Utc>, DateTime<Utc>, Option<Uuid>, Option<Uuid>, Uuid, String, String, Uuid)>(
        "SELECT dt.document_id, t.created_at, t.updated_at, t.created_by_id, t.updated_by_id, t.id, t.name,
                t.description, t.org_id
         FROM document_teams dt JOIN teams t ON t.id = dt.teams_id
         WHERE dt.document_id = ANY($1) AND t.org_id = $2 ORDER BY t.created_at DESC",
    )
    .bind(&ids)
    .bind(t.org_id)
    .fetch_all(&mut *t.tx)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.0,
            TeamRow {
                created_at: r.1,
                updated_at: r.2,
                created_by_id: r.3,
                updated_by_id: r.4,
                id: r.5,
                name: r.6,
                description: r.7,
                org_id: r.8,
            },
        )
    })
    .collect();
    let creators: Vec<Uuid> = rows.iter().filter_map(|r| r.created_by_id).collect();
    let users: HashMap<Uuid, (String, Option<String>)> =
        sqlx::query_as::<_, (Uuid, String, Option<String>)>(
            "SELECT id, email, profile_pic FROM users WHERE id = ANY($1)",
        )
        .bind(&creators)
        .fetch_all(&mut *t.tx)
        .await?
        .into_iter()
        .map(|(id, email, pic)| (id, (email, pic)))
        .collect();
    let (org_name, api_key): (Option<String>, String) =
        sqlx::query_as("SELECT name, api_key FROM organization WHERE id = $1")
            .bind(t.org_id)
            .fetch_one(&mut *t.tx)
            .await?;
    let admin = t.is_admin();
    Ok(rows
        .into_iter()
        .map(|r| DocumentObj {
            id: r.id,
            title: r.title,
            document_file: download_url(state, r.id),
            file_name: display_name(&r.document_file),
            status: r.status,
            shared_to: shares
                .iter()
                .filter(|s| s.0 == r.id)
                .filter_map(|s| profiles.get(&s.1).cloned())
                .collect(),
            teams: teams
                .iter()
                .filter(|x| x.0 == r.id)
                .map(|x| x.1.clone())
                .collect(),
            created_at: r.created_at,
            created_by: r.created_by_id.and_then(|u| {
                users.get(&u).map(|(email, pic)| UserMini {
                    id: u,
                    email: email.clone(),
                    profile_pic: pic.clone(),
                })
            }),
            org: OrgMini {
                id: t.org_id,
                name: org_name.clone(),
                api_key: admin.then(|| api_key.clone()),
            },
        })
        .collect())
}

/// Profiles offered for sharing: every one for admins, else the org's admins (as upstream).
async fn users(t: &mut Tenant, include_inactive: bool) -> ApiResult<Vec<ProfileObj>> {
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT p.id FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND (p.is_active OR $2) AND ($3 OR p.role = 'ADMIN')
         ORDER BY u.email",
    )
    .bind(t.org_id)
    .bind(include_inactive && t.is_admin())
    .bind(t.is_admin())
    .fetch_all(&mut *t.tx)
    .await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.0).collect();
    let mut by_id: HashMap<Uuid, ProfileObj> = profiles::load(&mut t.tx, t.org_id, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivePage {
    pub documents_active_count: i64,
    pub documents_active: Vec<DocumentObj>,
    /// Next offset; `null` at the end, `0` for an empty page.
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InactivePage {
    pub documents_inactive_count: i64,
    pub documents_inactive: Vec<DocumentObj>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub search: bool,
    pub documents_active: ActivePage,
    pub documents_inactive: InactivePage,
    pub users: Vec<ProfileObj>,
    pub status_choices: Vec<(String, String)>,
}

/// Upstream's per-subset offset: `null` when this page reaches the end, `0` when it is empty.
fn next_offset(page: Page, returned: usize, total: i64) -> Option<i64> {
    if returned == 0 {
        Some(0)
    } else if page.offset + returned as i64 >= total {
        None
    } else {
        Some(page.offset + returned as i64)
    }
}

fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Documents the caller may see, split into active and inactive pages (same `limit`/`offset`).
/// Filters: `title` (substring), `status`, `shared_to` (profile ids, any shape).
#[utoipa::path(get, path = "/api/documents/", tag = "documents", operation_id = "documents_list",
    params(("title" = Option<String>, Query), ("status" = Option<String>, Query),
           ("shared_to" = Option<String>, Query, description = "Profile ids: JSON list, repeated, or comma-separated"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = DocumentList), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Json<DocumentList>> {
    let title = q.get("title").map(str::trim).filter(|s| !s.is_empty());
    let status = q.get("status").map(str::trim).filter(|s| !s.is_empty());
    let shared_raw: Vec<Value> = q
        .all("shared_to")
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Value::String(s.to_string()))
        .collect();
    let shared = if shared_raw.is_empty() {
        None
    } else {
        Some(id_list(&Value::Array(shared_raw)).map_err(|m| ApiError::field("shared_to", m))?)
    };
    let search = q.get("document_file").is_some_and(|s| !s.is_empty())
        || status.is_some()
        || shared.is_some();
    let filters = format!(
        "{visible} AND ($5::text IS NULL OR d.title ILIKE $5)
          AND ($6::text IS NULL OR d.status = $6)
          AND ($7::uuid[] IS NULL OR EXISTS (SELECT 1 FROM document_shared_to s2
                                           WHERE s2.document_id = d.id AND s2.profile_id = ANY($7)))",
        visible = *VISIBLE
    );
    let (org, admin, user, profile) = (t.org_id, t.is_admin(), t.user_id, t.profile_id);
    let pattern = title.map(like_pattern);
    let counts: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(
        format!("SELECT d.status, count(*) FROM document d WHERE {filters} GROUP BY d.status"),
    ))
    .bind(org)
    .bind(admin)
    .bind(user)
    .bind(profile)
    .bind(&pattern)
    .bind(status)
    .bind(&shared)
    .fetch_all(&mut *t.tx)
    .await?
    .into_iter()
    .collect();
    let sql = format!(
        "SELECT {DOC_COLUMNS} FROM (
            SELECT d.*, row_number() OVER (PARTITION BY d.status ORDER BY d.created_at DESC, d.id) AS rn
            FROM document d WHERE {filters}) d
         WHERE d.rn > $8 AND d.rn <= $8 + $9
         ORDER BY d.created_at DESC, d.id"
    );
    let rows: Vec<DocRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org)
        .bind(admin)
        .bind(user)
        .bind(profile)
        .bind(&pattern)
        .bind(status)
        .bind(&shared)
        .bind(page.offset)
        .bind(page.limit)
        .fetch_all(&mut *t.tx)
        .await?;
    let objs = to_objs(&state, &mut t, rows).await?;
    let (active, inactive): (Vec<_>, Vec<_>) = objs.into_iter().partition(|d| d.status == "active");
    let inactive: Vec<DocumentObj> = inactive
        .into_iter()
        .filter(|d| d.status == "inactive")
        .collect();
    let active_count = counts.get("active").copied().unwrap_or(0);
    let inactive_count = counts.get("inactive").copied().unwrap_or(0);
    let users = users(&mut t, false).await?;
    t.commit().await?;
    Ok(Json(DocumentList {
        search,
        documents_active: ActivePage {
            documents_active_count: active_count,
            offset: next_offset(page, active.len(), active_count),
            documents_active: active,
        },
        documents_inactive: InactivePage {
            documents_inactive_count: inactive_count,
            offset: next_offset(page, inactive.len(), inactive_count),
            documents_inactive: inactive,
        },
        users,
        status_choices: STATUSES
            .iter()
            .map(|s| (s.to_string(), s.to_string()))
            .collect(),
    }))
}

/// A document of the caller's org (404 otherwise) and whether the caller may see / edit it.
#[derive(sqlx::FromRow)]
struct Access {
    #[sqlx(flatten)]
    row: DocRow,
    can_see: bool,
    can_edit: bool,
}

async fn access(t: &mut Tenant, pk: &str) -> ApiResult<Access> {
    let id = parse_id(pk)?;
    let sql = format!(
        "SELECT {DOC_COLUMNS}, ({visible}) AS can_see, ($2 OR d.created_by_id = $3) AS can_edit
         FROM document d WHERE d.id = $5 AND d.org_id = $1",
        visible = *VISIBLE
    );
    let row: Option<Access> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(t.org_id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .bind(id)
        .fetch_optional(&mut *t.tx)
        .await?;
    row.ok_or_else(ApiError::not_found)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    pub doc_obj: DocumentObj,
    /// Icon class for the file type, e.g. `fa fa-file-pdf`.
    pub file_type_code: String,
    pub users: Vec<ProfileObj>,
}

#[utoipa::path(get, path = "/api/documents/{pk}/", tag = "documents", operation_id = "documents_detail",
    params(("pk" = Uuid, Path)), security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = DocumentDetail), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(pk): Path<String>,
) -> ApiResult<Json<DocumentDetail>> {
    let a = access(&mut t, &pk).await?;
    if !a.can_see {
        return Err(no_permission());
    }
    let file_type_code = file_type(&a.row.document_file).1.to_string();
    let doc_obj = to_objs(&state, &mut t, vec![a.row])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    let users = users(&mut t, true).await?;
    t.commit().await?;
    Ok(Json(DocumentDetail {
        doc_obj,
        file_type_code,
        users,
    }))
}

/// Validated input of a create or an update; `None` = not sent.
struct Input {
    title: Option<String>,
    status: Option<String>,
    shared_to: Option<Vec<Uuid>>,
    teams: Option<Vec<Uuid>>,
}

/// Checks fields (400 with every field error) and that each named profile and team is an
/// (active) member or team of this org (404 otherwise, like any other org's id).
async fn validate(
    t: &mut Tenant,
    form: &FormData,
    title_required: bool,
    exclude: Option<Uuid>,
) -> ApiResult<Input> {
    let mut errors = FieldErrors::new();
    let title = match form.scalar("title") {
        None | Some(Value::Null) if title_required => {
            errors.add("title", "This field is required.");
            None
        }
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.add("title", "This field may not be blank.");
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Null) => {
            errors.add("title", "This field may not be null.");
            None
        }
        Some(_) => {
            errors.add("title", "Not a valid string.");
            None
        }
    };
    if let Some(title) = &title {
        let (dup,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM document WHERE org_id = $1 AND lower(title) = lower($2) AND id IS DISTINCT FROM $3)",
        )
        .bind(t.org_id)
        .bind(title)
        .bind(exclude)
        .fetch_one(&mut *t.tx)
        .await?;
        if dup {
            errors.add("title", "Document\u{a0}with this Title\u{a0}already exists");
        }
    }
    let status = match form.scalar("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(v) => {
            let shown = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            errors.add("status", format!("\"{shown}\" is not a valid choice."));
            None
        }
    };
    let mut list = |key: &str| match form.ids(key) {
        None => None,
        Some(Ok(ids)) => Some(ids),
        Some(Err(m)) => {
            errors.add(key, m);
            None
        }
    };
    let shared_to = list("shared_to");
    let teams = list("teams");
    if !errors.is_empty() {
        return Err(envelope(StatusCode::BAD_REQUEST, errors.to_value()));
    }
    if let Some(ids) = &shared_to {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM profile WHERE org_id = $1 AND is_active AND id = ANY($2)",
        )
        .bind(t.org_id)
        .bind(ids)
        .fetch_one(&mut *t.tx)
        .await?;
        if n != ids.len() as i64 {
            return Err(ApiError::not_found());
        }
    }
    if let Some(ids) = &teams {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM teams WHERE org_id = $1 AND id = ANY($2)")
                .bind(t.org_id)
                .bind(ids)
                .fetch_one(&mut *t.tx)
                .await?;
        if n != ids.len() as i64 {
            return Err(ApiError::not_found());
        }
    }
    Ok(Input {
        title,
        status,
        shared_to,
        teams,
    })
}

/// Replaces the document's shares and teams with the ones given (validated in this org).
async fn set_links(t: &mut Tenant, id: Uuid, input: &Input) -> ApiResult<()> {
    if let Some(ids) = &input.shared_to {
        sqlx::query("DELETE FROM document_shared_to WHERE document_id = $1")
            .bind(id)
            .execute(&mut *t.tx)
            .await?;
        sqlx::query(
            "INSERT INTO document_shared_to (document_id, profile_id) SELECT $1, unnest($2::uuid[])",
        )
        .bind(id)
        .bind(ids)
        .execute(&mut *t.tx)
        .await?;
    }
    if let Some(ids) = &input.teams {
        sqlx::query("DELETE FROM document_teams WHERE document_id = $1")
            .bind(id)
            .execute(&mut *t.tx)
            .await?;
        sqlx::query(
            "INSERT INTO document_teams (document_id, teams_id) SELECT $1, unnest($2::uuid[])",
        )
        .bind(id)
        .bind(ids)
        .execute(&mut *t.tx)
        .await?;
    }
    Ok(())
}

/// A document's fields as uploaded (multipart) or edited (multipart or JSON). `shared_to` and
/// `teams` may be repeated fields or one JSON list.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DocumentForm {
    pub title: Option<String>,
    /// The file (required on POST).
    #[schema(value_type = Option<String>, format = Binary)]
    pub document_file: Option<String>,
    /// `active` (default) or `inactive`.
    pub status: Option<String>,
    /// Profile ids.
    pub shared_to: Option<Vec<Uuid>>,
    /// Team ids.
    pub teams: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// Uploads a document (multipart: `title`, file `document_file`, optional `status`,
/// `shared_to` and `teams` as repeated fields or a JSON list). Any member may upload.
#[utoipa::path(post, path = "/api/documents/", tag = "documents", operation_id = "documents_create",
    request_body(content_type = "multipart/form-data", content = DocumentForm),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 201, body = DocumentCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {...}}`, or a forbidden file type"),
              (status = 404, description = "A profile or team not in this org"),
              (status = 413, description = "File over UPLOAD_MAX_BYTES")))]
pub async fn create(
    State(state): State<AppState>,
    mut form: FormData,
) -> ApiResult<(StatusCode, Json<DocumentCreated>)> {
    let mut t = form.tenant(&state).await?;
    let file = form.take_file(&["document_file"]);
    let input = validate(&mut t, &form, true, None).await;
    let (input, file) = match (input, file) {
        (Ok(i), Some(f)) => (i, f),
        (Ok(_), None) => {
            return Err(envelope(
                StatusCode::BAD_REQUEST,
                json!({"document_file": ["No file was submitted."]}),
            ));
        }
        (Err(e), None) if e.status == StatusCode::BAD_REQUEST => {
            let mut body = e.body;
            body["errors"]["document_file"] = json!(["No file was submitted."]);
            return Err(ApiError::new(StatusCode::BAD_REQUEST, body));
        }
        (Err(e), _) => return Err(e),
    };
    let id = Uuid::new_v4();
    let key = file.new_key("docs");
    let title = input.title.clone().unwrap_or_default();
    state.storage.put(&key, file.bytes).await?;
    let result: ApiResult<()> = async {
        sqlx::query(
            "INSERT INTO document (created_at, updated_at, id, title, document_file, status, created_by_id,
                                   updated_by_id, org_id)
             VALUES (now(), now(), $1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(id)
        .bind(&title)
        .bind(&key)
        .bind(input.status.as_deref().unwrap_or("active"))
        .bind(t.user_id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
        set_links(&mut t, id, &input).await?;
        activity::record(&mut t, Action::Create, "Document", id, &title).await
    }
    .await;
    let result = match result {
        Ok(()) => t.commit().await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        state.storage.delete(&key).await;
        return Err(e);
    }
    Ok((
        StatusCode::CREATED,
        Json(DocumentCreated {
            error: false,
            message: "Document Created Successfully".into(),
            id,
        }),
    ))
}

/// PUT: `title` required (the document's own title is not a duplicate), file optional (kept
/// when absent), `shared_to`/`teams` replaced (cleared when absent). PATCH: only what is sent.
async fn update(
    state: AppState,
    pk: String,
    mut form: FormData,
    put: bool,
) -> ApiResult<Json<Message>> {
    let mut t = form.tenant(&state).await?;
    let a = access(&mut t, &pk).await?;
    if !a.can_edit {
        return Err(no_permission());
    }
    let id = a.row.id;
    let file = form.take_file(&["document_file"]);
    let mut input = validate(&mut t, &form, put, Some(id)).await?;
    if put {
        input.shared_to.get_or_insert_with(Vec::new);
        input.teams.get_or_insert_with(Vec::new);
    }
    let new_key = match file {
        Some(f) => {
            let key = f.new_key("docs");
            state.storage.put(&key, f.bytes).await?;
            Some(key)
        }
        None => None,
    };
    let result: ApiResult<()> = async {
        sqlx::query(
            "UPDATE document SET title = COALESCE($3, title), status = COALESCE($4, status),
                    document_file = COALESCE($5, document_file), updated_at = now(), updated_by_id = $6
             WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(t.org_id)
        .bind(&input.title)
        .bind(&input.status)
        .bind(&new_key)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
        set_links(&mut t, id, &input).await?;
        let title = input.title.clone().or(a.row.title.clone()).unwrap_or_default();
        activity::record(&mut t, Action::Update, "Document", id, &title).await
    }
    .await;
    let result = match result {
        Ok(()) => t.commit().await,
        Err(e) => Err(e),
    };
    match (result, new_key) {
        (Ok(()), Some(_)) => state.storage.delete(&a.row.document_file).await,
        (Err(e), Some(k)) => {
            state.storage.delete(&k).await;
            return Err(e);
        }
        (Err(e), None) => return Err(e),
        (Ok(()), None) => {}
    }
    Ok(Message::ok("Document Updated Successfully"))
}

#[utoipa::path(put, path = "/api/documents/{pk}/", tag = "documents", operation_id = "documents_put", params(("pk" = Uuid, Path)),
    request_body(content_type = "multipart/form-data", content = DocumentForm,
        description = "`title` required, `document_file` optional (kept when absent); JSON works too"),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message), (status = 400), (status = 403), (status = 404), (status = 413)))]
pub async fn put(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    form: FormData,
) -> ApiResult<Json<Message>> {
    update(state, pk, form, true).await
}

#[utoipa::path(patch, path = "/api/documents/{pk}/", tag = "documents", operation_id = "documents_patch", params(("pk" = Uuid, Path)),
    request_body(content = DocumentForm, description = "Any of these; multipart for a new file"),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message), (status = 400), (status = 403), (status = 404), (status = 413)))]
pub async fn patch(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    form: FormData,
) -> ApiResult<Json<Message>> {
    update(state, pk, form, false).await
}

/// Admins and the uploader may delete; the stored file goes too.
#[utoipa::path(delete, path = "/api/documents/{pk}/", tag = "documents", operation_id = "documents_delete", params(("pk" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(pk): Path<String>,
) -> ApiResult<Json<Message>> {
    let a = access(&mut t, &pk).await?;
    if !a.can_edit {
        return Err(no_permission());
    }
    let id = a.row.id;
    for sql in [
        "DELETE FROM document_shared_to WHERE document_id = $1",
        "DELETE FROM document_teams WHERE document_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *t.tx).await?;
    }
    sqlx::query("DELETE FROM document WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    let title = a.row.title.clone().unwrap_or_default();
    activity::record(&mut t, Action::Delete, "Document", id, &title).await?;
    t.commit().await?;
    state.storage.delete(&a.row.document_file).await;
    Ok(Message::ok("Document deleted Successfully"))
}

/// The file itself, to members who may see the document.
#[utoipa::path(get, path = "/api/documents/{pk}/download/", tag = "documents", operation_id = "documents_download", params(("pk" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, description = "The file (`Content-Disposition: attachment`)"), (status = 403), (status = 404)))]
pub async fn download(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(pk): Path<String>,
) -> ApiResult<Response> {
    let a = access(&mut t, &pk).await?;
    if !a.can_see {
        return Err(no_permission());
    }
    t.commit().await?;
    let key = a.row.document_file;
    state.storage.download(&key, &display_name(&key)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_like_upstream() {
        let p = |offset| Page { limit: 10, offset };
        assert_eq!(next_offset(p(0), 10, 25), Some(10));
        assert_eq!(next_offset(p(20), 5, 25), None);
        assert_eq!(next_offset(p(30), 0, 25), Some(0));
        assert_eq!(display_name("docs/123/a b.pdf"), "a b.pdf");
        assert_eq!(like_pattern("50%_x"), "%50\\%\\_x%");
    }
}
