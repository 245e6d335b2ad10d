use axum::body::Body;
use axum::http::{Request, StatusCode};
use crm::testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn trailing_slash_is_optional_and_keeps_post_bodies() {
    let app = TestApp::new().await;
    let admin = app.admin("ts@example.com").await;
    let res = app.get("/api/profile", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .post(
            "/api/auth/login",
            None,
            &json!({"email": "ts@example.com", "password": admin.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "no redirect, body kept");
    let res = app.get("/api/org/settings?x=1", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn empty_json_body_is_an_empty_object_and_bad_bodies_are_4xx() {
    let app = TestApp::new().await;
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login/")
        .header("content-type", "application/json")
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["email"], json!(["This field is required."]));
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login/")
        .header("content-type", "application/json")
        .body(Body::from("{nope"))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login/")
        .header("content-type", "text/plain")
        .body(Body::from("x"))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        res.body,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
}

#[tokio::test]
async fn body_limit_is_enforced() {
    let app = TestApp::with_config(|c| c.json_body_limit = 1024).await;
    let big = json!({"email": "a@example.com", "password": "x".repeat(4096)});
    let res = app.post("/api/auth/login/", None, &big).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["detail"].is_string());
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = TestApp::new().await;
    let res = app.get("/api/does-not-exist/", None).await;
    assert_eq!(
        (res.status, res.body.clone()),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let res = app.get("/api/auth/login/", None).await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"GET\" not allowed."})
        )
    );
}

#[tokio::test]
async fn repeated_query_keys_last_wins() {
    let app = TestApp::new().await;
    let res = app.get("/schema/?format=yaml&format=json", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.is_object(), "format=json (the last) won");
}

#[tokio::test]
async fn cors_preflight_for_the_frontend_origin() {
    let app = TestApp::new().await;
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/api/users/")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization,content-type,org",
        )
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert!(res.status.is_success());
    assert_eq!(
        res.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let allowed = res.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in ["authorization", "content-type", "org"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    // A 401 carries CORS headers too, so the browser can read it.
    let req = Request::builder()
        .uri("/api/profile/")
        .header("origin", "http://localhost:5173")
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let req = Request::builder()
        .uri("/api/profile/")
        .header("origin", "http://evil.example")
        .body(Body::empty())
        .unwrap();
    assert!(
        app.send(req)
            .await
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn request_id_and_security_headers() {
    let app = TestApp::new().await;
    let res = app.get("/healthz/", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "ok");
    assert_eq!(res.body["database"], "ok");
    assert!(res.headers.contains_key("x-request-id"));
    assert_eq!(res.headers["x-content-type-options"], "nosniff");
    assert_eq!(res.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn healthz_is_503_when_the_database_is_unreachable() {
    let db = crm::testkit::TestDb::new().await;
    let bad = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let state = crm::AppState::new(bad, crm::Config::for_tests(&db.app_url()));
    let router = crm::router(state.clone());
    let app = TestApp { db, state, router };
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.body["status"], "unavailable");
}

#[tokio::test]
async fn docs_are_served_offline() {
    let app = TestApp::new().await;
    let res = app.get("/schema/", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.starts_with("openapi: 3.1"), "YAML by default");
    let res = app.get("/schema/?format=json", None).await;
    assert_eq!(res.body["openapi"], "3.1.0");
    for p in [
        "/api/auth/login/",
        "/api/auth/refresh-token/",
        "/api/auth/switch-org/",
        "/api/org/",
        "/api/org/settings/",
        "/api/profile/",
        "/healthz/",
    ] {
        assert!(res.body["paths"].get(p).is_some(), "{p} undocumented");
    }
    let res = app.get("/swagger-ui/", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.contains("swagger"), "swagger page");
    assert!(!res.text.contains("https://"), "no external assets");
    let res = app.get("/api/schema/redoc/", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.contains("/api/schema/redoc/redoc.standalone.js"));
    assert!(!res.text.contains("https://"), "no CDN");
    let res = app.get("/api/schema/redoc/redoc.standalone.js", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.len() > 500_000);
}

#[tokio::test]
async fn openapi_document_snapshot() {
    // The generated document is committed: any API change shows up as a diff in review.
    let current = crm::http::docs::openapi_json();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() || !path.exists() && std::env::var("CI").is_err() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .expect("tests/snapshots/openapi.json (run with UPDATE_SNAPSHOTS=1)");
    assert!(
        committed == current,
        "OpenAPI document changed: run `UPDATE_SNAPSHOTS=1 cargo test` and commit tests/snapshots/openapi.json"
    );
}

/// Issue 9 item 19: every request body of the served document has its real schema (a named
/// component with properties), not a bare `object`; `PUT /api/org/{id}/` is documented.
#[tokio::test]
async fn openapi_every_request_body_has_a_schema() {
    let doc: serde_json::Value = serde_json::from_str(&crm::http::docs::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let mut untyped = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            for (ct, media) in content {
                let schema = &media["schema"];
                let named = schema["$ref"]
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .map(|n| &schemas[n]);
                let typed = named.is_some_and(|s| s["properties"].is_object());
                if !typed {
                    untyped.push(format!("{method} {path} {ct}"));
                }
            }
        }
    }
    assert!(untyped.is_empty(), "untyped request bodies: {untyped:#?}");
    assert!(doc["paths"]["/api/org/{id}/"]["put"].is_object());
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_json_500() {
    use axum::routing::get;
    use tower::ServiceExt;
    let cfg = crm::Config::for_tests("postgres://unused@localhost/unused");
    let router = crm::http::layers::apply(axum::Router::new().route("/boom/", get(boom)), &cfg);
    let res = router
        .oneshot(
            Request::builder()
                .uri("/boom/")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body, json!({"detail": "A server error occurred."}));
}
