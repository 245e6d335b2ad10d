//! Marketing: public contact forms (no login) and their submissions: validation, spam trap,
//! rate limit per client address, leads, admin notification, other orgs.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

async fn scalar(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn form(app: &TestApp, admin: &TestUser, body: Value) -> (Uuid, String) {
    let res = app
        .post("/api/marketing/forms/", Some(&admin.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    (
        res.body["id"].as_str().unwrap().parse().unwrap(),
        res.body["key"].as_str().unwrap().to_string(),
    )
}

/// A public post, from `ip` when given (X-Forwarded-For; the app must trust the proxy).
async fn submit(app: &TestApp, key: &str, body: &Value, ip: Option<&str>) -> TestResponse {
    let mut req = Request::post(format!("/api/marketing/forms/{key}/"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::REFERER, "https://acme.example/contact");
    if let Some(ip) = ip {
        req = req.header("x-forwarded-for", ip);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

fn message(name: &str) -> Value {
    json!({"name": name, "email": "visitor@example.net", "message": "Please call me <back>"})
}

#[tokio::test]
async fn marketing_public_form_submission_appears_for_the_orgs_admins_and_never_for_another_org() {
    let app = TestApp::new().await;
    let admin = app.admin("mk-a@example.com").await;
    let other = app.admin("mk-b@example.com").await;
    let user = app.member(admin.org_id, "mk-u@example.com", "USER").await;
    let res = app
        .post(
            "/api/marketing/forms/",
            Some(&user.access),
            &json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let (id, key) = form(
        &app,
        &admin,
        json!({"name": "Contact us", "create_lead": true}),
    )
    .await;
    form(&app, &other, json!({"name": "zqxb form"})).await;

    let res = submit(&app, &key, &message("Vera Visitor"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["error"], false);

    let l = app
        .get("/api/marketing/submissions/", Some(&admin.access))
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    assert_eq!(l.body["count"], 1);
    let s = &l.body["results"][0];
    assert_eq!(s["name"], "Vera Visitor");
    assert_eq!(s["email"], "visitor@example.net");
    assert_eq!(s["message"], "Please call me <back>");
    assert_eq!(s["reason"], "general");
    assert_eq!(s["status"], "new");
    assert_eq!(s["form"], json!(id));
    assert_eq!(s["referrer"], "https://acme.example/contact");
    let lead: Uuid = s["lead"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM lead WHERE id = $1 AND first_name = 'Vera' AND last_name = 'Visitor'",
            lead
        )
        .await,
        1
    );
    // The org's admins are e-mailed through the queue.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM jobs WHERE tenant_org_id = $1 AND kind = 'email'
               AND payload->>'template' = 'form_submission' AND payload->>'to' = 'mk-a@example.com'",
            admin.org_id
        )
        .await,
        1
    );
    // Filtered by form (key or id) and status.
    for q in [
        format!("form={key}"),
        format!("form={id}"),
        "status=new".into(),
    ] {
        let l = app
            .get(
                &format!("/api/marketing/submissions/?{q}"),
                Some(&admin.access),
            )
            .await;
        assert_eq!(l.body["count"], 1, "{q}");
    }
    let l = app
        .get(
            "/api/marketing/submissions/?status=bogus",
            Some(&admin.access),
        )
        .await;
    assert_eq!(l.status, StatusCode::BAD_REQUEST);
    // Never for another org, nor for a member without marketing access.
    let l = app
        .get("/api/marketing/submissions/", Some(&other.access))
        .await;
    assert_eq!(l.body["count"], 0, "{}", l.text);
    let l = app
        .get("/api/marketing/submissions/", Some(&user.access))
        .await;
    assert_eq!(l.status, StatusCode::FORBIDDEN);
    sqlx::query("UPDATE profile SET has_marketing_access = true WHERE id = $1")
        .bind(user.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let l = app
        .get("/api/marketing/submissions/", Some(&user.access))
        .await;
    assert_eq!(l.body["count"], 1);
    let f = app
        .get(&format!("/api/marketing/forms/{id}/"), Some(&other.access))
        .await;
    assert_eq!(f.status, StatusCode::NOT_FOUND);
    let f = app
        .get(&format!("/api/marketing/forms/{key}/"), Some(&admin.access))
        .await;
    assert_eq!(f.body["submissions"], 1);
    assert_eq!(f.body["url"], format!("/api/marketing/forms/{key}/"));

    // Answering: another org's admin cannot touch it.
    let sid = s["id"].as_str().unwrap();
    let path = format!("/api/marketing/submissions/{sid}/");
    let res = app
        .patch(&path, Some(&other.access), &json!({"status": "spam"}))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "later"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["status"].is_array());
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "replied"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let l = app
        .get("/api/marketing/submissions/", Some(&admin.access))
        .await;
    assert_eq!(l.body["results"][0]["status"], "replied");
    assert!(l.body["results"][0]["replied_at"].is_string());
}

#[tokio::test]
async fn marketing_public_form_rejects_bad_input_unknown_keys_and_spam() {
    let app = TestApp::new().await;
    let admin = app.admin("mk-v@example.com").await;
    let other = app.admin("mk-v2@example.com").await;
    let (id, key) = form(&app, &admin, json!({"name": "Contact"})).await;
    let (other_id, _) = form(&app, &other, json!({"name": "Theirs"})).await;
    for (body, field) in [
        (json!({"email": "a@b.co", "message": "x"}), "name"),
        (json!({"name": "A", "message": "x"}), "email"),
        (
            json!({"name": "A", "email": "nope", "message": "x"}),
            "email",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "message": ""}),
            "message",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "message": "x".repeat(5001)}),
            "message",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "message": "x", "reason": "r".repeat(101)}),
            "reason",
        ),
    ] {
        let res = submit(&app, &key, &body, None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    let res = submit(&app, &key, &json!([1]), None).await;
    assert!(res.status.is_client_error(), "{}", res.text);
    // Unknown keys, a form's id, another org's form id: not found.
    for k in ["nope".to_string(), id.to_string(), other_id.to_string()] {
        let res = submit(&app, &k, &message("A"), None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{k}");
    }
    // The honeypot: answered like a success, stored nowhere.
    let mut spam = message("Bot");
    spam["website"] = json!("http://spam.example");
    let res = submit(&app, &key, &spam, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM contact_form_submission WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    // A deactivated form takes nothing.
    let res = app
        .patch(
            &format!("/api/marketing/forms/{key}/"),
            Some(&admin.access),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = submit(&app, &key, &message("A"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .patch(
            &format!("/api/marketing/forms/{key}/"),
            Some(&admin.access),
            &json!({"name": ""}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .delete(
            &format!("/api/marketing/forms/{other_id}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let l = app.get("/api/marketing/forms/", Some(&admin.access)).await;
    assert_eq!(l.body["count"], 1);
    assert_eq!(l.body["results"][0]["is_active"], false);
}

#[tokio::test]
async fn marketing_public_form_is_rate_limited_per_client_address() {
    let app = TestApp::with_config(|c| c.trust_proxy = true).await;
    let admin = app.admin("mk-r@example.com").await;
    let (_, key) = form(&app, &admin, json!({"name": "Contact"})).await;
    for i in 0..5 {
        let res = submit(&app, &key, &message(&format!("V{i}")), Some("203.0.113.5")).await;
        assert_eq!(res.status, StatusCode::OK, "{i}: {}", res.text);
    }
    let res = submit(&app, &key, &message("V6"), Some("203.0.113.5")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text);
    assert!(res.headers.contains_key(header::RETRY_AFTER));
    let res = submit(&app, &key, &message("W"), Some("198.51.100.7")).await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "another address is not held back"
    );
    let l = app
        .get("/api/marketing/submissions/?limit=1", Some(&admin.access))
        .await;
    assert_eq!(l.body["count"], 6);
    assert_eq!(l.body["results"][0]["ip_address"], "198.51.100.7");
}

#[tokio::test]
async fn marketing_suppressions_are_admin_managed_and_stop_crm_emails() {
    let app = TestApp::new().await;
    let admin = app.admin("mk-s@example.com").await;
    let other = app.admin("mk-s2@example.com").await;
    let user = app.member(admin.org_id, "mk-su@example.com", "USER").await;
    let path = "/api/marketing/suppressions/";
    let res = app
        .post(path, Some(&user.access), &json!({"domain": "x.test"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    for (body, field) in [
        (json!({}), "address"),
        (json!({"address": "nope"}), "address"),
        (json!({"domain": "-bad-"}), "domain"),
        (json!({"domain": 5}), "domain"),
        (json!({"address": "a@b.co", "reason": "gone"}), "reason"),
    ] {
        let res = app.post(path, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    let res = app
        .post(
            path,
            Some(&admin.access),
            &json!({"domain": "@Blocked.Test"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let domain_id = res.body["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            path,
            Some(&admin.access),
            &json!({"domain": "blocked.test"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "a duplicate");
    let res = app
        .post(
            path,
            Some(&admin.access),
            &json!({"address": "Gone@Example.net", "reason": "unsubscribed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let count = |q: &'static str, who: &'static str| {
        let app = &app;
        let token = if who == "admin" {
            admin.access.clone()
        } else {
            other.access.clone()
        };
        async move {
            let res = app.get(&format!("{path}?{q}"), Some(&token)).await;
            assert_eq!(res.status, StatusCode::OK, "{q}: {}", res.text);
            res.body["count"].as_i64().unwrap()
        }
    };
    assert_eq!(count("", "admin").await, 2);
    assert_eq!(count("kind=domain", "admin").await, 1);
    assert_eq!(count("search=gone", "admin").await, 1);
    assert_eq!(count("", "other").await, 0, "never another org's");
    let res = app
        .get(&format!("{path}?reason=bogus"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .delete(&format!("{path}{domain_id}/"), Some(&other.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // A CRM e-mail to a suppressed domain is not sent.
    let contact = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, org_id, first_name, last_name, email, do_not_call, is_active)
         VALUES (now(), now(), $1, $2, 'Ann', 'Lee', 'ann@blocked.test', false, true)",
    )
    .bind(contact)
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    let res = app
        .post(
            "/api/emails/",
            Some(&admin.access),
            &json!({"record_type": "contact", "record_id": contact, "subject": "Hi"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mailer =
        crm::mail::Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    let w = crm::jobs::Worker::new(
        app.db.app.clone(),
        crm::jobs::WorkerOptions::default(),
        mailer,
    );
    assert_eq!(w.drain().await.unwrap(), 1);
    let id = res.body["id"].as_str().unwrap();
    let d = app
        .get(&format!("/api/emails/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(d.body["status"], "failed");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE tenant_org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    let res = app
        .delete(&format!("{path}{domain_id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(count("", "admin").await, 1);
}
