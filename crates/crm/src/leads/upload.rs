//! `POST /api/leads/upload/` (CSV or XLSX import) and `GET /api/leads/upload/<id>/` (an
//! import job's progress and outcome).
//!
//! A file of at most [`SYNC_ROWS`] data rows is imported while the request waits, and the
//! answer says what was created and which rows failed. A larger one is stored in `lead_import`
//! and imported by a background job (`Job::LeadImport`): the upload answers `202` at once with
//! the import's id, and the status endpoint shows its progress, then the same outcome. Either
//! way the file is read and checked (format, `title` header, row limit) before anything is
//! answered, and the valid rows are created in one transaction: all of them or, if the import
//! fails, none.
//!
//! Rows are validated like a POST, then inserted [`BATCH`] at a time by one statement each
//! (leads and their `CREATE` activity entries together), not row by row.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::dto::{self, LeadInput, Val};
use super::import::{self, Format, Table};
use super::model::NAME_SQL;
use crate::db::Tenant;
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::parse_id;
use crate::jobs::{Job, queue};
use crate::storage::upload::human_size;

/// Largest file (in data rows) imported while the request waits; larger ones run as a job.
pub const SYNC_ROWS: usize = 1000;
/// Rows inserted by one statement.
pub const BATCH: usize = 5000;

const ALL_INVALID: &str = "All the leads in the file are invalid.";
const CREATED: &str = "Leads created Successfully";

fn import_error(status: StatusCode, msg: &str, rows: Vec<dto::ImportRowError>) -> ApiError {
    ApiError::new(
        status,
        json!({"error": true, "errors": {"leads_file": [msg]}, "rows": rows}),
    )
}

/// A body over the upload limit is a 413; any other unreadable body a 400.
fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        import_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "The file is too large: the limit is {}.",
                human_size(super::UPLOAD_LIMIT)
            ),
            vec![],
        )
    } else {
        ApiError::bad_request(format!("Multipart parse error - {}", e.body_text()))
    }
}

/// Who imports: the leads' creator and the activity's actor.
#[derive(Clone, Copy)]
struct Importer {
    org: Uuid,
    user: Uuid,
    profile: Uuid,
}

/// Imports a CSV or XLSX file (`leads_file`, multipart). The header row names lead fields
/// (`title` is required, as upstream); every row is validated like a POST; valid rows are created
/// in one transaction and invalid ones reported by line (CSV) or spreadsheet row (XLSX). Files of
/// more than 1000 rows are imported by a background job: the answer is then a 202 with the
/// import's `job_id`, to follow at `GET /api/leads/upload/{job_id}/`.
#[utoipa::path(post, path = "/api/leads/upload/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = Object, description = "`leads_file`: CSV (UTF-8 or ISO-8859-1) or XLSX (Excel 2007+, first worksheet; recognised by content), with a header row of lead field names; at most 100000 data rows, 10 MiB"),
    responses((status = 200, body = dto::ImportResponse, description = "At most 1000 rows: imported"),
        (status = 202, body = dto::ImportQueued, description = "More than 1000 rows: an import job was started"),
        (status = 400, description = "`{\"error\": true, \"errors\": {\"leads_file\": [msg]}, \"rows\": [...]}`"),
        (status = 413, description = "Over 10 MiB: `{\"error\": true, \"errors\": {\"leads_file\": [msg]}}`")))]
pub async fn upload(
    mut t: Tenant,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut mp = mp.map_err(|e| ApiError::bad_request(format!("Multipart parse error - {e}")))?;
    let mut file: Option<(Bytes, Format, String)> = None;
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("leads_file") {
            let name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let data = field.bytes().await.map_err(multipart_error)?;
            let format = import::detect(&data, name.as_deref(), content_type.as_deref());
            file = Some((data, format, name.unwrap_or_default()));
        }
    }
    let Some((data, format, file_name)) = file else {
        return Err(import_error(
            StatusCode::BAD_REQUEST,
            "This field is required.",
            vec![],
        ));
    };
    let table = read(data.clone(), format)
        .await
        .map_err(|msg| import_error(StatusCode::BAD_REQUEST, &msg, vec![]))?;
    if !table.headers.iter().any(|h| h == "title") {
        return Err(import_error(
            StatusCode::BAD_REQUEST,
            "Missing headers: title",
            vec![],
        ));
    }
    let who = Importer {
        org: t.org_id,
        user: t.user_id,
        profile: t.profile_id,
    };
    if table.rows.len() > SYNC_ROWS {
        let total = table.rows.len();
        drop(table);
        let id = queue_import(&mut t.tx, &who, &data, format, &file_name, total).await?;
        t.commit().await?;
        let body = dto::ImportQueued {
            error: false,
            message: format!("Importing {total} rows in the background."),
            job_id: id,
            status: "queued".into(),
            total,
            status_url: format!("/api/leads/upload/{id}/"),
        };
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let outcome = import_rows(&mut t.tx, &who, table, None).await?;
    if outcome.created == 0 {
        return Err(import_error(
            StatusCode::BAD_REQUEST,
            ALL_INVALID,
            outcome.failures,
        ));
    }
    t.commit().await?;
    Ok(Json(json!({
        "error": false,
        "message": CREATED,
        "created": outcome.created,
        "failed": outcome.failures.len(),
        "rows": outcome.failures,
    }))
    .into_response())
}

/// Parses off the runtime (CPU-bound); a panic in the parser (a malformed file) is an
/// unreadable file like any other.
async fn read(data: Bytes, format: Format) -> Result<Table, String> {
    tokio::task::spawn_blocking(move || import::read(&data, format))
        .await
        .unwrap_or_else(|_| {
            Err(match format {
                Format::Csv => import::INVALID_CSV,
                Format::Xlsx => import::INVALID_XLSX,
            }
            .to_string())
        })
}

/// Stores the file and enqueues its job, in the request's transaction.
async fn queue_import(
    tx: &mut Tx,
    who: &Importer,
    data: &[u8],
    format: Format,
    file_name: &str,
    total: usize,
) -> Result<Uuid, ApiError> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO lead_import (id, org_id, created_by_id, profile_id, file_name, format, file, total)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(who.org)
    .bind(who.user)
    .bind(who.profile)
    .bind(file_name.chars().take(255).collect::<String>())
    .bind(format_name(format))
    .bind(data)
    .bind(total as i32)
    .execute(&mut **tx)
    .await?;
    let job = queue::insert(tx, Some(who.org), &Job::LeadImport { import_id: id }, None).await?;
    sqlx::query("UPDATE lead_import SET job_id = $2 WHERE id = $1 AND org_id = $3")
        .bind(id)
        .bind(job)
        .bind(who.org)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
    }
}

struct Outcome {
    created: usize,
    /// Ordered by row.
    failures: Vec<dto::ImportRowError>,
}

/// Validates every row of `table` (which has a `title` header), drops those whose e-mail the
/// org or an earlier row already has, and inserts the rest on `tx`. `progress`: an import
/// whose `processed` count to update (on its own connection) as batches go in.
async fn import_rows(
    tx: &mut Tx,
    who: &Importer,
    table: Table,
    progress: Option<(&PgPool, Uuid)>,
) -> Result<Outcome, ApiError> {
    let (rows, mut failures) = validate(table);
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
    .bind(who.org)
    .bind(&emails)
    .fetch_all(&mut **tx)
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
    let invalid = failures.len();
    let mut done = 0;
    for batch in valid.chunks(BATCH) {
        insert_batch(tx, who, batch).await?;
        done += batch.len();
        if let Some((pool, id)) = progress {
            set_progress(pool, who.org, id, done + invalid).await?;
        }
    }
    Ok(Outcome {
        created: valid.len(),
        failures,
    })
}

/// Each row as a POST body: the valid ones, and the errors of the others.
fn validate(table: Table) -> (Vec<(usize, LeadInput)>, Vec<dto::ImportRowError>) {
    let known: HashSet<&str> = dto::field_names().collect();
    let headers = table.headers;
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
    (rows, failures)
}

fn val_json(v: &Val) -> Value {
    match v {
        Val::Text(s) | Val::Num(s) => s.as_deref().map_or(Value::Null, Value::from),
        Val::Int(i) => i.map_or(Value::Null, Value::from),
        Val::Date(d) => d.map_or(Value::Null, |d| Value::from(d.to_string())),
        Val::Bool(b) => Value::Bool(*b),
    }
}

/// Inserts `rows` and their `CREATE` activity entries in one statement: the rows travel as one
/// JSON array read as `lead` records. Columns a row lacks are NULL, except upstream's defaults
/// (active, probability 0).
async fn insert_batch(tx: &mut Tx, who: &Importer, rows: &[LeadInput]) -> Result<(), ApiError> {
    let mut cols: Vec<&str> = dto::field_names().collect();
    for extra in ["is_active", "probability"] {
        if !cols.contains(&extra) {
            cols.push(extra);
        }
    }
    let exprs: Vec<String> = cols
        .iter()
        .map(|c| match *c {
            "is_active" => "coalesce(r.is_active, true)".to_string(),
            "probability" => "coalesce(r.probability, 0)".to_string(),
            c => format!("r.{c}"),
        })
        .collect();
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Object(
                r.fields
                    .iter()
                    .map(|(c, v)| (c.to_string(), val_json(v)))
                    .collect(),
            )
        })
        .collect();
    let text = format!(
        "WITH ins AS (
             INSERT INTO lead (created_at, updated_at, id, org_id, created_by_id, updated_by_id, {cols})
             SELECT now(), now(), gen_random_uuid(), $2, $3, $3, {exprs}
             FROM jsonb_populate_recordset(NULL::lead, $1) r
             RETURNING id, {NAME_SQL} AS name)
         INSERT INTO activity (created_at, updated_at, id, action, entity_type, entity_id, entity_name,
                               description, created_by_id, updated_by_id, org_id, user_id)
         SELECT now(), now(), gen_random_uuid(), 'CREATE', 'Lead', ins.id, left(ins.name, 255), '', $3, $3, $2, $4
         FROM ins",
        cols = cols.join(", "),
        exprs = exprs.join(", "),
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(Value::Array(data))
        .bind(who.org)
        .bind(who.user)
        .bind(who.profile)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Progress is written on its own short transaction, so it shows while the import's own
/// transaction is still open. (The import's transaction writes its row only at the end.)
async fn set_progress(pool: &PgPool, org: Uuid, id: Uuid, processed: usize) -> sqlx::Result<()> {
    let mut tx = tenant::begin(pool, Some(org), None).await?;
    sqlx::query(
        "UPDATE lead_import SET status = 'running', processed = $3, updated_at = now()
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(processed as i32)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The `lead_import` job: reads the stored file, imports it on the job's transaction `tx`
/// (committed by the worker with the job's completion, so a crash or a retry leaves nothing
/// half-imported), and records the outcome in that same transaction.
pub(crate) async fn run_job(
    tx: &mut Tx,
    pool: &PgPool,
    org: Option<Uuid>,
    import_id: Uuid,
) -> anyhow::Result<()> {
    let org = org.ok_or_else(|| anyhow::anyhow!("lead import job without an org"))?;
    type Stored = (Option<Uuid>, Option<Uuid>, String, Option<Vec<u8>>, String);
    let stored: Option<Stored> = sqlx::query_as(
        "SELECT created_by_id, profile_id, format, file, status FROM lead_import WHERE id = $1 AND org_id = $2",
    )
    .bind(import_id)
    .bind(org)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(user), Some(profile), format, Some(file), status)) = stored else {
        tracing::warn!(%import_id, "lead import gone or without its file: nothing to do");
        return Ok(());
    };
    if status == "done" || status == "failed" {
        return Ok(());
    }
    set_progress(pool, org, import_id, 0).await?;
    let format = if format == "xlsx" {
        Format::Xlsx
    } else {
        Format::Csv
    };
    let who = Importer { org, user, profile };
    // Checked at upload; a file that no longer reads is a failed import, not a retry.
    let outcome = match read(Bytes::from(file), format).await {
        Ok(table) => import_rows(tx, &who, table, Some((pool, import_id)))
            .await
            .map_err(|e| anyhow::anyhow!("lead import: {} {}", e.status, e.body))?,
        Err(msg) => {
            finish(tx, org, import_id, "failed", &msg, 0, &[]).await?;
            return Ok(());
        }
    };
    let (status, message) = if outcome.created == 0 {
        ("failed", ALL_INVALID)
    } else {
        ("done", CREATED)
    };
    finish(
        tx,
        org,
        import_id,
        status,
        message,
        outcome.created,
        &outcome.failures,
    )
    .await?;
    Ok(())
}

async fn finish(
    tx: &mut Tx,
    org: Uuid,
    id: Uuid,
    status: &str,
    message: &str,
    created: usize,
    failures: &[dto::ImportRowError],
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE lead_import SET status = $3, message = $4, created = $5, failed = $6, rows = $7,
                processed = total, file = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(status)
    .bind(message)
    .bind(created as i32)
    .bind(failures.len() as i32)
    .bind(serde_json::to_value(failures).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    id: Uuid,
    status: String,
    total: i32,
    processed: i32,
    created: i32,
    failed: i32,
    message: String,
    rows: Value,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    job_status: Option<String>,
}

/// An import job's progress and outcome, for its uploader or an admin. `status`: `queued`,
/// `running`, `done` (the valid rows were created; `rows` lists the others) or `failed`
/// (nothing was created: every row was invalid, or the job itself failed).
#[utoipa::path(get, path = "/api/leads/upload/{id}/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path, description = "`job_id` from the upload")),
    responses((status = 200, body = dto::ImportStatus), (status = 404)))]
pub async fn status(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<dto::ImportStatus>> {
    let id = parse_id(&id)?;
    let row: StatusRow = sqlx::query_as(
        "SELECT i.id, i.status, i.total, i.processed, i.created, i.failed, i.message, i.rows,
                i.created_at, i.finished_at, j.status AS job_status
         FROM lead_import i LEFT JOIN jobs j ON j.id = i.job_id
         WHERE i.id = $1 AND i.org_id = $2 AND ($3 OR i.created_by_id = $4)",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(t.is_admin())
    .bind(t.user_id)
    .fetch_optional(&mut *t.tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    let mut status = row.status;
    let mut message = row.message;
    // The job gave up (its attempts used up) before recording an outcome: nothing was imported.
    if row.job_status.as_deref() == Some("failed") && !matches!(status.as_str(), "done" | "failed")
    {
        status = "failed".into();
        message = "The import could not be completed; no lead was created.".into();
    }
    let failed_import = status == "failed";
    Ok(Json(dto::ImportStatus {
        job_id: row.id,
        status,
        error: failed_import,
        errors: failed_import.then(|| json!({"leads_file": [message.clone()]})),
        message,
        total: row.total,
        processed: row.processed,
        created: row.created,
        failed: row.failed,
        rows: row.rows,
        created_at: row.created_at,
        finished_at: row.finished_at,
    }))
}
