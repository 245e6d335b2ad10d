//! E-mails from CRM records: sending through the queue to a real SMTP server exactly once,
//! history per record, placeholders with escaping, templates, drafts, threads, scheduling,
//! failures, suppression, USER vs ADMIN and other orgs' ids.

use std::time::Duration;

use axum::http::StatusCode;
use crm::jobs::worker::Outcome;
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::{Mailer, SmtpSettings, Tls};
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::jobs::SmtpSink;

fn fast() -> WorkerOptions {
    WorkerOptions {
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(1),
        ..WorkerOptions::default()
    }
}

fn outbox_worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    Worker::new(app.db.app.clone(), fast(), mailer)
}

fn smtp_worker(app: &TestApp, port: u16) -> Worker {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        user: None,
        password: None,
        tls: Tls::None,
    };
    let mailer = Mailer::smtp(
        &settings,
        "BottleCRM <no-reply@bottlecrm.local>",
        "http://localhost:5173",
    )
    .unwrap();
    Worker::new(app.db.app.clone(), fast(), mailer)
}

async fn scalar(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn exec(app: &TestApp, sql: &str, id: Uuid) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .execute(&app.db.admin)
        .await
        .unwrap();
}

/// A contact of `org` named `first` with the e-mail `email`.
async fn contact(app: &TestApp, org: Uuid, first: &str, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, org_id, first_name, last_name, email, do_not_call, is_active)
         VALUES (now(), now(), $1, $2, $3, 'Lee', $4, false, true)",
    )
    .bind(id)
    .bind(org)
    .bind(first)
    .bind(email)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

async fn lead(app: &TestApp, org: Uuid, created_by: Option<Uuid>, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO lead (created_at, updated_at, id, org_id, first_name, last_name, email, is_active, created_by_id)
         VALUES (now(), now(), $1, $2, 'Lena', 'Lead', $3, true, $4)",
    )
    .bind(id)
    .bind(org)
    .bind(email)
    .bind(created_by)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

async fn send(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/emails/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn history(app: &TestApp, who: &TestUser, record_type: &str, id: Uuid) -> Value {
    let res = app
        .get(
            &format!("/api/emails/?record_type={record_type}&record_id={id}"),
            Some(&who.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

async fn received(sink: &SmtpSink) -> String {
    let mut got = String::new();
    for _ in 0..60 {
        got = sink.received();
        if got.contains("END MESSAGE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got
}

#[tokio::test]
async fn emails_from_a_contact_reach_a_real_smtp_server_once_and_appear_in_its_history() {
    let app = TestApp::new().await;
    let admin = app.admin("em-smtp@example.com").await;
    let ann = contact(&app, admin.org_id, "<Ann>", "ann@example.net").await;
    let tpl = app
        .post(
            "/api/emails/templates/",
            Some(&admin.access),
            &json!({"name": "Welcome", "subject": "Hello {{ first_name }}",
                    "body": "<p>Dear {{ first_name }} {{ last_name }},</p><p>welcome.</p>", "is_shared": true}),
        )
        .await;
    assert_eq!(tpl.status, StatusCode::OK, "{}", tpl.text);
    let id = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "template": tpl.body["id"],
               "cc": ["boss@example.net"], "bcc": "audit@example.net"}),
    )
    .await;
    let h = history(&app, &admin, "contact", ann).await;
    assert_eq!(h["count"], 1);
    let e = &h["results"][0];
    assert_eq!(e["status"], "queued");
    assert_eq!(e["to"], json!(["ann@example.net"]), "the record's address");
    assert_eq!(e["cc"], json!(["boss@example.net"]));
    assert_eq!(e["bcc"], json!(["audit@example.net"]));
    assert_eq!(e["from_email"], "em-smtp@example.com");
    assert_eq!(e["created_by"]["email"], "em-smtp@example.com");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM jobs WHERE tenant_org_id = $1 AND kind = 'crm_email'",
            admin.org_id
        )
        .await,
        1
    );

    let sink = SmtpSink::start().await;
    let w = smtp_worker(&app, sink.port);
    let (job, outcome) = w.run_one().await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Done);
    // A worker that died after the server accepted the message runs the job again: no second copy.
    exec(
        &app,
        "UPDATE jobs SET status = 'queued', run_at = now() WHERE id = $1",
        job,
    )
    .await;
    exec(
        &app,
        "UPDATE crm_email SET status = 'queued' WHERE org_id = $1",
        admin.org_id,
    )
    .await;
    assert_eq!(w.run_one().await.unwrap(), Some((job, Outcome::Done)));
    let got = received(&sink).await;
    assert_eq!(got.matches("MESSAGE FOLLOWS").count(), 1, "{got}");
    assert!(got.contains("Subject: Hello <Ann>"), "{got}");
    assert!(got.contains("To: ann@example.net"), "{got}");
    assert!(got.contains("Cc: boss@example.net"), "{got}");
    assert!(!got.contains("Bcc:"), "{got}");
    assert!(got.contains("Reply-To: em-smtp@example.com"), "{got}");
    assert!(
        got.contains("&lt;Ann&gt;"),
        "escaped in the HTML part: {got}"
    );

    let d = app
        .get(&format!("/api/emails/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body["status"], "sent");
    assert_eq!(d.body["rendered_subject"], "Hello <Ann>");
    assert_eq!(
        d.body["rendered_html"],
        "<p>Dear &lt;Ann&gt; Lee,</p><p>welcome.</p>"
    );
    assert!(
        d.body["rendered_text"]
            .as_str()
            .unwrap()
            .contains("Dear <Ann> Lee")
    );
    assert!(d.body["sent_at"].is_string() && d.body["error"].is_null());
    assert!(
        d.body["message_id"]
            .as_str()
            .unwrap()
            .contains(&format!("crm_email.{id}@"))
    );
    assert_eq!(d.body["template"], tpl.body["id"]);
}

#[tokio::test]
async fn emails_validation_and_other_orgs_ids_write_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("em-val@example.com").await;
    let other = app.admin("em-val2@example.com").await;
    let mine = contact(&app, admin.org_id, "Ann", "ann@example.net").await;
    let nomail = contact(&app, admin.org_id, "Nob", "").await;
    let foreign = contact(&app, other.org_id, "Zed", "zed@example.net").await;
    let foreign_tpl = app
        .post(
            "/api/emails/templates/",
            Some(&other.access),
            &json!({"name": "Theirs", "subject": "x", "is_shared": true}),
        )
        .await;
    let c = |extra: Value| {
        let mut b =
            json!({"record_type": "contact", "record_id": mine, "subject": "Hi", "body": "Hello"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, field) in [
        (c(json!({"record_id": foreign})), "record_id"),
        (c(json!({"record_id": "nope"})), "record_id"),
        (c(json!({"record_type": "invoice"})), "record_type"),
        (json!({"record_id": mine, "subject": "x"}), "record_type"),
        (c(json!({"to": ["not-an-address"]})), "to"),
        (c(json!({"cc": [1]})), "cc"),
        (c(json!({"subject": ""})), "subject"),
        (c(json!({"body": "Hi {{ first_name }"})), "body"),
        (c(json!({"body": "{% if %}"})), "body"),
        (
            c(json!({"scheduled_at": "2001-01-01T00:00:00Z"})),
            "scheduled_at",
        ),
        (c(json!({"scheduled_at": "soon"})), "scheduled_at"),
        (c(json!({"template": foreign_tpl.body["id"]})), "template"),
        (c(json!({"in_reply_to": Uuid::new_v4()})), "in_reply_to"),
        (c(json!({"record_id": nomail})), "to"),
        (c(json!({"from_email": "nope"})), "from_email"),
    ] {
        let res = app.post("/api/emails/", Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    for org in [admin.org_id, other.org_id] {
        assert_eq!(
            scalar(
                &app,
                "SELECT count(*) FROM crm_email WHERE org_id = $1",
                org
            )
            .await,
            0
        );
        assert_eq!(
            scalar(
                &app,
                "SELECT count(*) FROM jobs WHERE tenant_org_id = $1 AND kind = 'crm_email'",
                org
            )
            .await,
            0
        );
    }
    // Another org's e-mail and record are not found.
    let theirs = send(
        &app,
        &other,
        json!({"record_type": "contact", "record_id": foreign, "subject": "zqxb"}),
    )
    .await;
    for path in [
        format!("/api/emails/{theirs}/"),
        format!("/api/emails/{theirs}/thread/"),
        format!("/api/emails/?record_type=contact&record_id={foreign}"),
    ] {
        let res = app.get(&path, Some(&admin.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
    }
    let res = app
        .delete(&format!("/api/emails/{theirs}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM crm_email WHERE id = $1", theirs).await,
        1
    );
    // Malformed list filters name their field.
    for (q, field) in [
        ("record_type=contact", "record_id"),
        ("record_type=x&record_id=1", "record_type"),
        ("status=gone", "status"),
        ("thread=1", "thread"),
    ] {
        let res = app
            .get(&format!("/api/emails/?{q}"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(res.body[field].is_array(), "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn emails_drafts_threads_scheduling_and_cancelling() {
    let app = TestApp::new().await;
    let admin = app.admin("em-draft@example.com").await;
    let user = app
        .member(admin.org_id, "em-draft-u@example.com", "USER")
        .await;
    let ann = contact(&app, admin.org_id, "Ann", "ann@example.net").await;
    let draft = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "body": "Draft text", "draft": true}),
    )
    .await;
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM jobs WHERE tenant_org_id = $1",
            admin.org_id
        )
        .await,
        0,
        "a draft is not queued"
    );
    // A draft is its author's only, even for an admin of the same org.
    let res = app
        .get(&format!("/api/emails/{draft}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .patch(
            &format!("/api/emails/{draft}/"),
            Some(&admin.access),
            &json!({"subject": "Ready {{ first_name }}"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "draft");
    let res = app
        .get(&format!("/api/emails/{draft}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["subject"], "Ready {{ first_name }}");
    assert_eq!(res.body["body"], "Draft text");
    let res = app
        .post(
            &format!("/api/emails/{draft}/send/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "queued");
    let res = app
        .patch(
            &format!("/api/emails/{draft}/"),
            Some(&admin.access),
            &json!({"subject": "late"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let w = outbox_worker(&app);
    assert_eq!(w.drain().await.unwrap(), 1);

    // A reply joins the thread; scheduled for later, it waits for its time.
    let reply = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "subject": "Re: Ready",
               "in_reply_to": draft, "scheduled_at": "2099-01-01T09:30:00+05:30"}),
    )
    .await;
    let run_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT run_at FROM jobs WHERE kind = 'crm_email' AND payload->>'email_id' = $1",
    )
    .bind(reply.to_string())
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(run_at.to_rfc3339(), "2099-01-01T04:00:00+00:00");
    assert_eq!(w.drain().await.unwrap(), 0, "not before its time");
    let t = app
        .get(&format!("/api/emails/{reply}/thread/"), Some(&admin.access))
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(t.body["thread_id"], json!(draft));
    assert_eq!(t.body["count"], 2);
    assert_eq!(t.body["results"][0]["id"], json!(draft), "oldest first");
    assert_eq!(t.body["results"][0]["status"], "sent");
    assert_eq!(t.body["results"][1]["status"], "queued");

    // Cancelled before its time: its job then sends nothing.
    let res = app
        .delete(&format!("/api/emails/{reply}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "E-mail cancelled");
    exec(
        &app,
        "UPDATE jobs SET run_at = now() WHERE tenant_org_id = $1",
        admin.org_id,
    )
    .await;
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM mail_outbox WHERE tenant_org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
    // A sent e-mail stays in the history.
    let res = app
        .delete(&format!("/api/emails/{draft}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
}

#[tokio::test]
async fn emails_user_reaches_only_records_they_created_or_are_assigned_to() {
    let app = TestApp::new().await;
    let admin = app.admin("em-user@example.com").await;
    let user = app
        .member(admin.org_id, "em-user-u@example.com", "USER")
        .await;
    let theirs = lead(&app, admin.org_id, Some(admin.user_id), "a@example.net").await;
    let own = lead(&app, admin.org_id, Some(user.user_id), "b@example.net").await;
    let body = |id: Uuid| json!({"record_type": "lead", "record_id": id, "subject": "Hi {{ first_name }}"});
    let res = app
        .post("/api/emails/", Some(&user.access), &body(theirs))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .get(
            &format!("/api/emails/?record_type=lead&record_id={theirs}"),
            Some(&user.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let admin_mail = send(&app, &admin, body(theirs)).await;
    let res = app
        .get(&format!("/api/emails/{admin_mail}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    send(&app, &user, body(own)).await;
    // Assigned: the lead's history opens up.
    exec(
        &app,
        &format!("INSERT INTO lead_assigned_to (lead_id, profile_id) VALUES ('{theirs}', $1)"),
        user.profile_id,
    )
    .await;
    assert_eq!(history(&app, &user, "lead", theirs).await["count"], 1);
    // Without a record: users list what they sent, admins the org's e-mails.
    let res = app.get("/api/emails/", Some(&user.access)).await;
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["record_id"], json!(own));
    let res = app.get("/api/emails/?limit=1", Some(&admin.access)).await;
    assert_eq!(res.body["count"], 2);
    assert_eq!(res.body["results"].as_array().unwrap().len(), 1);
    let res = app
        .get("/api/emails/?status=sent", Some(&admin.access))
        .await;
    assert_eq!(res.body["count"], 0);
}

#[tokio::test]
async fn emails_transport_failures_are_recorded_and_retried() {
    let app = TestApp::new().await;
    let admin = app.admin("em-fail@example.com").await;
    let ann = contact(&app, admin.org_id, "Ann", "ann@example.net").await;
    let id = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "subject": "Hi"}),
    )
    .await;
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = smtp_worker(&app, port);
    match w.run_one().await.unwrap() {
        Some((_, Outcome::Retrying(e))) => assert!(e.contains("SMTP"), "{e}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    let d = app
        .get(&format!("/api/emails/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(d.body["status"], "failed");
    assert!(
        d.body["error"].as_str().unwrap().contains("SMTP"),
        "{}",
        d.text
    );
    // The retry goes through: sent, the error cleared.
    exec(
        &app,
        "UPDATE jobs SET run_at = now() WHERE tenant_org_id = $1",
        admin.org_id,
    )
    .await;
    assert_eq!(outbox_worker(&app).drain().await.unwrap(), 1);
    let d = app
        .get(&format!("/api/emails/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(d.body["status"], "sent");
    assert!(d.body["error"].is_null());
}

#[tokio::test]
async fn emails_suppressed_addresses_and_domains_are_never_sent_to() {
    let app = TestApp::new().await;
    let admin = app.admin("em-supp@example.com").await;
    let ann = contact(&app, admin.org_id, "Ann", "ann@blocked.test").await;
    for (kind, value, reason) in [
        ("domain", "blocked.test", "blocked"),
        ("address", "gone@example.net", "unsubscribed"),
    ] {
        sqlx::query(
            "INSERT INTO email_suppression (id, org_id, kind, value, reason) VALUES (gen_random_uuid(), $1, $2, $3, $4)",
        )
        .bind(admin.org_id)
        .bind(kind)
        .bind(value)
        .bind(reason)
        .execute(&app.db.admin)
        .await
        .unwrap();
    }
    let blocked = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "subject": "Hi"}),
    )
    .await;
    let partly = send(
        &app,
        &admin,
        json!({"record_type": "contact", "record_id": ann, "subject": "Hi",
               "to": ["Gone@example.net", "ok@example.net"], "cc": ["x@BLOCKED.test"]}),
    )
    .await;
    assert_eq!(outbox_worker(&app).drain().await.unwrap(), 2);
    let d = app
        .get(&format!("/api/emails/{blocked}/"), Some(&admin.access))
        .await;
    assert_eq!(d.body["status"], "failed");
    assert!(d.body["error"].as_str().unwrap().contains("suppressed"));
    let d = app
        .get(&format!("/api/emails/{partly}/"), Some(&admin.access))
        .await;
    assert_eq!(d.body["status"], "sent");
    let to: Vec<String> =
        sqlx::query_scalar("SELECT to_addr FROM mail_outbox WHERE tenant_org_id = $1")
            .bind(admin.org_id)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(to, vec!["ok@example.net".to_string()]);
}

#[tokio::test]
async fn emails_templates_shared_by_admins_personal_to_their_author() {
    let app = TestApp::new().await;
    let admin = app.admin("em-tpl@example.com").await;
    let user = app
        .member(admin.org_id, "em-tpl-u@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "em-tpl-o@example.com", "USER")
        .await;
    let res = app
        .post(
            "/api/emails/templates/",
            Some(&user.access),
            &json!({"name": "Shared?", "is_shared": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let shared = app
        .post(
            "/api/emails/templates/",
            Some(&admin.access),
            &json!({"name": "B shared", "subject": "S", "is_shared": true}),
        )
        .await;
    let personal = app
        .post(
            "/api/emails/templates/",
            Some(&user.access),
            &json!({"name": "A mine", "body": "<p>{{ name }}</p>"}),
        )
        .await;
    assert_eq!(personal.status, StatusCode::OK, "{}", personal.text);
    for (body, field) in [
        (json!({"subject": "x"}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "body": "{{ a }"}), "body"),
        (json!({"name": "x", "is_shared": "maybe"}), "is_shared"),
    ] {
        let res = app
            .post("/api/emails/templates/", Some(&admin.access), &body)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    let names = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let l = app.get("/api/emails/templates/", Some(&user.access)).await;
    assert_eq!(names(&l.body), vec!["A mine", "B shared"]);
    let l = app.get("/api/emails/templates/", Some(&other.access)).await;
    assert_eq!(names(&l.body), vec!["B shared"]);
    let l = app.get("/api/emails/templates/", Some(&admin.access)).await;
    assert_eq!(
        names(&l.body),
        vec!["B shared"],
        "personal templates are private"
    );
    let sid = shared.body["id"].as_str().unwrap();
    let pid = personal.body["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/emails/templates/{sid}/"),
            Some(&user.access),
            &json!({"name": "mine now"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .get(
            &format!("/api/emails/templates/{pid}/"),
            Some(&other.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .put(
            &format!("/api/emails/templates/{pid}/"),
            Some(&user.access),
            &json!({"name": "A renamed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/emails/templates/{pid}/"), Some(&user.access))
        .await;
    assert_eq!(res.body["name"], "A renamed");
    assert_eq!(res.body["body"], "", "PUT empties what it leaves out");
    let res = app
        .delete(
            &format!("/api/emails/templates/{sid}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn emails_account_create_mail_is_sent_and_recorded_through_the_history() {
    let app = TestApp::new().await;
    let admin = app.admin("em-acc@example.com").await;
    let ann = contact(&app, admin.org_id, "Ann", "ann@example.net").await;
    let res = app
        .post(
            "/api/accounts/",
            Some(&admin.access),
            &json!({"name": "Globex"}),
        )
        .await;
    let account: Uuid = res.body["id"].as_str().unwrap().parse().unwrap();
    let res = app
        .post(
            &format!("/api/accounts/{account}/create_mail/"),
            Some(&admin.access),
            &json!({"from_email": "sales@globex.test", "recipients": [ann],
                    "message_subject": "Hello {{ first_name }}", "message_body": "<p>Hi</p>"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let h = history(&app, &admin, "account", account).await;
    assert_eq!(h["count"], 1);
    assert_eq!(h["results"][0]["status"], "queued");
    assert_eq!(h["results"][0]["to"], json!(["ann@example.net"]));
    assert_eq!(outbox_worker(&app).drain().await.unwrap(), 1);
    let h = history(&app, &admin, "account", account).await;
    assert_eq!(h["results"][0]["status"], "sent");
    assert_eq!(h["results"][0]["rendered_subject"], "Hello Ann");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM \"emailLogs\" WHERE org_id = $1 AND is_sent",
            admin.org_id
        )
        .await,
        1
    );
    let id = h["results"][0]["id"].as_str().unwrap();
    let res = app
        .delete(&format!("/api/emails/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
}
