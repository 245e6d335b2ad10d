//! API documentation served by the binary itself, with no network: the OpenAPI document at
//! `/schema/` (YAML, or JSON with `?format=json`), Swagger UI at `/swagger-ui/` (assets compiled
//! in by utoipa-swagger-ui's `vendored` feature) and ReDoc at `/api/schema/redoc/` (the npm
//! `redoc@2.5.4` standalone bundle, embedded).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa_swagger_ui::SwaggerUi;

use super::query::RawQuery;
use crate::openapi::document;
use crate::state::AppState;

const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc.standalone.js");

const REDOC_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>BottleCRM API — ReDoc</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/schema/?format=json"></redoc>
  <script src="/api/schema/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

pub fn openapi_json() -> String {
    document().to_pretty_json().unwrap_or_else(|_| "{}".into())
}

pub fn openapi_yaml() -> String {
    document().to_yaml().unwrap_or_default()
}

async fn schema(q: RawQuery) -> Response {
    match q.get("format") {
        Some("json") => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            openapi_json(),
        )
            .into_response(),
        _ => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.oai.openapi; charset=utf-8"),
            )],
            openapi_yaml(),
        )
            .into_response(),
    }
}

async fn redoc_page() -> Html<&'static str> {
    Html(REDOC_HTML)
}

async fn redoc_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        REDOC_JS,
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/schema/", get(schema))
        .route("/api/schema/", get(schema))
        .route("/api/schema/redoc/", get(redoc_page))
        .route("/api/schema/redoc/redoc.standalone.js", get(redoc_js))
        .merge(SwaggerUi::new("/swagger-ui").url("/api/schema/openapi.json", document()))
}
