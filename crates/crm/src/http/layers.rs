//! Middleware applied to every route, once: request id, access log with latency, CORS, body
//! limit, compression, timeout, security headers, panic -> JSON 500; plus the optional trailing
//! slash and JSON answers for unknown routes and methods.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::config::Config;
use crate::error::ApiError;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes end in `/`; the same path without it is served too (no redirect, so no lost body).
pub fn append_slash<B>(mut req: Request<B>) -> Request<B> {
    let path = req.uri().path();
    let wants_slash = (path.starts_with("/api/") || path == "/healthz" || path == "/schema")
        && !path.ends_with('/')
        && !path.rsplit('/').next().unwrap_or("").contains('.');
    if wants_slash {
        let new = match req.uri().query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        if let Ok(uri) = new.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::method_not_allowed(method.as_str())
}

/// Runs the rest of the request (handler and its transaction) on a task of its own, so a client
/// that disconnects mid-request does not cancel it halfway: the handler finishes and commits or
/// rolls back as if the client had stayed, and only its response is lost (as with Django). A
/// cancelled handler could otherwise drop its transaction between two steps of sqlx's
/// bookkeeping. The request timeout still cancels (inside this task); `db::tenant` makes BEGIN
/// and COMMIT safe against that.
/// The request's base URL for links in its response (`base_url::current`) is set here too.
pub async fn run_to_completion(
    axum::extract::State(cfg): axum::extract::State<std::sync::Arc<Config>>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let base = super::base_url::of_request(&cfg, req.headers(), req.uri());
    match tokio::spawn(super::base_url::scope(base, next.run(req))).await {
        Ok(res) => res,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => ApiError::unavailable("The server is shutting down.").into_response(),
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("handler panicked");
    ApiError::detail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "A server error occurred.",
    )
    .into_response()
}

fn cors(cfg: &Config) -> CorsLayer {
    let origins = if cfg.cors_allow_all {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            cfg.cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::DELETE,
            Method::GET,
            Method::OPTIONS,
            Method::PATCH,
            Method::POST,
            Method::PUT,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("org"),
            HeaderName::from_static("token"),
            HeaderName::from_static("x-org-id"),
            X_REQUEST_ID.clone(),
        ])
        .expose_headers([X_REQUEST_ID.clone()])
        .max_age(Duration::from_secs(86400))
}

pub fn apply(router: Router, cfg: &Config) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            let id = req.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        })
        .on_request(())
        .on_response(|res: &Response<Body>, latency: Duration, _span: &Span| {
            tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "response");
        });
    router
        .layer(DefaultBodyLimit::max(cfg.json_body_limit))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            cfg.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(cfg.clone()),
            run_to_completion,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(cfg))
        .layer(trace)
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("token"),
        ]))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID.clone(),
            MakeRequestUuid,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_slash_to_api_paths_only() {
        let p = |s: &str| {
            append_slash(Request::builder().uri(s).body(()).unwrap())
                .uri()
                .to_string()
        };
        assert_eq!(p("/api/auth/me"), "/api/auth/me/");
        assert_eq!(p("/api/leads?limit=5"), "/api/leads/?limit=5");
        assert_eq!(p("/api/leads/"), "/api/leads/");
        assert_eq!(p("/healthz"), "/healthz/");
        assert_eq!(p("/swagger-ui/index.css"), "/swagger-ui/index.css");
        assert_eq!(
            p("/api/schema/redoc/redoc.standalone.js"),
            "/api/schema/redoc/redoc.standalone.js"
        );
    }
}
