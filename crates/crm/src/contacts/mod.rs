//! Contacts: list/create/detail/update/delete, built on the shared module toolkit
//! (`docs/modules.md`). Comments and attachments are mounted by `common::comments`.

pub mod dto;
pub mod handlers;
pub mod model;

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
        dto::ContactObj, dto::ContactListResponse, dto::ContactDetailResponse, dto::ContactCreated,
        dto::ContactMessage,
    )),
    tags((name = "contacts", description = "Contacts"))
)]
pub struct ContactsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/contacts/", get(h::list).post(h::create))
        .route(
            "/api/contacts/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: its limit is the upload limit, checked while
                // the body streams in, not the JSON one.
                .merge(axum::routing::post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
}
