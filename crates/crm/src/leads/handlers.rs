//! `/api/leads/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::Row;
use uuid::Uuid;

use super::dto::{self, LEAD_SOURCE, LEAD_STATUS, LeadInput, Val, lead_errors};
use super::import;
use super::model::{self, Bind, Sql, Viewer};
use super::service;
use crate::auth::ClientIp;
use crate::common::activity::{self, Action};
use crate::common::choices::{COUNTRIES, INDUSTRIES, pairs_json};
use crate::common::comments;
use crate::db::Tenant;
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::jobs::{self, Job};
use crate::state::AppState;
use crate::storage::FormData;

fn viewer(t: &Tenant) -> Viewer {
    Viewer {
        org_id: t.org_id,
        user_id: t.user_id,
        profile_id: t.profile_id,
        admin: t.is_admin(),
    }
}

fn envelope(status: StatusCode, errors: &str) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        "You do not have Permission to perform this action",
    )
}

/// A JSON object PostgreSQL already rendered, with static lists appended before its closing brace.
fn with_tail(mut body: String, tail: &str) -> Bytes {
    body.pop();
    body.push_str(tail);
    Bytes::from(body)
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json_pairs(pairs: &[(&str, &str)]) -> String {
    pairs_json(pairs).to_string()
}

/// `,"status":...,"source":...,"countries":...,"industries":...}` (list page).
fn list_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        let industries: Vec<(&str, &str)> = INDUSTRIES.iter().map(|i| (*i, *i)).collect();
        format!(
            ",\"status\":{},\"source\":{},\"countries\":{},\"industries\":{}}}",
            json_pairs(LEAD_STATUS),
            json_pairs(LEAD_SOURCE),
            json_pairs(COUNTRIES),
            json_pairs(&industries)
        )
    })
}

/// `,"source":...,"status":...,"countries":...}` (detail page).
fn detail_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        format!(
            ",\"source\":{},\"status\":{},\"countries\":{}}}",
            json_pairs(LEAD_SOURCE),
            json_pairs(LEAD_STATUS),
            json_pairs(COUNTRIES)
        )
    })
}

/// Open leads (not closed) and closed leads of the caller's visibility, each paginated with
/// `limit`/`offset`, plus the lookup lists the frontend's forms read. Converted leads are hidden.
#[utoipa::path(get, path = "/api/leads/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "first/last/company name, e-mail or title contains"),
        ("name" = Option<String>, Query), ("salutation" = Option<String>, Query), ("city" = Option<String>, Query),
        ("email" = Option<String>, Query), ("source" = Option<String>, Query), ("status" = Option<String>, Query),
        ("rating" = Option<String>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("close_date__gte" = Option<String>, Query), ("close_date__lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "e.g. `-created_at`, `first_name`; comma-separated"),
    ),
    responses((status = 200, body = dto::LeadListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let v = viewer(&t);
    // Admins all see the same page; anyone else sees their own leads.
    let who = if v.admin {
        "admin".to_string()
    } else {
        v.profile_id.to_string()
    };
    let key = format!(
        "leads:{who}:{}",
        serde_urlencoded::to_string(&q.0).unwrap_or_default()
    );
    let (org, version) = (t.org_id, t.data_version);
    if let Some(body) = state.cache.get(org, version, &key) {
        t.commit().await?;
        return Ok(json_bytes(body));
    }
    let body = model::list_json(&mut t.tx, &v, &q, page).await?;
    t.commit().await?;
    let body = with_tail(body, list_tail());
    state.cache.put(org, version, key, body.clone());
    Ok(json_bytes(body))
}

#[utoipa::path(get, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::LeadDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let v = viewer(&t);
    let (allowed, body) = model::detail_json(
        &mut t.tx,
        &v,
        id,
        &crate::http::base_url::current(&state.cfg),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    match (allowed, body) {
        (true, Some(body)) => Ok(json_bytes(with_tail(body, detail_tail()))),
        _ => Err(no_permission()),
    }
}

/// Upstream's detail form: `POST /api/leads/<id>/` with a `comment` and/or a `lead_attachment`
/// file (multipart or JSON); answers with the lead's detail, like GET.
#[utoipa::path(post, path = "/api/leads/{id}/", tag = "leads", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", description = "`comment` and/or a `lead_attachment` file"),
    responses((status = 200, description = "The lead detail, as GET"), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &comments::LEADS, id, form).await?;
    let v = viewer(&t);
    let (allowed, body) = model::detail_json(
        &mut t.tx,
        &v,
        id,
        &crate::http::base_url::current(&state.cfg),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    match (allowed, body) {
        (true, Some(body)) => Ok(json_bytes(with_tail(body, detail_tail()))),
        _ => Err(no_permission()),
    }
}

/// Checks the relation ids and the e-mail against the org; adds field errors.
async fn check(
    tx: &mut Tx,
    org: Uuid,
    input: &LeadInput,
    lead: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let empty: Vec<Uuid> = vec![];
    let list = |l: &Option<Vec<Uuid>>| l.as_deref().unwrap_or(&empty).to_vec();
    let lists = [
        list(&input.assigned_to),
        list(&input.teams),
        list(&input.tags),
        list(&input.contacts),
    ];
    let email = input.text("email").filter(|e| !e.is_empty());
    if lists.iter().all(Vec::is_empty) && email.is_none() {
        return Ok(());
    }
    let c = model::check_relations(
        tx,
        org,
        [&lists[0], &lists[1], &lists[2], &lists[3]],
        email,
        lead,
    )
    .await?;
    for (field, bad) in [
        ("assigned_to", c.assigned_to),
        ("teams", c.teams),
        ("tags", c.tags),
        ("contacts", c.contacts),
    ] {
        for id in bad {
            errors.add(
                field,
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        }
    }
    if c.email_taken {
        errors.add(
            "email",
            "Lead with this email already exists in this organization.",
        );
    }
    Ok(())
}

fn relation_lists(input: &LeadInput) -> [(&'static str, &'static str, Option<&[Uuid]>); 4] {
    [
        (
            "lead_assigned_to",
            "profile_id",
            input.assigned_to.as_deref(),
        ),
        ("lead_teams", "teams_id", input.teams.as_deref()),
        ("lead_tags", "tags_id", input.tags.as_deref()),
        ("lead_contacts", "contact_id", input.contacts.as_deref()),
    ]
}

/// Enqueues one assignment e-mail per newly assigned user, in the request's transaction.
async fn notify_assigned(
    tx: &mut Tx,
    org: Uuid,
    to: Vec<String>,
    lead: Uuid,
    name: &str,
    by: &str,
) -> Result<(), ApiError> {
    for email in to {
        let job = Job::Email {
            template: "assignment".into(),
            to: email,
            context: json!({"module": "Lead", "name": name, "path": format!("/leads/{lead}"), "assigned_by": by}),
        };
        jobs::enqueue(tx, Some(org), job).await?;
    }
    Ok(())
}

/// Any member may create. `status: "converted"` creates and converts in one transaction.
#[utoipa::path(post, path = "/api/leads/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    request_body(content = Object, description = "LeadObj fields (all optional) plus `assigned_to`, `teams`, `tags`, `contacts` (id arrays)"),
    responses((status = 200, body = dto::LeadCreated, description = "or LeadConverted when `status` is `converted`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, &mut errors);
    if input.text("status") == Some("converted") && !body.contains_key("email") {
        errors.add("email", "This field is required.");
    }
    check(&mut t.tx, t.org_id, &input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(lead_errors(errors));
    }
    let converting = input.take_conversion();
    let id = Uuid::new_v4();
    let name = model::insert(&mut t.tx, t.org_id, Some(t.user_id), id, &input.fields).await?;
    let assigned =
        model::sync_relations(&mut t.tx, id, t.profile_id, relation_lists(&input)).await?;
    activity::record(&mut t, Action::Create, "Lead", id, &name).await?;
    notify_assigned(&mut t.tx, t.org_id, assigned, id, &name, &t.email.clone()).await?;
    let out = if converting {
        service::convert(&mut t, id).await?.body()
    } else {
        json!({"error": false, "message": "Lead Created Successfully", "id": id})
    };
    t.commit().await?;
    Ok(Json(out))
}

/// PUT and PATCH: same permission (admin, creator, assignee directly or through a team).
/// PUT replaces every relation list (an absent list is emptied); PATCH only those present.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let v = viewer(&t);
    let current = model::lock(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, &mut errors);
    if !partial {
        for list in [
            &mut input.assigned_to,
            &mut input.teams,
            &mut input.tags,
            &mut input.contacts,
        ] {
            list.get_or_insert_with(Vec::new);
        }
        if input.text("status") == Some("converted") && !body.contains_key("email") {
            errors.add("email", "This field is required.");
        }
    }
    check(&mut t.tx, t.org_id, &input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(lead_errors(errors));
    }
    // The frontend converts with PATCH {"status": "converted"}; upstream also takes `is_converted`.
    let is_converted = partial
        && body.get("is_converted").is_some_and(|v| {
            !matches!(v, Value::Null | Value::Bool(false)) && v != "" && v != "false"
        });
    let converting = input.take_conversion() || is_converted;
    if converting && current.status.as_deref() == Some("converted") {
        let mut e = FieldErrors::new();
        e.add("status", "This lead has already been converted.");
        return Err(lead_errors(e));
    }
    let name = model::update(&mut t.tx, t.org_id, t.user_id, id, &input.fields).await?;
    let assigned =
        model::sync_relations(&mut t.tx, id, t.profile_id, relation_lists(&input)).await?;
    activity::record(&mut t, Action::Update, "Lead", id, &name).await?;
    notify_assigned(&mut t.tx, t.org_id, assigned, id, &name, &t.email.clone()).await?;
    let out = if converting {
        service::convert(&mut t, id).await?.body()
    } else {
        json!({"error": false, "message": "Lead updated Successfully"})
    };
    t.commit().await?;
    Ok(Json(out))
}

#[utoipa::path(put, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = Object, description = "as POST"),
    responses((status = 200, body = dto::MessageResponse), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update; `{"status": "converted"}` converts the lead (account, contact, opportunity).
#[utoipa::path(patch, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = Object, description = "any POST fields"),
    responses((status = 200, body = dto::MessageResponse, description = "or LeadConverted"), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the lead's creator.
#[utoipa::path(delete, path = "/api/leads/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::MessageResponse), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let v = viewer(&t);
    let current = model::lock(&mut t.tx, &v, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            "you don't have permission to delete this lead",
        ));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &comments::LEADS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Lead", id, &name).await?;
    t.commit().await?;
    // Stored files go only once the rows are gone for good.
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Lead deleted Successfully"}),
    ))
}

// ---- CSV/XLSX import and CSV export ----

fn import_error(msg: &str, rows: Vec<dto::ImportRowError>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        json!({"error": true, "errors": {"leads_file": [msg]}, "rows": rows}),
    )
}

/// Imports a CSV or XLSX file (`leads_file`, multipart). The header row names lead fields
/// (`title` is required, as upstream); every row is validated like a POST; valid rows are created
/// in one transaction and invalid ones reported by line (CSV) or spreadsheet row (XLSX).
#[utoipa::path(post, path = "/api/leads/upload/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = Object, description = "`leads_file`: CSV (UTF-8 or ISO-8859-1) or XLSX (Excel 2007+, first worksheet; recognised by content), with a header row of lead field names; at most 100000 data rows"),
    responses((status = 200, body = dto::ImportResponse), (status = 400, description = "`{\"error\": true, \"errors\": {\"leads_file\": [msg]}, \"rows\": [...]}`")))]
pub async fn upload(mut t: Tenant, mut mp: Multipart) -> ApiResult<Json<Value>> {
    let mut file: Option<(Bytes, import::Format)> = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("Multipart parse error - {e}")))?
    {
        if field.name() == Some("leads_file") {
            let name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let data = field
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request(format!("Multipart parse error - {e}")))?;
            let format = import::detect(&data, name.as_deref(), content_type.as_deref());
            file = Some((data, format));
        }
    }
    let Some((data, format)) = file else {
        return Err(import_error("This field is required.", vec![]));
    };
    // Parsing is CPU-bound; a panic in it (a malformed file) is a 400 like any unreadable file.
    let table = tokio::task::spawn_blocking(move || import::read(&data, format))
        .await
        .unwrap_or_else(|_| {
            Err(match format {
                import::Format::Csv => import::INVALID_CSV,
                import::Format::Xlsx => import::INVALID_XLSX,
            }
            .to_string())
        })
        .map_err(|msg| import_error(&msg, vec![]))?;
    let headers = table.headers;
    if !headers.iter().any(|h| h == "title") {
        return Err(import_error("Missing headers: title", vec![]));
    }
    let known: HashSet<&str> = dto::field_names().collect();
    let mut rows: Vec<(usize, LeadInput)> = Vec::new();
    let mut failures: Vec<dto::ImportRowError> = Vec::new();
    let mut seen_emails: HashMap<String, usize> = HashMap::new();
    for (line, cells) in table.rows {
        let mut map = Map::new();
        for (h, v) in headers.iter().zip(cells) {
            if known.contains(h.as_str()) && !v.is_empty() {
                map.insert(h.clone(), Value::String(v));
            }
        }
        let mut errors = FieldErrors::new();
        if !map.contains_key("title") {
            errors.add("title", "This field is required.");
        }
        let mut input = dto::validate(&map, &mut errors);
        if input.text("status") == Some("converted") {
            errors.add(
                "status",
                "Imported leads cannot be converted; import them, then convert.",
            );
        }
        if let Some(e) = input.text("email").filter(|e| !e.is_empty())
            && let Some(first) = seen_emails.insert(e.to_lowercase(), line)
        {
            errors.add("email", format!("Duplicate of line {first} in this file."));
        }
        if errors.is_empty() {
            input.take_conversion();
            rows.push((line, input));
        } else {
            failures.push(dto::ImportRowError {
                row: line,
                errors: errors.to_value(),
            });
        }
    }
    // E-mails already used in the org: one query for the whole file.
    let emails: Vec<String> = rows
        .iter()
        .filter_map(|(_, r)| {
            r.text("email")
                .filter(|e| !e.is_empty())
                .map(str::to_lowercase)
        })
        .collect();
    let taken: HashSet<String> = sqlx::query_scalar(
        "SELECT lower(email) FROM lead WHERE org_id = $1 AND lower(email) = ANY($2) AND email IS NOT NULL AND email <> ''",
    )
    .bind(t.org_id)
    .bind(&emails)
    .fetch_all(&mut *t.tx)
    .await?
    .into_iter()
    .collect();
    let mut valid = Vec::with_capacity(rows.len());
    for (line, input) in rows {
        if input
            .text("email")
            .is_some_and(|e| taken.contains(&e.to_lowercase()))
        {
            let mut e = FieldErrors::new();
            e.add(
                "email",
                "Lead with this email already exists in this organization.",
            );
            failures.push(dto::ImportRowError {
                row: line,
                errors: e.to_value(),
            });
        } else {
            valid.push(input);
        }
    }
    failures.sort_by_key(|f| f.row);
    if valid.is_empty() {
        return Err(import_error(
            "All the leads in the file are invalid.",
            failures,
        ));
    }
    for input in &valid {
        let id = Uuid::new_v4();
        let name = model::insert(&mut t.tx, t.org_id, Some(t.user_id), id, &input.fields).await?;
        activity::record(&mut t, Action::Create, "Lead", id, &name).await?;
    }
    t.commit().await?;
    Ok(Json(json!({
        "error": false,
        "message": "Leads created Successfully",
        "created": valid.len(),
        "failed": failures.len(),
        "rows": failures,
    })))
}

const EXPORT_CHUNK: i64 = 1000;

struct ExportState {
    t: Tenant,
    with: String,
    from: String,
    cond: String,
    binds: Vec<Bind>,
    after: Option<(DateTime<Utc>, Uuid)>,
    started: bool,
    done: bool,
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// Every lead the list would show with these filters (open and closed), newest first, as CSV,
/// streamed in chunks so memory stays flat however large the org.
#[utoipa::path(get, path = "/api/leads/export/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("search" = Option<String>, Query, description = "same filters as the list")),
    responses((status = 200, content_type = "text/csv", description = "id, the lead fields, assigned_to (e-mails), created_at")))]
pub async fn export(t: Tenant, q: RawQuery) -> ApiResult<Response> {
    let v = viewer(&t);
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let filter = model::filters(&q, &mut sql, &v)?;
    let state = ExportState {
        t,
        with: filter.with(""),
        from: filter.from,
        cond: filter.cond,
        binds: sql.binds,
        after: None,
        started: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        if !s.started {
            s.started = true;
            let header = std::iter::once("id".to_string())
                .chain(dto::field_names().map(str::to_string))
                .chain(["assigned_to".to_string(), "created_at".to_string()]);
            return Some((Ok::<_, std::io::Error>(Bytes::from(csv_line(header))), s));
        }
        match export_chunk(&mut s).await {
            Ok(bytes) => Some((Ok(Bytes::from(bytes)), s)),
            Err(e) => {
                tracing::error!(error = ?e, "lead export failed");
                s.done = true;
                Some((Err(std::io::Error::other("export failed")), s))
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn export_chunk(s: &mut ExportState) -> Result<Vec<u8>, sqlx::Error> {
    let mut binds = s.binds.clone();
    let mut cond = s.cond.clone();
    if let Some((ts, id)) = s.after {
        binds.push(Bind::Ts(ts));
        binds.push(Bind::Uuid(id));
        cond.push_str(&format!(
            " AND (l.created_at, l.id) < (${}, ${})",
            binds.len() - 1,
            binds.len()
        ));
    }
    let cols: Vec<String> = dto::field_names().map(|f| format!("l.{f}::text")).collect();
    let text = format!(
        "{}SELECT l.created_at, l.id, {},
                (SELECT string_agg(u.email, ' ' ORDER BY a.id) FROM lead_assigned_to a
                 JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id WHERE a.lead_id = l.id),
                crm_ts(l.created_at)
         FROM {} WHERE {cond} ORDER BY l.created_at DESC, l.id DESC LIMIT {EXPORT_CHUNK}",
        s.with,
        cols.join(", "),
        s.from
    );
    let rows = model::run(text, binds).fetch_all(&mut *s.t.tx).await?;
    let mut out = Vec::new();
    for row in &rows {
        let mut fields = vec![row.try_get::<Uuid, _>(1)?.to_string()];
        for i in 2..row.len() {
            fields.push(row.try_get::<Option<String>, _>(i)?.unwrap_or_default());
        }
        out.extend(csv_line(fields));
    }
    match rows.last() {
        Some(last) if rows.len() as i64 == EXPORT_CHUNK => {
            s.after = Some((last.try_get(0)?, last.try_get(1)?))
        }
        _ => s.done = true,
    }
    Ok(out)
}

// ---- Web-to-lead ----

/// Fixed-window counters for the public web-form endpoint.
struct SiteLimiter(Mutex<HashMap<String, (Instant, u32)>>);

impl SiteLimiter {
    /// Seconds to wait when `key` has had `max` hits in the current minute.
    fn hit(&self, key: String, max: u32) -> Option<u64> {
        const WINDOW: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= max {
            return Some(WINDOW.saturating_sub(now.duration_since(entry.0)).as_secs() + 1);
        }
        entry.1 += 1;
        None
    }
}

fn site_limiter() -> &'static SiteLimiter {
    static L: OnceLock<SiteLimiter> = OnceLock::new();
    L.get_or_init(|| SiteLimiter(Mutex::new(HashMap::new())))
}

/// Requests per minute from one address (any key), and per address and key.
const SITE_PER_IP: u32 = 60;
const SITE_PER_KEY_AND_IP: u32 = 20;

fn site_denied() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        json!({"error": true, "message": "You don't have permission, please contact the admin!."}),
    )
}

/// Public web-form capture: authenticated by an API-settings key (`apikey` in the body), not by
/// a user. Creates an `assigned` lead with source `website`, assigned to and tagged as the API
/// setting says, and e-mails the assignees.
#[utoipa::path(post, path = "/api/leads/create-from-site/", tag = "leads",
    request_body(content = Object, description = "`apikey` (required), `email` (required), `first_name`, `last_name`, `title` (salutation), `phone`, `message`"),
    responses((status = 200, body = dto::MessageResponse), (status = 400, description = "`{\"error\": true, \"message\": \"Invalid data\", \"errors\": {...}}`"),
              (status = 403), (status = 429)))]
pub async fn create_from_site(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let ip = ip.unwrap_or_else(|| "unknown".into());
    let limiter = site_limiter();
    if let Some(wait) = limiter.hit(format!("ip:{ip}"), SITE_PER_IP) {
        return Err(ApiError::too_many(wait, "Request was throttled."));
    }
    let key = body
        .opt_str("apikey")
        .unwrap_or_default()
        .trim()
        .to_string();
    if key.is_empty() || key.len() > 64 {
        return Err(site_denied());
    }
    let mut tx = tenant::begin(&state.pool, None, None).await?;
    sqlx::query("SELECT set_config('app.api_settings_key', $1, true)")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    let setting: Option<(Uuid, Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT id, org_id, created_by_id FROM \"apiSettings\" WHERE apikey = $1 LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((setting_id, org_id, creator)) = setting else {
        return Err(site_denied());
    };
    if let Some(wait) = limiter.hit(format!("key:{setting_id}:{ip}"), SITE_PER_KEY_AND_IP) {
        return Err(ApiError::too_many(wait, "Request was throttled."));
    }
    sqlx::query("SELECT set_config('app.current_org', $1, true), set_config('app.api_settings_key', '', true)")
        .bind(org_id.to_string())
        .execute(&mut *tx)
        .await?;

    // The form's fields mapped onto lead columns, validated like any lead.
    let mut form = Map::new();
    for (from, to) in [
        ("email", "email"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("title", "salutation"),
        ("phone", "phone"),
        ("message", "description"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            form.insert(to.into(), v.clone());
        }
    }
    let mut errors = FieldErrors::new();
    if form
        .get("email")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim().is_empty())
    {
        errors.add("email", "This field is required.");
    }
    let mut input = dto::validate(&form, &mut errors);
    input
        .fields
        .push(("status", Val::Text(Some("assigned".into()))));
    input
        .fields
        .push(("source", Val::Text(Some("website".into()))));
    let (assignees, tags): (Vec<Uuid>, Vec<Uuid>) = sqlx::query_as(
        "SELECT ARRAY(SELECT a.profile_id FROM \"apiSettings_lead_assigned_to\" a JOIN profile p ON p.id = a.profile_id
                      WHERE a.apisettings_id = $1 AND p.org_id = $2 AND p.is_active),
                ARRAY(SELECT x.tags_id FROM \"apiSettings_tags\" x JOIN tags t ON t.id = x.tags_id
                      WHERE x.apisettings_id = $1 AND t.org_id = $2)",
    )
    .bind(setting_id)
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    input.assigned_to = Some(assignees);
    input.tags = Some(tags);
    check(&mut tx, org_id, &input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            json!({"error": true, "message": "Invalid data", "errors": errors.to_value()}),
        ));
    }
    let id = Uuid::new_v4();
    let name = model::insert(&mut tx, org_id, creator, id, &input.fields).await?;
    let assigned = model::sync_relations(&mut tx, id, Uuid::nil(), relation_lists(&input)).await?;
    notify_assigned(&mut tx, org_id, assigned, id, &name, "web form").await?;
    tx.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Lead Created sucessfully."}),
    ))
}
