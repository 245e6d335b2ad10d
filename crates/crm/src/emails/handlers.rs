//! `/api/emails/...`: e-mails sent from CRM records, their history, threads and drafts.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto;
use super::model::{self, Draft, Filters, RECORD_TYPES, STATUSES};
use crate::common::activity::{self, Action};
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::jobs::{self, Job};
use crate::mail::templates::render_message;

fn forbidden() -> ApiError {
    ApiError::forbidden("You do not have permission to e-mail from this record.")
}

fn viewer(t: &Tenant) -> (bool, Uuid, Uuid) {
    (t.is_admin(), t.user_id, t.profile_id)
}

fn json_text(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// History: `record_type` + `record_id` list one record's e-mails (anyone who may see the
/// record); without them, admins get the org's e-mails and users those they sent. Drafts are
/// only ever listed for their author. Newest first.
#[utoipa::path(get, path = "/api/emails/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(
        ("record_type" = Option<String>, Query, description = "lead, contact, account, opportunity or case (with record_id)"),
        ("record_id" = Option<Uuid>, Query),
        ("status" = Option<String>, Query, description = "draft, queued, sent, failed or bounced"),
        ("thread" = Option<Uuid>, Query),
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
    ),
    responses((status = 200, body = dto::EmailListResponse), (status = 400, description = "malformed filter"),
              (status = 403), (status = 404, description = "the record is not in the org")))]
pub async fn list(mut t: Tenant, q: RawQuery, page: Page) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let mut f = Filters::default();
    let rt = q
        .get("record_type")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let rid = q.get("record_id").map(str::trim).filter(|s| !s.is_empty());
    match (rt, rid) {
        (None, None) => f.only_sender = !t.is_admin(),
        (Some(rt), Some(rid)) => {
            if !RECORD_TYPES.contains(&rt) {
                errors.add("record_type", format!("\"{rt}\" is not a valid choice."));
            }
            match Uuid::parse_str(rid) {
                Ok(id) if errors.is_empty() => f.record = Some((rt.to_string(), id)),
                Ok(_) => {}
                Err(_) => errors.add("record_id", "Must be a valid UUID."),
            }
        }
        (None, Some(_)) => errors.add("record_type", "Give record_type with record_id."),
        (Some(_), None) => errors.add("record_id", "Give record_id with record_type."),
    }
    if let Some(st) = q.get("status").map(str::trim).filter(|s| !s.is_empty()) {
        if STATUSES.contains(&st) {
            f.status = Some(st.to_string());
        } else {
            errors.add("status", format!("\"{st}\" is not a valid choice."));
        }
    }
    if let Some(th) = q.get("thread").map(str::trim).filter(|s| !s.is_empty()) {
        match Uuid::parse_str(th) {
            Ok(id) => f.thread = Some(id),
            Err(_) => errors.add("thread", "Must be a valid UUID."),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    if let Some((rt, id)) = &f.record {
        let v = viewer(&t);
        let rec = model::record(&mut t.tx, t.org_id, rt, *id, v)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if !rec.visible {
            return Err(forbidden());
        }
    }
    let body = model::list_json(&mut t.tx, t.org_id, t.user_id, &f, page, false).await?;
    t.commit().await?;
    Ok(json_text(body))
}

/// Validates `body` (a whole e-mail) and checks its ids in the org: the record (400 when not in
/// the org, 403 when the caller may not see it), the template, the e-mail answered. Fills the
/// defaults: the record's addresses as `to`, the template's subject/body, the sender's e-mail.
async fn prepare(
    t: &mut Tenant,
    body: &Map<String, Value>,
) -> Result<(Draft, Option<Uuid>, bool), ApiError> {
    let mut errors = FieldErrors::new();
    let input = dto::validate(body, &mut errors);
    let mut d = input.draft;
    let mut rec = None;
    if !errors.has("record_type") && !errors.has("record_id") {
        let v = viewer(t);
        match model::record(&mut t.tx, t.org_id, &d.record_type, d.record_id, v).await? {
            None => errors.add(
                "record_id",
                format!("No {} with this id in your organization.", d.record_type),
            ),
            Some(r) if !r.visible => return Err(forbidden()),
            Some(r) => rec = Some(r),
        }
    }
    if let Some(tpl) = d.template {
        match model::usable_template(&mut t.tx, t.org_id, t.user_id, tpl).await? {
            None => errors.add("template", "No such template in your organization."),
            Some((subject, html)) => {
                if d.subject.trim().is_empty() {
                    d.subject = subject;
                }
                if d.body.trim().is_empty() {
                    d.body = html;
                }
            }
        }
    }
    let mut thread = None;
    if let (Some(parent), true) = (d.in_reply_to, rec.is_some()) {
        thread = model::thread_of(&mut t.tx, t.org_id, parent, &d.record_type, d.record_id).await?;
        if thread.is_none() {
            errors.add("in_reply_to", "Not an e-mail of this record.");
        }
    }
    if let Some(r) = &rec {
        if !input.to_given {
            d.to = r.addresses.clone();
        }
        if let Err(e) = render_message(&d.subject, &d.body, &r.context) {
            errors.add("body", format!("{e:#}"));
        }
    }
    if !input.save_as_draft && rec.is_some() {
        if d.to.is_empty() && !errors.has("to") {
            errors.add(
                "to",
                "The record has no e-mail address: give the recipients in `to`.",
            );
        }
        if d.subject.trim().is_empty() && !errors.has("subject") {
            errors.add("subject", "This field may not be blank.");
        }
    }
    if d.from_email.is_empty() {
        d.from_email = t.email.clone();
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Ok((d, thread, input.save_as_draft))
}

/// Saves the e-mail and, unless it is a draft, queues its sending job in the same transaction
/// (at `scheduled_at` when given): committed, it is sent exactly once; rolled back, never.
async fn store(
    t: &mut Tenant,
    existing: Option<Uuid>,
    d: &Draft,
    thread: Option<Uuid>,
    as_draft: bool,
) -> Result<(Uuid, &'static str), ApiError> {
    let status = if as_draft { "draft" } else { "queued" };
    let id = model::save(&mut t.tx, t.org_id, t.user_id, existing, d, thread, status).await?;
    if !as_draft {
        let job = Job::CrmEmail { email_id: id };
        match d.scheduled_at {
            Some(at) => jobs::enqueue_at(&mut t.tx, Some(t.org_id), job, at).await?,
            None => jobs::enqueue(&mut t.tx, Some(t.org_id), job).await?,
        }
        activity::record(t, Action::Create, "Email", id, &d.subject).await?;
    }
    Ok((id, status))
}

fn saved(id: Uuid, status: &str) -> Json<Value> {
    let message = if status == "draft" {
        "Draft saved"
    } else {
        "E-mail queued"
    };
    Json(json!({"error": false, "message": message, "id": id, "status": status}))
}

/// Sends (or schedules, or saves as a draft) an e-mail from a record.
#[utoipa::path(post, path = "/api/emails/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::EmailBody,
    responses((status = 200, body = dto::EmailSaved),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"), (status = 403)))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let (d, thread, as_draft) = prepare(&mut t, &body).await?;
    let (id, status) = store(&mut t, None, &d, thread, as_draft).await?;
    t.commit().await?;
    Ok(saved(id, status))
}

/// The e-mail (404 outside the org and for another member's draft; 403 when the caller may not
/// see its record).
async fn visible(t: &mut Tenant, raw: &str) -> Result<model::Current, ApiError> {
    let id = parse_id(raw)?;
    let cur = model::current(&mut t.tx, t.org_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mine = cur.created_by_id == Some(t.user_id);
    if cur.status == "draft" && !mine {
        return Err(ApiError::not_found());
    }
    if !(mine || t.is_admin()) {
        let v = viewer(t);
        let rec = model::record(&mut t.tx, t.org_id, &cur.record_type, cur.record_id, v).await?;
        if !rec.is_some_and(|r| r.visible) {
            return Err(forbidden());
        }
    }
    Ok(cur)
}

/// One e-mail with the full message (as rendered when it was sent).
#[utoipa::path(get, path = "/api/emails/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EmailObj), (status = 403), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let cur = visible(&mut t, &id).await?;
    t.commit().await?;
    Ok(json_text(cur.obj))
}

/// The e-mail's thread (the e-mails answering each other on its record), oldest first.
#[utoipa::path(get, path = "/api/emails/{id}/thread/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = dto::EmailThread), (status = 403), (status = 404)))]
pub async fn thread(mut t: Tenant, Path(id): Path<String>, page: Page) -> ApiResult<Response> {
    let cur = visible(&mut t, &id).await?;
    let f = Filters {
        thread: Some(cur.thread_id),
        ..Filters::default()
    };
    let body = model::list_json(&mut t.tx, t.org_id, t.user_id, &f, page, true).await?;
    t.commit().await?;
    let mut v: Value = serde_json::from_str(&body).map_err(ApiError::internal)?;
    v["thread_id"] = json!(cur.thread_id);
    Ok(Json(v).into_response())
}

/// A draft, for its author only; anything else cannot change (409).
async fn own_draft(t: &mut Tenant, raw: &str) -> Result<(Uuid, model::Current), ApiError> {
    let id = parse_id(raw)?;
    let cur = visible(t, raw).await?;
    if cur.status != "draft" {
        return Err(ApiError::detail(
            StatusCode::CONFLICT,
            format!("This e-mail is {}: only drafts can be changed.", cur.status),
        ));
    }
    if cur.created_by_id != Some(t.user_id) {
        return Err(ApiError::not_found());
    }
    Ok((id, cur))
}

/// PUT replaces the draft with the body; PATCH changes the keys present. `"draft": false`
/// sends it.
async fn write(
    mut t: Tenant,
    raw: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let (id, cur) = own_draft(&mut t, raw).await?;
    let mut merged = Map::new();
    if partial {
        let obj: Value = serde_json::from_str(&cur.obj).map_err(ApiError::internal)?;
        if let Value::Object(o) = obj {
            merged = o;
        }
    }
    merged.insert("draft".into(), json!(true));
    merged.extend(body);
    let (d, thread, as_draft) = prepare(&mut t, &merged).await?;
    let (id, status) = store(&mut t, Some(id), &d, thread, as_draft).await?;
    t.commit().await?;
    Ok(saved(id, status))
}

#[utoipa::path(put, path = "/api/emails/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::EmailBody,
    responses((status = 200, body = dto::EmailSaved), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

#[utoipa::path(patch, path = "/api/emails/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::EmailBody, description = "Any of these"),
    responses((status = 200, body = dto::EmailSaved), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Sends a draft (now, or at its `scheduled_at`).
#[utoipa::path(post, path = "/api/emails/{id}/send/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EmailSaved), (status = 400), (status = 403), (status = 404), (status = 409)))]
pub async fn send(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (id, cur) = own_draft(&mut t, &id).await?;
    let mut merged = match serde_json::from_str(&cur.obj).map_err(ApiError::internal)? {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    merged.insert("draft".into(), json!(false));
    let (d, thread, _) = prepare(&mut t, &merged).await?;
    let (id, status) = store(&mut t, Some(id), &d, thread, false).await?;
    t.commit().await?;
    Ok(saved(id, status))
}

/// Deletes a draft, or cancels an e-mail still queued (its job then sends nothing). Sent and
/// failed e-mails stay in the history (409). The author or an admin.
#[utoipa::path(delete, path = "/api/emails/{id}/", tag = "emails", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::EmailMessage), (status = 403), (status = 404), (status = 409)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let cur = visible(&mut t, &id).await?;
    let id = parse_id(&id)?;
    if !(cur.created_by_id == Some(t.user_id) || t.is_admin()) {
        return Err(ApiError::permission_denied());
    }
    if !matches!(cur.status.as_str(), "draft" | "queued") {
        return Err(ApiError::detail(
            StatusCode::CONFLICT,
            format!(
                "This e-mail is {}: it stays in the record's history.",
                cur.status
            ),
        ));
    }
    // An account e-mail's recipient is cancelled with the account e-mail only.
    let r = sqlx::query(
        "DELETE FROM crm_email WHERE id = $1 AND org_id = $2 AND account_email_log_id IS NULL",
    )
    .bind(id)
    .bind(t.org_id)
    .execute(&mut *t.tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::detail(
            StatusCode::CONFLICT,
            "This e-mail belongs to an account e-mail (create_mail) and cannot be cancelled alone.",
        ));
    }
    t.commit().await?;
    let message = if cur.status == "draft" {
        "Draft deleted"
    } else {
        "E-mail cancelled"
    };
    Ok(Json(json!({"error": false, "message": message})))
}
