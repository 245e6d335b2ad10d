//! Kanban boards: boards, their members (owner/admin/member/viewer), columns (position, colour,
//! WIP limit) and cards (position, priority, due date, assignees, links to an account, a contact
//! and an opportunity), on the shared module toolkit (`docs/modules.md`). Moves renumber the
//! siblings in one transaction with the board locked; every read is one statement.

pub mod dto;
pub mod handlers;
pub mod model;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

use crate::state::AppState;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::put, handlers::patch,
        handlers::delete, handlers::columns, handlers::create_column, handlers::column,
        handlers::put_column, handlers::patch_column, handlers::delete_column,
        handlers::column_cards, handlers::create_card, handlers::card, handlers::put_card,
        handlers::patch_card, handlers::delete_card, handlers::members, handlers::add_member,
        handlers::put_member, handlers::patch_member, handlers::delete_member,
    ),
    components(schemas(
        dto::BoardListObj, dto::BoardListResponse, dto::BoardColumnListObj, dto::BoardMemberObj,
        dto::BoardObj, dto::BoardTaskObj, dto::BoardColumnObj, dto::BoardBody, dto::ColumnBody,
        dto::CardBody, dto::MemberBody, dto::MemberRoleBody,
    )),
    tags((name = "boards", description = "Kanban boards, columns, cards and members"))
)]
pub struct BoardsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/boards/", get(h::list).post(h::create))
        .route(
            "/api/boards/{id}/",
            get(h::detail).put(h::put).patch(h::patch).delete(h::delete),
        )
        .route(
            "/api/boards/{id}/columns/",
            get(h::columns).post(h::create_column),
        )
        .route(
            "/api/boards/{id}/members/",
            get(h::members).post(h::add_member),
        )
        .route(
            "/api/boards/{id}/members/{member_id}/",
            axum::routing::put(h::put_member)
                .patch(h::patch_member)
                .delete(h::delete_member),
        )
        .route(
            "/api/boards/columns/{id}/",
            get(h::column)
                .put(h::put_column)
                .patch(h::patch_column)
                .delete(h::delete_column),
        )
        .route(
            "/api/boards/columns/{id}/tasks/",
            get(h::column_cards).post(h::create_card),
        )
        .route(
            "/api/boards/tasks/{id}/",
            get(h::card)
                .put(h::put_card)
                .patch(h::patch_card)
                .delete(h::delete_card),
        )
}
