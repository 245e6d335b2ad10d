//! Tasks: list/create/detail/update/delete, built on the shared module toolkit
//! (`docs/modules.md`). Comments and attachments are mounted by `common::comments`; the daily
//! reminder of tasks due today and overdue is `reminders` (a per-org scheduled job).

pub mod dto;
pub mod handlers;
pub mod model;
pub mod reminders;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::OpenApi;

use crate::state::AppState;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::detail_post, handlers::put,
        handlers::patch, handlers::delete,
    ),
    components(schemas(
        dto::TaskObj, dto::TaskParent, dto::TaskListResponse, dto::TaskDetailResponse,
        dto::TaskCreated, dto::TaskMessage,
    )),
    tags((name = "tasks", description = "Tasks"))
)]
pub struct TasksApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/tasks/", get(h::list).post(h::create))
        .route(
            "/api/tasks/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: its limit is the upload limit.
                .merge(axum::routing::post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
}
