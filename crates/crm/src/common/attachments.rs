//! Files attached to CRM records (upstream's generic `attachments` table), mounted with the
//! comments for every module in `comments::TARGETS`:
//! `GET/POST /api/<module>/attachment/<record id>/` list and upload (multipart, any file field),
//! `DELETE /api/<module>/attachment/<attachment id>/` (uploader or admin), and
//! `GET /api/<module>/attachment/<attachment id>/download/` for members who may see the record.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::comments::{Message, Target, envelope};
use crate::db::Tenant;
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::state::AppState;
use crate::storage::upload::shorten;
use crate::storage::{FormData, Upload};

/// Upstream's AttachmentsSerializer; `file_path` is our authenticated download URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentObj {
    pub id: Uuid,
    /// User id of the uploader.
    pub created_by: Option<Uuid>,
    pub file_name: String,
    pub created_at: DateTime<Utc>,
    pub file_path: String,
    /// Model name, e.g. `lead`.
    pub content_type: String,
    pub object_id: Uuid,
    pub org: Uuid,
    /// Storage key, never sent (downloads go through `file_path`).
    #[serde(skip)]
    pub key: String,
}

type Row = (
    Uuid,
    Option<Uuid>,
    String,
    DateTime<Utc>,
    String,
    Uuid,
    Uuid,
    String,
);

const COLUMNS: &str = "a.id, a.created_by_id, a.file_name, a.created_at, ct.model, a.object_id, a.org_id, a.attachment";

fn to_obj(state: &AppState, target: &Target, r: Row) -> AttachmentObj {
    AttachmentObj {
        id: r.0,
        created_by: r.1,
        file_name: r.2,
        created_at: r.3,
        file_path: format!(
            "{}/api/{}/attachment/{}/download/",
            crate::http::base_url::current(&state.cfg),
            target.segment,
            r.0
        ),
        content_type: r.4,
        object_id: r.5,
        org: r.6,
        key: r.7,
    }
}

/// Attachments of one record, newest first.
pub async fn attachments_of(
    state: &AppState,
    tx: &mut Tx,
    org_id: Uuid,
    target: &Target,
    object_id: Uuid,
    page: Page,
) -> Result<Vec<AttachmentObj>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments a JOIN django_content_type ct ON ct.id = a.content_type_id
         WHERE a.org_id = $1 AND a.object_id = $2 AND ct.app_label = $3 AND ct.model = $4
         ORDER BY a.created_at DESC, a.id LIMIT $5 OFFSET $6"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(object_id)
        .bind(target.app_label)
        .bind(target.model)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| to_obj(state, target, r)).collect())
}

/// Stores a checked upload and records it against a record (whose visibility the caller has
/// checked). The object is written first; if the row cannot be written it is removed again.
pub async fn attach(
    state: &AppState,
    t: &mut Tenant,
    target: &Target,
    object_id: Uuid,
    file: Upload,
) -> Result<AttachmentObj, ApiError> {
    let ct = target.content_type_id(&mut t.tx).await?;
    let key = file.new_key("attachments");
    state.storage.put(&key, file.bytes.clone()).await?;
    let id = Uuid::new_v4();
    let inserted = sqlx::query_as::<_, (DateTime<Utc>,)>(
        "INSERT INTO attachments (created_at, updated_at, id, object_id, file_name, attachment, content_type_id,
                                  created_by_id, updated_by_id, org_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, $6, $6, $7) RETURNING created_at",
    )
    .bind(id)
    .bind(object_id)
    .bind(shorten(&file.file_name, 60))
    .bind(&key)
    .bind(ct)
    .bind(t.user_id)
    .bind(t.org_id)
    .fetch_one(&mut *t.tx)
    .await;
    let (created_at,) = match inserted {
        Ok(r) => r,
        Err(e) => {
            state.storage.delete(&key).await;
            return Err(e.into());
        }
    };
    Ok(to_obj(
        state,
        target,
        (
            id,
            Some(t.user_id),
            shorten(&file.file_name, 60),
            created_at,
            target.model.to_string(),
            object_id,
            t.org_id,
            key,
        ),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    pub attachments_count: i64,
    pub attachments: Vec<AttachmentObj>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentsAdded {
    pub error: bool,
    pub message: String,
    pub attachments: Vec<AttachmentObj>,
}

/// GET (list), POST (upload) and DELETE on `/api/<module>/attachment/<pk>/`. Uploads bring
/// their own size limit (UPLOAD_MAX_BYTES), so the global JSON body limit is lifted here only.
pub fn method_router(tg: &'static Target) -> MethodRouter<AppState> {
    get(
        move |State(s): State<AppState>, t: Tenant, Path(pk): Path<String>, page: Page| {
            list(tg, s, t, pk, page)
        },
    )
    .post(
        move |State(s): State<AppState>, Path(pk): Path<String>, form: FormData| {
            upload(tg, s, pk, form)
        },
    )
    .delete(
        move |State(s): State<AppState>, t: Tenant, Path(pk): Path<String>| delete(tg, s, t, pk),
    )
    .layer(DefaultBodyLimit::disable())
}

#[utoipa::path(get, path = "/api/{module}/attachment/{pk}/", tag = "comments", operation_id = "attachments_list",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Record id"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = AttachmentList), (status = 404)))]
pub async fn list(
    target: &'static Target,
    state: AppState,
    mut t: Tenant,
    pk: String,
    page: Page,
) -> ApiResult<Json<AttachmentList>> {
    let id = parse_id(&pk)?;
    target.visible(&mut t, id).await?;
    let count = target
        .count_rows(&mut t.tx, "attachments", t.org_id, id)
        .await?;
    let attachments = attachments_of(&state, &mut t.tx, t.org_id, target, id, page).await?;
    t.commit().await?;
    Ok(Json(AttachmentList {
        attachments_count: count,
        attachments,
    }))
}

/// Multipart body of an attachment upload.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct AttachmentForm {
    #[schema(value_type = String, format = Binary)]
    pub attachment: String,
}

/// Uploads one or more files (multipart; every file field is attached).
#[utoipa::path(post, path = "/api/{module}/attachment/{pk}/", tag = "comments", operation_id = "attachments_upload",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Record id")),
    request_body(content_type = "multipart/form-data", content = AttachmentForm,
        description = "One or more files in any file fields, e.g. `attachment` or `lead_attachment`"),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 201, body = AttachmentsAdded),
              (status = 400, description = "No file, or a file type that is not allowed"),
              (status = 404), (status = 413, description = "Over UPLOAD_MAX_BYTES")))]
pub async fn upload(
    target: &'static Target,
    state: AppState,
    pk: String,
    form: FormData,
) -> ApiResult<(StatusCode, Json<AttachmentsAdded>)> {
    let mut t = form.tenant(&state).await?;
    let id = parse_id(&pk)?;
    target.visible(&mut t, id).await?;
    if form.files.is_empty() {
        return Err(envelope(
            StatusCode::BAD_REQUEST,
            json!({"attachment": ["No file was submitted."]}),
        ));
    }
    let mut added: Vec<AttachmentObj> = Vec::new();
    let mut result = Ok(());
    for file in form.files {
        match attach(&state, &mut t, target, id, file).await {
            Ok(a) => added.push(a),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        result = t.commit().await;
    }
    if let Err(e) = result {
        // Nothing was recorded: remove the files already stored.
        for a in &added {
            state.storage.delete(&a.key).await;
        }
        return Err(e);
    }
    Ok((
        StatusCode::CREATED,
        Json(AttachmentsAdded {
            error: false,
            message: "Attachment Added".into(),
            attachments: added,
        }),
    ))
}

/// An attachment of this module in the caller's org: (record id, uploader, storage key, name).
async fn find(
    t: &mut Tenant,
    target: &Target,
    pk: &str,
) -> Result<(Uuid, Uuid, Option<Uuid>, String, String), ApiError> {
    let id = parse_id(pk)?;
    let row: Option<(Uuid, Option<Uuid>, String, String)> = sqlx::query_as(
        "SELECT a.object_id, a.created_by_id, a.attachment, a.file_name
         FROM attachments a JOIN django_content_type ct ON ct.id = a.content_type_id
         WHERE a.id = $1 AND a.org_id = $2 AND ct.app_label = $3 AND ct.model = $4",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(target.app_label)
    .bind(target.model)
    .fetch_optional(&mut *t.tx)
    .await?;
    let (object_id, created_by, key, name) = row.ok_or_else(ApiError::not_found)?;
    Ok((id, object_id, created_by, key, name))
}

#[utoipa::path(delete, path = "/api/{module}/attachment/{pk}/", tag = "comments", operation_id = "attachments_delete",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Attachment id")),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message, description = "`Attachment Deleted Successfully`"),
              (status = 403), (status = 404)))]
pub async fn delete(
    target: &'static Target,
    state: AppState,
    mut t: Tenant,
    pk: String,
) -> ApiResult<Json<Message>> {
    let (id, _, created_by, key, _) = find(&mut t, target, &pk).await?;
    if !(t.is_admin() || created_by == Some(t.user_id)) {
        return Err(envelope(
            StatusCode::FORBIDDEN,
            json!("You don't have permission to delete this Attachment"),
        ));
    }
    sqlx::query("DELETE FROM attachments WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    t.commit().await?;
    state.storage.delete(&key).await;
    Ok(Message::ok("Attachment Deleted Successfully"))
}

/// The file, to members who may see the record it is attached to.
#[utoipa::path(get, path = "/api/{module}/attachment/{pk}/download/", tag = "comments", operation_id = "attachments_download",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks | invoices"),
           ("pk" = Uuid, Path, description = "Attachment id")),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, description = "The file (`Content-Disposition: attachment`)"), (status = 404)))]
pub async fn download(
    target: &'static Target,
    state: AppState,
    mut t: Tenant,
    pk: String,
) -> ApiResult<Response> {
    let (_, object_id, _, key, name) = find(&mut t, target, &pk).await?;
    target.visible(&mut t, object_id).await?;
    t.commit().await?;
    state.storage.download(&key, &name).await
}
