//! E-mails sent from CRM records (leads, contacts, accounts, opportunities, cases): composed
//! from org templates with the record's fields as placeholders, sent now or later through the
//! job queue (transactional outbox: queued in the request's transaction, sent exactly once),
//! kept as the record's history with their status, threads and drafts. Account e-mails
//! (`create_mail`) are sent and recorded through it too. Suppressed addresses (see
//! `email_suppression`) are never sent to.

pub mod dto;
pub mod handlers;
pub mod model;
pub mod send;
pub mod templates;

use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::put, handlers::patch,
        handlers::delete, handlers::send, handlers::thread,
        templates::list, templates::create, templates::detail, templates::put, templates::patch,
        templates::delete,
    ),
    components(schemas(
        dto::EmailBody, dto::EmailObj, dto::EmailSender, dto::EmailListResponse, dto::EmailThread,
        dto::EmailSaved, dto::EmailMessage, dto::TemplateBody, dto::TemplateObj,
        dto::TemplateListResponse, dto::TemplateSaved,
    )),
    tags((name = "emails", description = "E-mails sent from CRM records, their history and templates"))
)]
pub struct EmailsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    use templates as tp;
    Router::new()
        .route("/api/emails/", get(h::list).post(h::create))
        .route("/api/emails/templates/", get(tp::list).post(tp::create))
        .route(
            "/api/emails/templates/{id}/",
            get(tp::detail)
                .put(tp::put)
                .patch(tp::patch)
                .delete(tp::delete),
        )
        .route(
            "/api/emails/{id}/",
            get(h::detail).put(h::put).patch(h::patch).delete(h::delete),
        )
        .route("/api/emails/{id}/send/", post(h::send))
        .route("/api/emails/{id}/thread/", get(h::thread))
}
