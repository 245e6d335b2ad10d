//! bottlecrm: a multi-tenant CRM API compatible with BottleCRM's Django backend.
//! `router` assembles every module's routes behind the shared middleware.

pub mod auth;
pub mod common;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod openapi;
pub mod state;
pub mod storage;
pub mod testkit;

use axum::Router;
use axum::routing::{get, post};

pub use config::Config;
pub use state::AppState;

fn api_routes() -> Router<AppState> {
    use auth::handlers as a;
    use common::{orgs, profiles};
    Router::new()
        .route("/api/auth/login/", post(a::login))
        .route("/api/auth/register/", post(a::register))
        .route("/api/auth/activate/", post(a::activate))
        .route("/api/auth/activate/{uid}/{token}/", get(a::activate_link))
        .route("/api/auth/refresh-token/", post(a::refresh))
        .route("/api/auth/logout/", post(a::logout))
        .route("/api/auth/me/", get(a::me))
        .route("/api/auth/profile/", get(a::profile))
        .route("/api/auth/switch-org/", post(a::switch_org))
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
        .route("/healthz/", get(http::health::healthz))
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
