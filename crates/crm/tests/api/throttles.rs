//! Throttles that hold with several servers (issue 11, item 6): the failed-login throttle and
//! the web-form's rate limits are kept in PostgreSQL, so two app instances sharing one database
//! (two `serve` processes) enforce one limit. Requests alternate between the two instances.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use crm::testkit::{TestApp, TestResponse};
use serde_json::{Value, json};
use uuid::Uuid;

fn post(path: &str, ip: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Instance `i % 2` of the two.
async fn send(servers: &[Router; 2], i: usize, req: Request<Body>) -> TestResponse {
    TestApp::send_via(&servers[i % 2], req).await
}

#[tokio::test]
async fn login_throttle_holds_across_two_servers() {
    let app = TestApp::with_config(|c| {
        c.login_max_failures = 3;
        c.login_max_failures_per_email = 6;
        c.trust_proxy = true;
    })
    .await;
    let admin = app.admin("twin@example.com").await;
    let servers = [app.router.clone(), app.twin()];
    let bad = json!({"email": "twin@example.com", "password": "wrong"});
    let good = json!({"email": "twin@example.com", "password": admin.password});
    // The pair (e-mail, address): 3 failures spread over both servers, then both refuse.
    for i in 0..3 {
        let res = send(&servers, i, post("/api/auth/login/", "10.0.0.1", &bad)).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "failure {i}: {}",
            res.text
        );
    }
    for i in 0..2 {
        let res = send(&servers, i, post("/api/auth/login/", "10.0.0.1", &good)).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "server {i} backs the pair off"
        );
        assert!(res.headers.contains_key("retry-after"));
    }
    // The owner from another address still gets in, on either server (which clears that pair only).
    let res = send(&servers, 1, post("/api/auth/login/", "10.0.0.2", &good)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // The per-e-mail ceiling (6) counts the failures of both servers from any address.
    for i in 0..3 {
        let ip = format!("10.1.0.{i}");
        let res = send(&servers, i, post("/api/auth/login/", &ip, &bad)).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "failure {i}: {}",
            res.text
        );
    }
    for i in 0..2 {
        let res = send(&servers, i, post("/api/auth/login/", "10.2.0.1", &good)).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "server {i}: e-mail ceiling"
        );
    }
    // The state is in the database (digests, not e-mails).
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM throttle_hits")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert!(rows >= 6);
    let (plain,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM throttle_hits WHERE key LIKE '%twin%' OR key LIKE '%10.%'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn web_form_rate_limits_hold_across_two_servers() {
    let app = TestApp::with_config(|c| c.trust_proxy = true).await;
    let admin = app.admin("site-twin@example.com").await;
    let servers = [app.router.clone(), app.twin()];
    let key = "k".repeat(64);
    sqlx::query(
        "INSERT INTO \"apiSettings\" (created_at, updated_at, id, title, apikey, website, created_by_id, org_id)
         VALUES (now(), now(), $1, 'site', $2, 'https://example.com', $3, $4)",
    )
    .bind(Uuid::new_v4())
    .bind(&key)
    .bind(admin.user_id)
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    let path = "/api/leads/create-from-site/";
    // 20 a minute per key and address, over both servers.
    for i in 0..20 {
        let body = json!({"apikey": key, "first_name": format!("Web{i}"), "email": format!("w{i}@example.com")});
        let res = send(&servers, i, post(path, "10.5.0.1", &body)).await;
        assert_eq!(res.status, StatusCode::OK, "form {i}: {}", res.text);
    }
    for i in 0..2 {
        let body = json!({"apikey": key, "first_name": "Over", "email": "over@example.com"});
        let res = send(&servers, i, post(path, "10.5.0.1", &body)).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "server {i}: key limit"
        );
    }
    // 60 a minute per address, whatever the key (bad keys are 403 until then).
    for i in 0..60 {
        let res = send(
            &servers,
            i,
            post(path, "10.6.0.1", &json!({"apikey": "nope"})),
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "request {i}");
    }
    for i in 0..2 {
        let res = send(&servers, i, post(path, "10.6.0.1", &json!({"apikey": key}))).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "server {i}: address limit"
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM lead WHERE org_id = $1")
        .bind(admin.org_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 20);
}
