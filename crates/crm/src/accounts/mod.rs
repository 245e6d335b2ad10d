//! Accounts: list (active and inactive), create/detail/update/delete with upstream's cascades,
//! comments and attachments (shared registry), and e-mails to contacts (`create_mail`).

pub mod dto;
pub mod handlers;
pub mod model;
pub mod pages;

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
        handlers::patch, handlers::delete, handlers::create_mail,
    ),
    components(schemas(
        dto::AccountObj, dto::AccountListResponse, dto::ActiveAccounts, dto::ClosedAccounts,
        dto::AccountDetailResponse, dto::EmailObj, dto::AccountCreated, dto::MessageResponse,
    )),
    tags((name = "accounts", description = "Accounts and e-mails to their contacts"))
)]
pub struct AccountsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/accounts/", get(h::list).post(h::create))
        .route(
            "/api/accounts/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                // The detail form carries files: the upload limit applies while it streams in.
                .merge(post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
        .route("/api/accounts/{id}/create_mail/", post(h::create_mail))
}
