//! API keys (use, rotation), the security audit log, and the activity stream.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::json;
use uuid::Uuid;

async fn api_key(app: &TestApp, admin: &TestUser) -> String {
    let res = app
        .get(&format!("/api/org/{}/", admin.org_id), Some(&admin.access))
        .await;
    res.body["org"]["api_key"].as_str().unwrap().to_string()
}

async fn with_key(app: &TestApp, method: &str, path: &str, key: &str) -> TestResponse {
    app.send(
        Request::builder()
            .method(method)
            .uri(path)
            .header("Token", key)
            .header("User-Agent", "audit-test/1.0")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn events(app: &TestApp, org: Option<Uuid>) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT event_type, success FROM security_audit_log WHERE org_id IS NOT DISTINCT FROM $1 ORDER BY created_at, event_type",
    )
    .bind(org)
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn api_key_rotation_is_admin_only_and_kills_the_old_key() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    let outsider = app.admin("outsider@example.com").await;
    let old = api_key(&app, &admin).await;
    assert_eq!(
        with_key(&app, "GET", "/api/tags/", &old).await.status,
        StatusCode::OK
    );

    let path = format!("/api/org/{}/rotate-api-key/", admin.org_id);
    assert_eq!(
        app.post(&path, Some(&user.access), &json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_key(&app, "POST", &path, &old).await.status,
        StatusCode::FORBIDDEN,
        "not with the key itself"
    );
    assert_eq!(
        app.post(&path, Some(&outsider.access), &json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api_key(&app, &admin).await, old, "nothing changed");

    let res = app.post(&path, Some(&admin.access), &json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let new = res.body["api_key"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        with_key(&app, "GET", "/api/tags/", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_key(&app, "GET", "/api/tags/", &new).await.status,
        StatusCode::OK
    );
    // Members never see the key.
    let res = app
        .get(&format!("/api/org/{}/", admin.org_id), Some(&user.access))
        .await;
    assert!(res.body["org"].get("api_key").is_none());

    let log = app.get("/api/audit-log/", Some(&admin.access)).await;
    let kinds: Vec<&str> = log.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"API_KEY_ROTATED"), "{kinds:?}");
    assert!(kinds.contains(&"API_KEY_USED"), "{kinds:?}");
    let used = log.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "API_KEY_USED")
        .unwrap();
    assert_eq!(used["metadata"]["endpoint"], "/api/tags/");
    assert_eq!(used["user_agent"], "audit-test/1.0");
    // The invalid (old) key is recorded without an org, with only its first characters.
    let (prefix,): (serde_json::Value,) = sqlx::query_as(
        "SELECT metadata FROM security_audit_log WHERE event_type = 'API_KEY_INVALID' AND org_id IS NULL",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(prefix["api_key_prefix"], old[..4]);
}

#[tokio::test]
async fn security_events_are_written_and_admins_read_their_org_only() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await; // LOGIN_SUCCESS
    let user = app.member(admin.org_id, "user@example.com", "USER").await; // LOGIN_SUCCESS
    let outsider = app.admin("outsider@example.com").await;

    // Failed logins: no org, so they are written through the definer function with org NULL.
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "user@example.com", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    app.post(
        "/api/auth/login/",
        None,
        &json!({"email": "nobody@example.com", "password": "wrong-password"}),
    )
    .await;
    let orgless = events(&app, None).await;
    assert_eq!(
        orgless
            .iter()
            .filter(|e| e.0 == "LOGIN_FAILURE" && !e.1)
            .count(),
        2,
        "{orgless:?}"
    );
    let (uid,): (Option<Uuid>,) = sqlx::query_as(
        "SELECT user_id FROM security_audit_log WHERE event_type = 'LOGIN_FAILURE' AND metadata->>'email' = 'user@example.com'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(uid, Some(user.user_id));

    // Refresh and org switch.
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&user.access),
            &json!({"org_id": admin.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&user.access),
            &json!({"org_id": outsider.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let ours = events(&app, Some(admin.org_id)).await;
    for kind in ["LOGIN_SUCCESS", "TOKEN_REFRESH", "ORG_SWITCH"] {
        assert!(
            ours.iter().any(|e| e.0 == kind && e.1),
            "{kind} missing in {ours:?}"
        );
    }
    // The denied switch is not put in the target org's log.
    assert!(
        events(&app, Some(outsider.org_id))
            .await
            .iter()
            .all(|e| e.0 != "PERMISSION_DENIED")
    );
    assert!(
        events(&app, None)
            .await
            .iter()
            .any(|e| e.0 == "PERMISSION_DENIED" && !e.1)
    );

    // The read endpoint: admins, own org only, filters, pagination.
    let res = app.get("/api/audit-log/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let results = res.body["results"].as_array().unwrap();
    assert_eq!(res.body["count"].as_i64().unwrap() as usize, results.len());
    for e in results {
        for k in [
            "id",
            "event_type",
            "user",
            "description",
            "metadata",
            "ip_address",
            "user_agent",
            "request_path",
            "request_method",
            "success",
            "created_at",
        ] {
            assert!(e.get(k).is_some(), "missing {k}");
        }
        assert_ne!(
            e["event_type"], "LOGIN_FAILURE",
            "org-less rows are not shown to tenants"
        );
    }
    let res = app
        .get(
            "/api/audit-log/?event_type=ORG_SWITCH&success=true",
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["user"]["email"], "user@example.com");
    assert_eq!(
        res.body["results"][0]["request_path"],
        "/api/auth/switch-org/"
    );
    let res = app
        .get("/api/audit-log/?limit=1", Some(&admin.access))
        .await;
    assert_eq!(res.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["offset"], 1);
    assert_eq!(
        app.get("/api/audit-log/?success=maybe", Some(&admin.access))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/audit-log/", Some(&user.access)).await.status,
        StatusCode::FORBIDDEN
    );
    let theirs = app.get("/api/audit-log/", Some(&outsider.access)).await;
    assert!(
        theirs.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user"]["email"] != "user@example.com")
    );
}

#[tokio::test]
async fn the_app_role_cannot_forge_audit_rows_into_another_org() {
    let app = TestApp::new().await;
    let a = app.admin("a@example.com").await;
    let b = app.admin("b@example.com").await;
    let mut tx = crm::db::tenant::begin(&app.db.app, Some(a.org_id), Some(a.user_id))
        .await
        .unwrap();
    let forged = sqlx::query(
        "SELECT crm_audit_write('LOGIN_SUCCESS', NULL, $1, '', '{}', NULL, '', '', '', true)",
    )
    .bind(b.org_id)
    .execute(&mut *tx)
    .await;
    assert!(forged.is_err(), "org row outside its context");
    drop(tx);
    // A direct NULL-org insert by the app role is refused by RLS (only the function may).
    let mut tx = crm::db::tenant::begin(&app.db.app, None, None)
        .await
        .unwrap();
    let direct = sqlx::query(
        "INSERT INTO security_audit_log (created_at, updated_at, id, event_type, description, metadata, user_agent,
                                         request_path, request_method, success)
         VALUES (now(), now(), gen_random_uuid(), 'X', '', '{}', '', '', '', true)",
    )
    .execute(&mut *tx)
    .await;
    assert!(direct.is_err());
}

#[tokio::test]
async fn activities_list_shape_limit_and_filter() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    for i in 0..3 {
        app.post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"name": format!("T{i}")}),
        )
        .await;
    }
    let res = app.get("/api/activities/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["count"], 3);
    let a = &res.body["activities"][0];
    for k in [
        "id",
        "user",
        "action",
        "action_display",
        "entity_type",
        "entity_id",
        "entity_name",
        "description",
        "timestamp",
        "humanized_time",
    ] {
        assert!(a.get(k).is_some(), "missing {k}");
    }
    assert_eq!(a["user"]["id"], admin.user_id.to_string());
    assert_eq!(a["user"]["name"], "admin");
    assert_eq!(a["action_display"], "Created");
    assert_eq!(a["entity_name"], "T2");
    assert_eq!(a["humanized_time"], "0\u{a0}minutes ago");
    assert_eq!(
        app.get("/api/activities/?limit=2", Some(&admin.access))
            .await
            .body["count"],
        2
    );
    assert_eq!(
        app.get("/api/activities/?limit=x", Some(&admin.access))
            .await
            .body["count"],
        3
    );
    assert_eq!(
        app.get("/api/activities/?entity_type=Lead", Some(&admin.access))
            .await
            .body["count"],
        0
    );
    let other = app.admin("other@example.com").await;
    assert_eq!(
        app.get("/api/activities/", Some(&other.access)).await.body["count"],
        0
    );
}
