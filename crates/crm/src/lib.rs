//! bottlecrm: a multi-tenant CRM API compatible with BottleCRM's Django backend.
//! `router` assembles every module's routes behind the shared middleware.

pub mod accounts;
pub mod auth;
pub mod boards;
pub mod cache;
pub mod cases;
pub mod common;
pub mod config;
pub mod contacts;
pub mod db;
pub mod emails;
pub mod error;
pub mod events;
pub mod http;
pub mod invoices;
pub mod jobs;
pub mod leads;
pub mod mail;
pub mod marketing;
pub mod openapi;
pub mod opportunities;
pub mod state;
pub mod storage;
pub mod tasks;
pub mod testkit;

use axum::Router;
use axum::routing::{get, post};

pub use config::Config;
pub use state::AppState;

fn api_routes() -> Router<AppState> {
    use auth::handlers as a;
    use common::{activity, api_settings, audit, dashboard, orgs, profiles, tags, teams, users};
    Router::new()
        .route("/api/auth/login/", post(a::login))
        .route("/api/auth/register/", post(a::register))
        .route("/api/auth/activate/", post(a::activate))
        .route("/api/auth/activate/{uid}/{token}/", get(a::activate_link))
        .route("/api/auth/refresh-token/", post(a::refresh))
        .route("/api/auth/logout/", post(a::logout))
        .route(
            "/api/auth/password-reset/",
            post(auth::password_reset::request),
        )
        .route(
            "/api/auth/password-reset/confirm/",
            post(auth::password_reset::confirm),
        )
        .route("/api/auth/invitations/", get(auth::invitations::pending))
        .route(
            "/api/auth/invitations/accept/",
            post(auth::invitations::accept),
        )
        .route("/api/auth/me/", get(a::me))
        .route("/api/auth/profile/", get(a::profile))
        .route("/api/auth/switch-org/", post(a::switch_org))
        .route("/api/auth/google/callback/", post(auth::google::callback))
        .route("/api/org/", get(orgs::list_orgs).post(orgs::create))
        .route(
            "/api/org/settings/",
            get(orgs::get_settings).patch(orgs::patch_settings),
        )
        .route(
            "/api/org/{id}/",
            get(orgs::get_org)
                .put(orgs::update_org)
                .patch(orgs::update_org),
        )
        .route(
            "/api/profile/",
            get(profiles::get_profile).patch(profiles::patch_profile),
        )
        .route("/api/org/{id}/rotate-api-key/", post(orgs::rotate_api_key))
        .route("/api/users/", get(users::list).post(users::create))
        .route(
            "/api/users/get-teams-and-users/",
            get(users::teams_and_users),
        )
        .route(
            "/api/user/{id}/",
            get(users::detail)
                .put(users::put)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/api/user/{id}/status/", post(users::set_status))
        .route("/api/teams/", get(teams::list).post(teams::create))
        .route(
            "/api/teams/{id}/",
            get(teams::detail)
                .put(teams::put)
                .patch(teams::patch)
                .delete(teams::delete),
        )
        .route("/api/tags/", get(tags::list).post(tags::create))
        .route(
            "/api/tags/{id}/",
            get(tags::detail).put(tags::update).delete(tags::archive),
        )
        .route("/api/tags/{id}/restore/", post(tags::restore))
        .route(
            "/api/api-settings/",
            get(api_settings::list).post(api_settings::create),
        )
        .route(
            "/api/api-settings/{id}/",
            get(api_settings::detail)
                .put(api_settings::put)
                .patch(api_settings::patch)
                .delete(api_settings::delete),
        )
        .route("/api/activities/", get(activity::list))
        .route("/api/audit-log/", get(audit::list))
        .route("/api/dashboard/", get(dashboard::dashboard))
        .route("/healthz/", get(http::health::healthz))
        .merge(leads::routes())
        .merge(accounts::routes())
        .merge(contacts::routes())
        .merge(boards::routes())
        .merge(tasks::routes())
        .merge(opportunities::routes())
        .merge(cases::routes())
        .merge(invoices::routes())
        .merge(events::routes())
        .merge(emails::routes())
        .merge(marketing::routes())
        .merge(common::comments::routes())
        .merge(common::documents::routes())
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let app = api_routes()
        .merge(http::docs::routes())
        .fallback(http::layers::not_found)
        .method_not_allowed_fallback(http::layers::method_not_allowed)
        .with_state(state.clone());
    let app = http::layers::apply(app, &state.cfg);
    // The slash is added before routing, so it wraps the routed app from outside.
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(http::layers::append_slash)
            .service(app),
    )
}
