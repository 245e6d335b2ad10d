use axum::http::StatusCode;
use crm::testkit::TestApp;
use serde_json::{Value, json};

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("3-part jwt");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("json claims")
}

#[tokio::test]
async fn login_returns_upstream_shape_and_org_claims() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "boss@example.com", "password": admin.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    for k in ["access_token", "refresh_token", "user", "current_org"] {
        assert!(b.get(k).is_some(), "missing {k}");
    }
    for k in ["id", "email", "profile_pic", "is_active", "organizations"] {
        assert!(b["user"].get(k).is_some(), "missing user.{k}");
    }
    let org = &b["user"]["organizations"][0];
    for k in [
        "id",
        "name",
        "role",
        "is_organization_admin",
        "has_sales_access",
        "has_marketing_access",
    ] {
        assert!(org.get(k).is_some(), "missing organizations[0].{k}");
    }
    assert_eq!(b["current_org"]["id"], admin.org_id.to_string());
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(c["token_type"], "access");
    assert_eq!(c["user_id"], admin.user_id.to_string());
    assert_eq!(c["org_id"], admin.org_id.to_string());
    assert_eq!(c["role"], "ADMIN");
    assert_eq!(c["org_settings"]["default_currency"], "USD");
    assert_eq!(c["org_settings"]["currency_symbol"], "$");
    assert!(c["org_settings"].get("default_country").is_some());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        86400,
        "access lifetime 1 day"
    );
    let r = claims(b["refresh_token"].as_str().unwrap());
    assert_eq!(r["token_type"], "refresh");
    assert_eq!(
        r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
        365 * 86400
    );
    assert_eq!(c["jti"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn login_validation_and_failures() {
    let app = TestApp::new().await;
    let admin = app.admin("v@example.com").await;
    let res = app.post("/api/auth/login/", None, &json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"email": ["This field is required."], "password": ["This field is required."]})
    );
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "not-an-email", "password": "x"}),
        )
        .await;
    assert_eq!(res.body, json!({"email": ["Enter a valid email address."]}));
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "v@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"non_field_errors": ["Invalid email or password"]})
    );
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "nobody@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"non_field_errors": ["Invalid email or password"]})
    );
    // An org the user does not belong to.
    let other = app.admin("other@example.com").await;
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "v@example.com", "password": admin.password, "org_id": other.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": "User does not have access to specified organization"})
    );
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "v@example.com", "password": admin.password, "org_id": "nope"}),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "malformed org_id is a 400, not a 500"
    );
    // Form-encoded bodies work too (DRF accepts them).
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/auth/login/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!(
            "email=v%40example.com&password={}",
            admin.password
        )))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn inactive_user_cannot_log_in() {
    let app = TestApp::new().await;
    let admin = app.admin("gone@example.com").await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(admin.user_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "gone@example.com", "password": admin.password}),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"non_field_errors": ["Invalid email or password"]})
    );
    // Existing tokens stop working too.
    let res = app.get("/api/auth/me/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["code"], "user_inactive");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_email() {
    let app = TestApp::with_config(|c| c.login_max_failures_per_email = 3).await;
    let admin = app.admin("rl@example.com").await;
    for _ in 0..3 {
        let res = app
            .post(
                "/api/auth/login/",
                None,
                &json!({"email": "rl@example.com", "password": "bad"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    // Even the right password is refused while the e-mail is throttled.
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "rl@example.com", "password": admin.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .contains("Too many failed login attempts")
    );
    // Another e-mail is not affected.
    let other = app.admin("fine@example.com").await;
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "fine@example.com", "password": other.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_ip() {
    let app = TestApp::with_config(|c| {
        c.login_max_failures_per_ip = 2;
        c.trust_proxy = true;
    })
    .await;
    let send = |email: &'static str, ip: &'static str| {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/api/auth/login/")
            .header("content-type", "application/json")
            .header("x-forwarded-for", ip)
            .body(axum::body::Body::from(
                json!({"email": email, "password": "bad"}).to_string(),
            ))
            .unwrap();
        app.send(req)
    };
    assert_eq!(
        send("a@example.com", "10.9.9.9").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send("b@example.com", "10.9.9.9").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send("c@example.com", "10.9.9.9").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send("c@example.com", "10.8.8.8").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn django_pbkdf2_hash_is_accepted_and_upgraded() {
    let app = TestApp::new().await;
    let admin = app.admin("legacy@example.com").await;
    let legacy = crm::auth::password::django_pbkdf2_hash("old-django-pass", "saltsalt1234", 1000);
    sqlx::query("UPDATE users SET password = $2 WHERE id = $1")
        .bind(admin.user_id)
        .bind(&legacy)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "legacy@example.com", "password": "old-django-pass"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let (stored,): (String,) = sqlx::query_as("SELECT password FROM users WHERE id = $1")
        .bind(admin.user_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert!(
        stored.starts_with("argon2$argon2id$"),
        "rehashed to argon2id: {stored}"
    );
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "legacy@example.com", "password": "old-django-pass"}),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "still logs in after the upgrade"
    );
}

#[tokio::test]
async fn refresh_keeps_working_after_use_and_carries_org_claims() {
    let app = TestApp::new().await;
    let admin = app.admin("r@example.com").await;
    for _ in 0..2 {
        let res = app
            .post(
                "/api/auth/refresh-token/",
                None,
                &json!({"refresh": admin.refresh}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let access = res.body["access"].as_str().unwrap();
        assert!(res.body["refresh"].is_string());
        let c = claims(access);
        assert_eq!(c["org_id"], admin.org_id.to_string());
        assert_eq!(c["role"], "ADMIN");
        assert_eq!(
            app.get("/api/profile/", Some(access)).await.status,
            StatusCode::OK
        );
    }
    // Claims come from current data: a renamed org shows up on refresh.
    sqlx::query("UPDATE organization SET name = 'Renamed' WHERE id = $1")
        .bind(admin.org_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.refresh}),
        )
        .await;
    assert_eq!(
        claims(res.body["access"].as_str().unwrap())["org_name"],
        "Renamed"
    );
}

#[tokio::test]
async fn refresh_errors() {
    let app = TestApp::new().await;
    let admin = app.admin("re@example.com").await;
    let res = app.post("/api/auth/refresh-token/", None, &json!({})).await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Refresh token is required"})
        )
    );
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": "garbage"}),
        )
        .await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid or expired token"})
        )
    );
    // An access token is not a refresh token.
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.access}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Membership removed: refresh refused.
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(admin.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.refresh}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": "Organization membership revoked. Please login again."})
    );
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(admin.user_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.refresh}),
        )
        .await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "User account is disabled"})
        )
    );
}

#[tokio::test]
async fn logout_revokes_every_token_of_the_user() {
    let app = TestApp::new().await;
    let admin = app.admin("out@example.com").await;
    let res = app
        .post("/api/auth/logout/", Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.get("/api/auth/me/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["code"], "token_not_valid");
    assert_eq!(
        app.get("/api/profile/", Some(&admin.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.refresh}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Logging in again (even within the same second) gives tokens that work.
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "out@example.com", "password": admin.password}),
        )
        .await;
    let fresh = res.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/auth/me/", Some(fresh)).await.status,
        StatusCode::OK
    );
    let fresh_refresh = res.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": fresh_refresh})
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn me_works_without_org_and_switch_org_changes_context() {
    let app = TestApp::new().await;
    let a = app.admin("multi@example.com").await;
    let b = app.admin("second@example.com").await;
    // `multi` becomes a USER in b's org too.
    app.add_membership(a.user_id, b.org_id, "USER").await;
    let res = app.get("/api/auth/me/", Some(&a.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["organizations"].as_array().unwrap().len(), 2);
    assert!(
        res.body["organizations"][0].get("logo").is_some(),
        "the /org page reads logo"
    );

    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&a.access),
            &json!({"org_id": b.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in ["access_token", "refresh_token", "current_org", "profile"] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(res.body["current_org"]["id"], b.org_id.to_string());
    assert_eq!(res.body["profile"]["role"], "USER");
    let token = res.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&token)["org_id"], b.org_id.to_string());
    assert_eq!(claims(&token)["role"], "USER");
    let res = app.get("/api/org/settings/", Some(&token)).await;
    assert_eq!(res.body["id"], b.org_id.to_string());

    let res = app
        .post("/api/auth/switch-org/", Some(&a.access), &json!({}))
        .await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "org_id is required"})
        )
    );
    let stranger = app.admin("stranger@example.com").await;
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&a.access),
            &json!({"org_id": stranger.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": "User does not have access to this organization"})
    );
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&a.access),
            &json!({"org_id": "not-a-uuid"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // switch-org works with a token that has no org (the frontend's /org page).
    let plain = app.state.jwt.issue_pair(a.user_id, None, 0).access;
    let res = app.get("/api/auth/me/", Some(&plain)).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&plain),
            &json!({"org_id": a.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn unauthenticated_and_bad_token_paths_are_json_401_403() {
    let app = TestApp::new().await;
    let admin = app.admin("p@example.com").await;
    let res = app.get("/api/profile/", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(res.headers["www-authenticate"], "Bearer realm=\"api\"");
    let res = app.get("/api/profile/", Some("garbage.token.here")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["code"], "token_not_valid");
    assert_eq!(res.body["messages"][0]["message"], "Token is invalid");
    // A refresh token is not an access token.
    let res = app.get("/api/profile/", Some(&admin.refresh)).await;
    assert_eq!(res.body["messages"][0]["message"], "Token has wrong type");
    // Expired.
    let expired = make_expired(&app.state.cfg.secret_key, admin.user_id);
    let res = app.get("/api/auth/me/", Some(&expired)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.body["messages"][0]["message"], "Token is expired");
    // Signed with another key.
    let forged = crm::auth::jwt::Jwt::new(
        "another-secret-key-0123456789",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(60),
    );
    let res = app
        .get(
            "/api/auth/me/",
            Some(&forged.issue_pair(admin.user_id, None, 0).access),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Unknown user.
    let ghost = app
        .state
        .jwt
        .issue_pair(uuid::Uuid::new_v4(), None, 0)
        .access;
    let res = app.get("/api/auth/me/", Some(&ghost)).await;
    assert_eq!(
        res.body,
        json!({"detail": "User not found", "code": "user_not_found"})
    );
    // A token without org on an org endpoint: 403, not 500.
    let plain = app.state.jwt.issue_pair(admin.user_id, None, 0).access;
    let res = app.get("/api/profile/", Some(&plain)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"detail": "Organization context is required. Please login again."})
    );
    // Membership deactivated after the token was issued.
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(admin.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app.get("/api/profile/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // Another scheme in Authorization counts as no credentials.
    let req = axum::http::Request::builder()
        .uri("/api/auth/me/")
        .header("authorization", "Basic abc")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
}

fn make_expired(secret: &str, user: uuid::Uuid) -> String {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let now = crm::auth::jwt::now_secs();
    let claims = json!({"token_type": "access", "exp": now - 10, "iat": now - 100, "jti": "0123456789abcdef0123456789abcdef", "user_id": user.to_string()});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn api_key_authenticates_as_org_admin() {
    let app = TestApp::new().await;
    let admin = app.admin("key@example.com").await;
    let (key,): (String,) = sqlx::query_as("SELECT api_key FROM organization WHERE id = $1")
        .bind(admin.org_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    let req = |k: &str| {
        axum::http::Request::builder()
            .uri("/api/org/settings/")
            .header("token", k)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let res = app.send(req(&key)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["id"], admin.org_id.to_string());
    let res = app.send(req("wrong-key")).await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Invalid API Key"})
        )
    );
    // JWT-only endpoints refuse API keys.
    let req = axum::http::Request::builder()
        .uri("/api/auth/me/")
        .header("token", &key)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn register_then_activate_then_login() {
    let app = TestApp::new().await;
    let res = app.post("/api/auth/register/", None, &json!({"email": "new@EXAMPLE.com", "password": "longenough1", "confirm_password": "longenough1"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["email"], "new@example.com");
    assert_eq!(
        res.body["message"],
        "User registered successfully. Please check your email for activation link."
    );
    let user_id: uuid::Uuid = res.body["user_id"].as_str().unwrap().parse().unwrap();
    // Not active yet.
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "new@example.com", "password": "longenough1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // The activation link (what the e-mail carries).
    let token = crm::auth::activation::make_token(
        &app.state.cfg.secret_key,
        user_id,
        false,
        crm::auth::jwt::now_secs(),
    );
    let res = app
        .post(
            "/api/auth/activate/",
            None,
            &json!({"uid": user_id, "token": "1-bad"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .get(&format!("/api/auth/activate/{user_id}/{token}/"), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Single use: the same link no longer works once active.
    let res = app
        .post(
            "/api/auth/activate/",
            None,
            &json!({"uid": user_id, "token": token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "new@example.com", "password": "longenough1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body.get("current_org").is_none(),
        "no org yet: key omitted"
    );
    assert_eq!(res.body["user"]["organizations"], json!([]));
}

#[tokio::test]
async fn register_validation() {
    let app = TestApp::new().await;
    let res = app.post("/api/auth/register/", None, &json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"email": ["This field is required."], "password": ["This field is required."], "confirm_password": ["This field is required."]})
    );
    let res = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"email": "a@example.com", "password": "short", "confirm_password": "short"}),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"password": ["Ensure this field has at least 8 characters."]})
    );
    let res = app.post("/api/auth/register/", None, &json!({"email": "a@example.com", "password": "longenough1", "confirm_password": "different1"})).await;
    assert_eq!(
        res.body,
        json!({"password": ["Password fields didn't match."]})
    );
    app.admin("taken@example.com").await;
    // A taken address answers like a new one (issue 9 item 12; see auth_security).
    let res = app.post("/api/auth/register/", None, &json!({"email": "TAKEN@example.com", "password": "longenough1", "confirm_password": "longenough1"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 1, "nothing written by failed registrations");
}

#[tokio::test]
async fn auth_profile_shows_api_key_to_admins_only() {
    let app = TestApp::new().await;
    let admin = app.admin("ap@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    let res = app.get("/api/auth/profile/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    for k in [
        "id",
        "user",
        "org",
        "role",
        "is_organization_admin",
        "has_sales_access",
        "has_marketing_access",
        "phone",
        "date_of_joining",
        "is_active",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    assert!(res.body["org"]["api_key"].is_string());
    let res = app.get("/api/auth/profile/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body["org"].get("api_key").is_none(),
        "USER must not see the API key"
    );
}

/// Issue 9 item 15: five wrong passwords from an attacker's address no longer lock the owner
/// out; the attacker's (e-mail, IP) pair backs off, and the wait doubles.
#[tokio::test]
async fn login_throttle_backs_off_per_email_and_ip_owner_elsewhere_still_logs_in() {
    let app = TestApp::with_config(|c| {
        c.trust_proxy = true;
        c.login_backoff_base = std::time::Duration::from_secs(1);
    })
    .await;
    let owner = app.admin("owner@example.com").await;
    let send = |ip: &'static str, password: String| {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/api/auth/login/")
            .header("content-type", "application/json")
            .header("x-forwarded-for", ip)
            .body(axum::body::Body::from(
                json!({"email": "owner@example.com", "password": password}).to_string(),
            ))
            .unwrap();
        app.send(req)
    };
    let retry_after = |res: &crm::testkit::TestResponse| -> u64 {
        res.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    for _ in 0..5 {
        let res = send("10.6.6.6", "wrong-guess".into()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    // The attacker's address waits, even with the right password.
    let res = send("10.6.6.6", owner.password.clone()).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 1);
    // The owner, from their own address, logs in.
    let res = send("10.1.1.1", owner.password.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // After the wait the attacker may try again; one more failure doubles the wait.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = send("10.6.6.6", "wrong-again".into()).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = send("10.6.6.6", "wrong-again".into()).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 2);
}
