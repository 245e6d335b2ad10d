//! Opportunities: list/create/detail/update/delete with the stage rules, line items with exact
//! money math, built on the shared module toolkit (`docs/modules.md`). Comments and attachments
//! are mounted by `common::comments`.

pub mod dto;
pub mod handlers;
pub mod model;
pub mod service;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;

use crate::state::AppState;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::detail_post, handlers::put,
        handlers::patch, handlers::delete, handlers::line_items, handlers::create_line_item,
        handlers::line_item, handlers::update_line_item, handlers::delete_line_item,
    ),
    components(schemas(
        dto::OpportunityObj, dto::OpportunityAccount, dto::LineItemObj, dto::ProductObj,
        dto::OpportunityListResponse, dto::OpportunityDetailResponse, dto::OpportunityCreated,
        dto::OpportunityMessage, dto::LineItemListResponse, dto::LineItemWritten,
        dto::LineItemDeleted, dto::LineItemError, dto::OpportunityBody, dto::LineItemBody,
    )),
    tags((name = "opportunities", description = "Opportunities and their line items"))
)]
pub struct OpportunitiesApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/opportunities/", get(h::list).post(h::create))
        .route(
            "/api/opportunities/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: the upload limit applies while it streams in.
                .merge(post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
        .route(
            "/api/opportunities/{id}/line-items/",
            get(h::line_items).post(h::create_line_item),
        )
        .route(
            "/api/opportunities/{id}/line-items/{item}/",
            get(h::line_item)
                .put(h::update_line_item)
                .delete(h::delete_line_item),
        )
}
