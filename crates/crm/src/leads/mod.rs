//! Leads: list/create/detail/update/delete, conversion into account + contact + opportunity,
//! CSV/XLSX import, CSV export, and the public web-to-lead form.

pub mod dto;
pub mod handlers;
pub mod import;
pub mod model;
pub mod service;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;

use crate::state::AppState;

/// Import files (CSV, XLSX) may be larger than JSON bodies. An XLSX is also bounded once
/// unpacked: see [`import`].
const UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::detail_post, handlers::put,
        handlers::patch, handlers::delete, handlers::upload, handlers::export, handlers::create_from_site,
    ),
    components(schemas(
        dto::LeadObj, dto::LeadListResponse, dto::OpenLeads, dto::CloseLeads, dto::LeadDetailResponse,
        dto::LeadCreated, dto::LeadConverted, dto::MessageResponse, dto::ImportResponse, dto::ImportRowError,
    )),
    tags((name = "leads", description = "Leads, conversion, import/export, web-to-lead"))
)]
pub struct LeadsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/leads/", get(h::list).post(h::create))
        .route("/api/leads/create-from-site/", post(h::create_from_site))
        .route(
            "/api/leads/upload/",
            post(h::upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/api/leads/export/", get(h::export))
        .route(
            "/api/leads/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: its limit is the upload limit, checked while
                // the body streams in, not the JSON one.
                .merge(post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
}
