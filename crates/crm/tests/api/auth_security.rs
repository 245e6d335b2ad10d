//! Issue 9, security items about accounts: invitations instead of silent adds, per-org token
//! revocation, account-level fields, API-key attribution (8); registration without enumeration
//! (12); one e-mail validator (13); reset links that the jobs table cannot replay (16).

use std::time::Duration;

use axum::http::StatusCode;
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::Mailer;
use crm::testkit::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

fn worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173")
        .unwrap()
        .with_link_secret(&app.state.cfg.secret_key);
    let opts = WorkerOptions {
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    Worker::new(app.db.app.clone(), opts, mailer)
}

/// The text of the last e-mail to `to` whose subject contains `subject`.
async fn last_mail(app: &TestApp, to: &str, subject: &str) -> String {
    let (text,): (String,) = sqlx::query_as(
        "SELECT text_body FROM mail_outbox WHERE to_addr = $1 AND subject LIKE '%' || $2 || '%'
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(to)
    .bind(subject)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    text
}

fn token_after(text: &str, marker: &str) -> String {
    let at = text.find(marker).expect("token in the mail") + marker.len();
    text[at..].split_whitespace().next().unwrap().to_string()
}

async fn jobs_mentioning(app: &TestApp, needle: &str) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM jobs WHERE strpos(payload::text, $1) > 0 OR strpos(coalesce(last_error, ''), $1) > 0")
            .bind(needle)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    n
}

async fn membership(app: &TestApp, user: Uuid, org: Uuid) -> Option<(String, bool)> {
    sqlx::query_as("SELECT role, is_active FROM profile WHERE user_id = $1 AND org_id = $2")
        .bind(user)
        .bind(org)
        .fetch_optional(&app.db.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn invitation_existing_account_is_invited_not_added_and_joins_on_accept() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let other = app.admin("other@example.com").await;
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "other@example.com", "role": "ADMIN", "username": "other",
                    "password": "attacker-chosen-1", "profile_pic": "https://evil.example/x.png"}),
        )
        .await;
    // The users page only needs a 2xx with a JSON body.
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["invited"], true);
    assert!(res.body["message"].as_str().unwrap().contains("Invitation"));
    assert_eq!(
        membership(&app, other.user_id, admin.org_id).await,
        None,
        "not added"
    );
    let (pic,): (Option<String>,) = sqlx::query_as("SELECT profile_pic FROM users WHERE id = $1")
        .bind(other.user_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(
        pic, None,
        "the account's picture is not the inviter's to set"
    );
    let me = app.get("/api/auth/me/", Some(&other.access)).await;
    assert_eq!(me.body["organizations"].as_array().unwrap().len(), 1);
    let login = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "other@example.com", "password": other.password}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "password unchanged");

    // Inviting again right away sends no second e-mail.
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "other@example.com", "role": "ADMIN"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["invited"], true);
    // The e-mail goes through the queue; the jobs table never holds the token.
    assert_eq!(worker(&app).drain().await.unwrap(), 1);
    let mail = last_mail(&app, "other@example.com", "invited you").await;
    let token = token_after(&mail, "token=");
    assert_eq!(jobs_mentioning(&app, &token).await, 0);
    assert_eq!(
        jobs_mentioning(&app, token.rsplit('.').next().unwrap()).await,
        0
    );

    // Change the last character (to something it is not, or the "bad" token would be the good one).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let bad = format!("{}{last}", &token[..token.len() - 1]);
    let res = app
        .post(
            "/api/auth/invitations/accept/",
            None,
            &json!({"token": bad}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": "Invitation is invalid or has expired."})
    );
    // Signed in as somebody else, the token does not work for them.
    let res = app
        .post(
            "/api/auth/invitations/accept/",
            Some(&admin.access),
            &json!({"token": token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let res = app
        .post(
            "/api/auth/invitations/accept/",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["org"]["id"], admin.org_id.to_string());
    assert_eq!(res.body["role"], "ADMIN");
    assert_eq!(
        membership(&app, other.user_id, admin.org_id).await,
        Some(("ADMIN".into(), true))
    );
    let me = app.get("/api/auth/me/", Some(&other.access)).await;
    assert_eq!(me.body["organizations"].as_array().unwrap().len(), 2);
    // Single use.
    let res = app
        .post(
            "/api/auth/invitations/accept/",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // A brand-new address still creates the account at once (upstream's behaviour).
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "fresh@example.com", "role": "USER", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.body["message"], "User Created Successfully");
}

#[tokio::test]
async fn invitation_accepted_signed_in_with_org_id() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let other = app.admin("other@example.com").await;
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "other@example.com", "role": "USER"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    // The invited user sees the invitation; nobody else does.
    let list = app.get("/api/auth/invitations/", Some(&other.access)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body["invitations"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["org_id"], admin.org_id.to_string());
    assert_eq!(items[0]["invited_by"], "boss@example.com");
    assert_eq!(items[0]["role"], "USER");
    let list = app.get("/api/auth/invitations/", Some(&admin.access)).await;
    assert_eq!(list.body["invitations"], json!([]));
    let body = json!({"org_id": admin.org_id});
    let res = app.post("/api/auth/invitations/accept/", None, &body).await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "org_id alone needs a signed-in user"
    );
    let third = app.admin("third@example.com").await;
    let res = app
        .post("/api/auth/invitations/accept/", Some(&third.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "not invited");
    let res = app
        .post("/api/auth/invitations/accept/", Some(&other.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        membership(&app, other.user_id, admin.org_id).await,
        Some(("USER".into(), true))
    );
    let list = app.get("/api/auth/invitations/", Some(&other.access)).await;
    assert_eq!(
        list.body["invitations"],
        json!([]),
        "accepted: no longer pending"
    );
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&other.access),
            &json!({"org_id": admin.org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// Deactivating or removing a member signs them out of that org only.
#[tokio::test]
async fn membership_changes_revoke_only_that_orgs_tokens() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let x = app.admin("x@example.com").await; // admin of their own org
    app.add_membership(x.user_id, admin.org_id, "USER").await;
    let login = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "x@example.com", "password": x.password, "org_id": admin.org_id}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let in_a = login.body["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (method, path, body) in [
        (
            "status",
            format!("/api/user/{}/status/", x.user_id),
            json!({"status": "Inactive"}),
        ),
        ("delete", format!("/api/user/{}/", x.user_id), Value::Null),
    ] {
        let res = if method == "delete" {
            app.delete(&path, Some(&admin.access)).await
        } else {
            app.post(&path, Some(&admin.access), &body).await
        };
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(
            app.get("/api/profile/", Some(&in_a)).await.status,
            StatusCode::UNAUTHORIZED,
            "{method}: the token for the admin's org is dead"
        );
        assert_eq!(
            app.get("/api/profile/", Some(&x.access)).await.status,
            StatusCode::OK,
            "{method}: the token for the user's own org still works"
        );
        let r = app
            .post(
                "/api/auth/refresh-token/",
                None,
                &json!({"refresh": x.refresh}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{method}: {}", r.text);
        // Back in: the old token for this org stays dead, a new login works.
        let res = app
            .post(
                &format!("/api/user/{}/status/", x.user_id),
                Some(&admin.access),
                &json!({"status": "Active"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(
            app.get("/api/profile/", Some(&in_a)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let login = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "x@example.com", "password": x.password, "org_id": admin.org_id}),
        )
        .await;
    let fresh = login.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/profile/", Some(&fresh)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn org_admin_cannot_rewrite_picture_of_a_user_in_other_orgs() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let x = app.admin("x@example.com").await;
    app.add_membership(x.user_id, admin.org_id, "USER").await;
    let res = app
        .patch(
            &format!("/api/user/{}/", x.user_id),
            Some(&admin.access),
            &json!({"profile_pic": "https://evil.example/x.png"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(
        res.body["contact_errors"]["profile_pic"][0]
            .as_str()
            .unwrap()
            .contains("other organizations")
    );
    let (pic,): (Option<String>,) = sqlx::query_as("SELECT profile_pic FROM users WHERE id = $1")
        .bind(x.user_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(pic, None);
    // The owner changes their own; a member made by this org only can be changed by its admin.
    let res = app
        .patch(
            &format!("/api/user/{}/", x.user_id),
            Some(&x.access),
            &json!({"profile_pic": "https://me.example/me.png"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let local = app.member(admin.org_id, "local@example.com", "USER").await;
    let res = app
        .patch(
            &format!("/api/user/{}/", local.user_id),
            Some(&admin.access),
            &json!({"profile_pic": "https://crm.example/p.png"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn api_key_requests_are_attributed_to_the_key() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let org = app
        .get(&format!("/api/org/{}/", admin.org_id), Some(&admin.access))
        .await;
    let key = org.body["org"]["api_key"]
        .as_str()
        .expect("api key")
        .to_string();
    let req = axum::http::Request::builder()
        .uri("/api/users/")
        .header("token", &key)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let rows: Vec<(Option<Uuid>, Value)> = sqlx::query_as(
        "SELECT user_id, metadata FROM security_audit_log WHERE event_type = 'API_KEY_USED'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert!(!rows.is_empty());
    for (user, meta) in rows {
        assert_eq!(user, None, "not attributed to a member");
        assert_eq!(meta["via"], "api_key");
    }
    // A membership change made with the key names no member either.
    app.admin("other@example.com").await;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/users/")
        .header("token", &key)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"email": "other@example.com", "role": "USER"}).to_string(),
        ))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let (user,): (Option<Uuid>,) = sqlx::query_as(
        "SELECT user_id FROM security_audit_log WHERE event_type = 'MEMBERSHIP_INVITED'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(user, None);
    let (by,): (Option<Uuid>,) = sqlx::query_as("SELECT invited_by_id FROM org_invitation")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(by, None);
}

#[tokio::test]
async fn register_existing_address_answers_like_a_new_one_and_emails_the_owner() {
    let app = TestApp::new().await;
    let owner = app.admin("taken@example.com").await;
    let body =
        |e: &str| json!({"email": e, "password": "longenough1", "confirm_password": "longenough1"});
    let new = app
        .post("/api/auth/register/", None, &body("new@example.com"))
        .await;
    let taken = app
        .post("/api/auth/register/", None, &body("TAKEN@example.com"))
        .await;
    assert_eq!(new.status, StatusCode::CREATED);
    assert_eq!(taken.status, new.status);
    assert_eq!(taken.body["message"], new.body["message"]);
    assert_eq!(
        taken.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        new.body.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    assert_ne!(taken.body["user_id"], owner.user_id.to_string());
    // Again right away: still the same answer, but one notice an hour.
    let again = app
        .post("/api/auth/register/", None, &body("taken@example.com"))
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(
        worker(&app).drain().await.unwrap(),
        2,
        "activation + one notice"
    );
    let notice = last_mail(&app, "taken@example.com", "account").await;
    assert!(notice.contains("already has an account"), "{notice}");
    let login = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "taken@example.com", "password": owner.password}),
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::OK,
        "the owner's password is unchanged"
    );
}

#[tokio::test]
async fn email_validation_rejects_markup_quotes_and_homoglyphs_everywhere() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    for bad in [
        "<script>x@example.com",
        "\"quoted\"@example.com",
        "a@\u{0430}pple.com",
        "p\u{0430}ypal@p\u{0430}ypal.com",
    ] {
        let res = app
            .post("/api/auth/register/", None,
                  &json!({"email": bad, "password": "longenough1", "confirm_password": "longenough1"}))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "register {bad}");
        assert_eq!(res.body, json!({"email": ["Enter a valid email address."]}));
        let res = app
            .post(
                "/api/users/",
                Some(&admin.access),
                &json!({"email": bad, "role": "USER"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "users {bad}");
        let res = app
            .post("/api/auth/password-reset/", None, &json!({"email": bad}))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "reset {bad}");
    }
    let res = app
        .post("/api/auth/register/", None,
              &json!({"email": "user@bücher.de", "password": "longenough1", "confirm_password": "longenough1"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "IDN domains pass");
}

/// Issue 9 item 16: after the reset e-mail job ran, nothing in the jobs table yields the token,
/// and the link in the e-mail still works.
#[tokio::test]
async fn password_reset_jobs_table_holds_no_token() {
    let app = TestApp::new().await;
    app.admin("boss@example.com").await;
    let res = app
        .post(
            "/api/auth/password-reset/",
            None,
            &json!({"email": "boss@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let (payload,): (Value,) = sqlx::query_as("SELECT payload FROM jobs")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert!(!payload.to_string().contains("token="), "{payload}");
    assert_eq!(worker(&app).drain().await.unwrap(), 1);
    let mail = last_mail(&app, "boss@example.com", "Reset").await;
    let token = token_after(&mail, "token=");
    assert_eq!(token.len(), 64);
    assert_eq!(jobs_mentioning(&app, &token).await, 0);
    let (in_clear,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM password_reset_token WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(in_clear, 0);
    let res = app
        .post("/api/auth/password-reset/confirm/", None,
              &json!({"token": token, "password": "new-password-1", "confirm_password": "new-password-1"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "boss@example.com", "password": "new-password-1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}
