//! Google sign-in against a local OpenID Connect stand-in (token + JWKS endpoints) that the test
//! starts on 127.0.0.1:0. ID tokens are signed with a fixed test RSA key; a second key forges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use crm::testkit::TestApp;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const KEY1: &str = include_str!("fixtures/oidc_test_key1.pem");
const KEY2: &str = include_str!("fixtures/oidc_test_key2.pem");
const KEY1_N: &str = include_str!("fixtures/oidc_test_key1.n");
const CLIENT_ID: &str = "test-client.apps.example";
const ISSUER: &str = "https://accounts.google.com";

#[derive(Clone, Default)]
struct Provider {
    /// The id_token the token endpoint hands out next.
    id_token: Arc<Mutex<String>>,
    /// Form bodies the token endpoint received.
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

async fn token(
    State(p): State<Provider>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    p.seen.lock().unwrap().push(form.clone());
    if form.get("code").map(String::as_str) != Some("good-code") {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "invalid_grant", "error_description": "Invalid code_verifier or code"}),
            ),
        );
    }
    let id_token = p.id_token.lock().unwrap().clone();
    (
        StatusCode::OK,
        Json(json!({"access_token": "at", "id_token": id_token, "token_type": "Bearer"})),
    )
}

async fn jwks() -> Json<Value> {
    Json(
        json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": KEY1_N.trim(), "e": "AQAB"}]}),
    )
}

async fn start_provider() -> (Provider, String) {
    let p = Provider::default();
    let router = Router::new()
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (p, format!("http://{addr}"))
}

fn sign(pem: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "1234567890", "email": email, "email_verified": true,
           "picture": "https://example.com/p.png", "iat": now, "exp": now + 600})
}

async fn app_with_provider() -> (TestApp, Provider) {
    let (p, base) = start_provider().await;
    let app = TestApp::with_config(|c| {
        c.google.client_id = Some(CLIENT_ID.into());
        c.google.client_secret = Some("secret".into());
        c.google.token_url = format!("{base}/token");
        c.google.jwks_url = format!("{base}/jwks");
        c.google.issuers = vec![ISSUER.into()];
    })
    .await;
    (app, p)
}

fn body() -> Value {
    json!({"code": "good-code", "code_verifier": "verifier-123", "redirect_uri": "http://localhost:5173/login"})
}

async fn user_count(app: &TestApp, email: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn google_sign_in_creates_the_user_and_issues_tokens() {
    let (app, p) = app_with_provider().await;
    *p.id_token.lock().unwrap() = sign(KEY1, claims("new.person@example.com"));
    let res = app.post("/api/auth/google/callback/", None, &body()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.body["access_token"].is_string() && res.body["refresh_token"].is_string());
    assert_eq!(res.body["user"]["email"], "new.person@example.com");
    // The code exchange sent what the provider needs, PKCE verifier included.
    let seen = p.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen["grant_type"], "authorization_code");
    assert_eq!(seen["code_verifier"], "verifier-123");
    assert_eq!(seen["client_id"], CLIENT_ID);
    assert_eq!(seen["redirect_uri"], "http://localhost:5173/login");
    // The tokens work.
    let me = app
        .get(
            "/api/auth/me/",
            Some(res.body["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "new.person@example.com");
    assert_eq!(user_count(&app, "new.person@example.com").await, 1);

    // An existing member signs in to their org (org-aware tokens), no second account.
    let admin = app.admin("boss@example.com").await;
    *p.id_token.lock().unwrap() = sign(KEY1, claims("boss@example.com"));
    let res = app.post("/api/auth/google/callback/", None, &body()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["current_org"]["id"], admin.org_id.to_string());
    let prof = app
        .get(
            "/api/profile/",
            Some(res.body["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(prof.status, StatusCode::OK);
    assert_eq!(user_count(&app, "boss@example.com").await, 1);
}

#[tokio::test]
async fn google_rejects_forged_expired_and_unverified_tokens() {
    let (app, p) = app_with_provider().await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        // Signed with another key under the published kid: a forgery.
        (sign(KEY2, claims("forger@example.com")), "signature"),
        (
            sign(
                KEY1,
                json!({"iss": ISSUER, "aud": "someone-else", "sub": "1", "email": "forger@example.com",
                           "email_verified": true, "exp": now + 600}),
            ),
            "audience",
        ),
        (
            sign(
                KEY1,
                json!({"iss": "https://evil.example", "aud": CLIENT_ID, "sub": "1", "email": "forger@example.com",
                           "email_verified": true, "exp": now + 600}),
            ),
            "issuer",
        ),
        (
            sign(
                KEY1,
                json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "1", "email": "forger@example.com",
                           "email_verified": true, "exp": now - 3600}),
            ),
            "expired",
        ),
        (
            sign(
                KEY1,
                json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "1", "email": "forger@example.com",
                           "email_verified": false, "exp": now + 600}),
            ),
            "not verified",
        ),
        // Unsigned token with the right payload.
        (
            {
                let good = sign(KEY1, claims("forger@example.com"));
                let mut parts: Vec<&str> = good.split('.').collect();
                parts[2] = "";
                parts.join(".")
            },
            "ID token",
        ),
    ];
    for (token, needle) in cases {
        *p.id_token.lock().unwrap() = token;
        let res = app.post("/api/auth/google/callback/", None, &body()).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{needle}: {}",
            res.text
        );
        let msg = res.body["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{needle} not in {msg}");
        assert!(res.body.get("access_token").is_none());
    }
    assert_eq!(
        user_count(&app, "forger@example.com").await,
        0,
        "nothing written"
    );
    // Failures are in the audit log (org-less rows, operators only).
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM security_audit_log WHERE event_type = 'LOGIN_FAILURE' AND org_id IS NULL AND NOT success",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert!(n >= 5, "{n}");
}

#[tokio::test]
async fn google_callback_input_and_exchange_errors() {
    let (app, _p) = app_with_provider().await;
    for b in [
        json!({}),
        json!({"code": "x", "code_verifier": "y"}),
        json!({"code": "", "code_verifier": "y", "redirect_uri": "z"}),
    ] {
        let res = app.post("/api/auth/google/callback/", None, &b).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.body, json!({"error": "Missing required parameters"}));
    }
    // The provider refuses the code: its description is passed on (the frontend looks for
    // "code_verifier").
    let res = app
        .post(
            "/api/auth/google/callback/",
            None,
            &json!({"code": "bad", "code_verifier": "v", "redirect_uri": "r"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "Invalid code_verifier or code");

    // Not configured: 503, and an unreachable provider: 502.
    let plain = TestApp::new().await;
    let res = plain
        .post("/api/auth/google/callback/", None, &body())
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let down = TestApp::with_config(|c| {
        c.google.client_id = Some(CLIENT_ID.into());
        c.google.client_secret = Some("s".into());
        c.google.token_url = "http://127.0.0.1:9/token".into();
    })
    .await;
    let res = down.post("/api/auth/google/callback/", None, &body()).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY);
    assert_eq!(res.body["error"], "Failed to communicate with Google");
}

#[tokio::test]
async fn google_sign_in_refuses_inactive_users() {
    let (app, p) = app_with_provider().await;
    let admin = app.admin("a@example.com").await;
    let user = app.member(admin.org_id, "off@example.com", "USER").await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(user.user_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    *p.id_token.lock().unwrap() = sign(KEY1, claims("off@example.com"));
    let res = app.post("/api/auth/google/callback/", None, &body()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["error"], "User account is disabled");
}
