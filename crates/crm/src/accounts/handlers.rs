//! `/api/accounts/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s are 4xx.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::dto::{self, account_errors};
use super::model;
use crate::common::activity::{self, Action};
use crate::common::comments;
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::parse_id;
use crate::jobs::{self, Job};
use crate::mail::templates::render_message;
use crate::state::AppState;

pub(super) fn envelope(status: StatusCode, errors: &str) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

pub(super) fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        "You do not have Permission to perform this action",
    )
}

/// Admins, or the account's creator. Opportunities and cases of the account go with it;
/// contacts, tasks and board cards stay, unlinked. Invoices, estimates or recurring invoices
/// that refer to it block the delete (409; upstream: 500).
#[utoipa::path(delete, path = "/api/accounts/{id}/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::MessageResponse), (status = 403), (status = 404),
              (status = 409, description = "`{\"error\": true, \"errors\": \"...\"}`: invoices or estimates refer to it")))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(no_permission());
    }
    if let Some(msg) = model::delete_blockers(&mut t.tx, t.org_id, id).await? {
        return Err(envelope(StatusCode::CONFLICT, &msg));
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &comments::ACCOUNTS, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Account", id, &name).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Account Deleted Successfully."}),
    ))
}

/// E-mails contacts of the org from the account (upstream: always 500). The subject and body
/// are templates over each recipient's fields (`{{ first_name }}`...); `{`/`}` must balance.
/// Sent now through the job queue, or at `scheduled_date_time` when `scheduled_later`; each
/// recipient gets an `emailLogs` row, marked sent once the mail transport accepted the message.
#[utoipa::path(post, path = "/api/accounts/{id}/create_mail/", tag = "accounts", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = Object, description = "`from_email` (required), `recipients` (contact ids, required), `message_subject`, `message_body`, `timezone` (default UTC), `scheduled_later`, `scheduled_date_time` (ISO; without an offset it is read in `timezone`)"),
    responses((status = 200, body = dto::AccountCreated, description = "`Email sent successfully`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"), (status = 403), (status = 404)))]
pub async fn create_mail(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let input = dto::validate_mail(&body, &mut errors);
    let mut at = None;
    if let Some(input) = &input {
        at = model::check_mail(&mut t.tx, t.org_id, input, &mut errors).await?;
        let sample = json!({"first_name": "", "last_name": "", "email": ""});
        let subject = input.subject.as_deref().unwrap_or_default();
        if let Err(e) = render_message(subject, input.body.as_deref().unwrap_or_default(), &sample)
        {
            errors.add("message_body", format!("{e:#}"));
        }
    }
    let Some(input) = input.filter(|_| errors.is_empty()) else {
        return Err(account_errors(errors));
    };
    let email_id = model::insert_mail(&mut t.tx, t.org_id, t.user_id, id, &input, at).await?;
    let job = Job::AccountEmail { email_id };
    match at {
        Some(at) => jobs::enqueue_at(&mut t.tx, Some(t.org_id), job, at).await?,
        None => jobs::enqueue(&mut t.tx, Some(t.org_id), job).await?,
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Email sent successfully", "id": email_id}),
    ))
}
