//! Cases (support tickets) with a working SLA, and the solutions knowledge base, built on the
//! shared module toolkit (`docs/modules.md`). Comments and attachments are mounted by
//! `common::comments` (`/api/cases/comment/<case id>/`, as the frontend posts them); the SLA
//! breach e-mails come from the `case_sla` schedule (`sla.rs`).

pub mod dto;
pub mod handlers;
pub mod model;
pub mod sla;
pub mod solutions;

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
        handlers::patch, handlers::delete,
        solutions::list, solutions::create, solutions::detail, solutions::put, solutions::patch,
        solutions::delete, solutions::publish, solutions::unpublish,
    ),
    components(schemas(
        dto::CaseObj, dto::CaseListResponse, dto::CaseDetailResponse, dto::CaseCreated,
        dto::CaseMessage, dto::SolutionObj, dto::SolutionDetailObj, dto::SolutionList,
    )),
    tags((name = "cases", description = "Cases (support tickets with SLA targets) and solutions (knowledge base)"))
)]
pub struct CasesApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    use solutions as s;
    Router::new()
        .route("/api/cases/", get(h::list).post(h::create))
        .route(
            "/api/cases/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: the upload limit applies while it streams in.
                .merge(post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
        .route("/api/cases/solutions/", get(s::list).post(s::create))
        .route(
            "/api/cases/solutions/{id}/",
            get(s::detail).put(s::put).patch(s::patch).delete(s::delete),
        )
        .route("/api/cases/solutions/{id}/publish/", post(s::publish))
        .route("/api/cases/solutions/{id}/unpublish/", post(s::unpublish))
}
