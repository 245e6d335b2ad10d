//! Events (calendar): events and recurring series (RFC 5545 RRULE in an IANA time zone), the
//! window query that expands them into occurrences, single-occurrence and "this and following"
//! edits, built on the module toolkit (`docs/modules.md`). Comments and attachments are mounted
//! by `common::comments`.

pub mod dto;
pub mod handlers;
pub mod invites;
pub mod model;
pub mod recur;

/// IANA time zones (chrono-tz), for callers outside the module (seed).
pub use chrono_tz::Tz;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use utoipa::OpenApi;

use crate::state::AppState;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::detail_post, handlers::put,
        handlers::patch, handlers::delete, handlers::occurrence_patch, handlers::occurrence_delete,
        invites::invite, invites::uninvite, invites::rsvp_get, invites::rsvp_post,
    ),
    components(schemas(
        dto::EventObj, dto::EventListResponse,
        dto::EventDetailResponse, dto::InviteeObj, dto::ExceptionObj, dto::EventCreated,
        dto::EventMessage, dto::EventBody, dto::OccurrenceBody, dto::EventDetailForm,
        invites::InviteBody, invites::InvitedResponse, invites::RsvpBody, invites::RsvpResponse,
    )),
    tags((name = "events", description = "Calendar events"))
)]
pub struct EventsApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/events/", get(h::list).post(h::create))
        .route(
            "/api/events/{id}/",
            get(h::detail)
                .put(h::put)
                .patch(h::patch)
                .delete(h::delete)
                .merge(axum::routing::post(h::detail_post).layer(DefaultBodyLimit::disable())),
        )
        .route(
            "/api/events/{id}/occurrences/{occurrence}/",
            patch(h::occurrence_patch).delete(h::occurrence_delete),
        )
        .route("/api/events/{id}/invitees/", post(invites::invite))
        .route(
            "/api/events/{id}/invitees/{invitee}/",
            delete(invites::uninvite),
        )
        .route(
            "/api/events/rsvp/{token}/",
            get(invites::rsvp_get).post(invites::rsvp_post),
        )
}
