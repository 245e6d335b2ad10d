//! Every e-mail template, end to end: each caller enqueues through its real endpoint, a worker
//! renders and sends the job (templates are strict: an undefined variable fails the job), and
//! the message in the outbox says what the caller meant, with a link to a page the web app has.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::Mailer;
use crm::testkit::TestApp;
use serde_json::json;
use uuid::Uuid;

const SITE: &str = "http://localhost:5173";

fn worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", SITE)
        .unwrap()
        .with_link_secret(&app.state.cfg.secret_key);
    let opts = WorkerOptions {
        concurrency: 2,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    Worker::new(app.db.app.clone(), opts, mailer)
}

/// Runs every queued job once and checks that none failed.
async fn run_jobs(app: &TestApp) {
    worker(app).drain().await.unwrap();
    let failed: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT payload::text, last_error FROM jobs WHERE status <> 'done' OR last_error IS NOT NULL",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert!(failed.is_empty(), "jobs failed: {failed:?}");
}

/// (template, to, subject, text) of every e-mail sent, oldest first.
async fn sent(app: &TestApp) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT COALESCE(j.payload->>'template', replace(j.kind, '_email', '')), m.to_addr, m.subject, m.text_body
         FROM mail_outbox m JOIN jobs j ON j.id = m.job_id ORDER BY m.created_at, m.id",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

async fn new_lead(app: &TestApp, token: &str, body: serde_json::Value) -> Uuid {
    let res = app.post("/api/leads/", Some(token), &body).await;
    assert!(res.status.is_success(), "{}", res.text);
    let (id,): (Uuid,) = sqlx::query_as("SELECT id FROM lead WHERE title = $1")
        .bind(body["title"].as_str().unwrap())
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn mail_mentions_in_comments_are_sent_with_a_link_to_the_record() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    app.member(admin.org_id, "ann@example.com", "USER").await;
    let lead = new_lead(&app, &admin.access, json!({"title": "Big deal"})).await;

    let path = format!("/api/leads/comment/{lead}/");
    let text = "Call them back @Ann@Example.com";
    let res = app
        .post(&path, Some(&admin.access), &json!({"comment": text}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    run_jobs(&app).await;
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (template, to, subject, body) = &mails[0];
    assert_eq!(
        (template.as_str(), to.as_str()),
        ("mention", "ann@example.com")
    );
    assert_eq!(
        subject,
        "boss@example.com mentioned you on the lead Big deal"
    );
    assert!(body.contains(text), "{body}");
    // The frontend has no /leads/<id> page: the list opens the lead's drawer from `?view=`.
    assert!(
        body.contains(&format!("See the comment: {SITE}/leads?view={lead}")),
        "{body}"
    );

    // An edit that adds a mention e-mails only the newly mentioned member.
    let bob = app.member(admin.org_id, "bob@example.com", "USER").await;
    let comment_id = res.body["comment"]["id"].as_str().unwrap().to_string();
    let res = app
        .put(
            &format!("/api/leads/comment/{comment_id}/"),
            Some(&admin.access),
            &json!({"comment": format!("{text} and @{}", bob.email)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    run_jobs(&app).await;
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].1, "bob@example.com");
    assert!(mails[1].3.contains(&format!("{SITE}/leads?view={lead}")));
}

#[tokio::test]
async fn mail_links_point_to_pages_the_frontend_has() {
    use crm::common::comments::{ACCOUNTS, CASES, CONTACTS, INVOICES, LEADS, OPPORTUNITIES, TASKS};
    let id = Uuid::nil();
    let paths: Vec<String> = [
        &LEADS,
        &ACCOUNTS,
        &CONTACTS,
        &OPPORTUNITIES,
        &CASES,
        &TASKS,
        &INVOICES,
    ]
    .iter()
    .map(|t| t.page_path(id))
    .collect();
    assert_eq!(
        paths,
        [
            format!("/leads?view={id}"),
            format!("/accounts?view={id}"),
            format!("/contacts?view={id}"),
            "/opportunities".into(),
            "/cases".into(),
            "/tasks".into(),
            format!("/invoices/{id}"),
        ]
    );
}

/// Every template that has a caller is sent through it and renders: the context each caller
/// builds has every variable its template uses.
#[tokio::test]
async fn mail_every_template_renders_with_the_context_its_caller_builds() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let ann = app.member(admin.org_id, "ann@example.com", "USER").await;

    // activation
    let body = json!({"email": "new@example.com", "password": "long-enough-1", "confirm_password": "long-enough-1"});
    let res = app.post("/api/auth/register/", None, &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // password_reset
    let res = app
        .post(
            "/api/auth/password-reset/",
            None,
            &json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // assignment
    let lead = new_lead(
        &app,
        &admin.access,
        json!({"title": "Renewal", "assigned_to": [ann.profile_id]}),
    )
    .await;
    // mention
    let res = app
        .post(
            &format!("/api/leads/comment/{lead}/"),
            Some(&admin.access),
            &json!({"comment": "@ann@example.com see this"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // account_exists: registering an address that has an account tells its owner
    let body = json!({"email": "ann@example.com", "password": "long-enough-1", "confirm_password": "long-enough-1"});
    let res = app.post("/api/auth/register/", None, &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // invitation: adding an account of another org invites it
    app.admin("carol@example.com").await;
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "carol@example.com", "role": "USER"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["invited"], true, "{}", res.text);

    // task_reminder: the daily per-org job, for a task due today assigned to Ann
    let today = chrono::Utc::now().date_naive().to_string();
    let res = app
        .post(
            "/api/tasks/",
            Some(&admin.access),
            &json!({"title": "Call back", "status": "New", "priority": "High", "due_date": today,
                    "assigned_to": [ann.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mut conn = app.db.admin.acquire().await.unwrap();
    crm::jobs::queue::insert(
        &mut conn,
        Some(admin.org_id),
        &crm::jobs::Job::TaskReminders,
        None,
    )
    .await
    .unwrap();
    drop(conn);
    // form_submission: a public contact form's submission tells the org's admins
    let res = app
        .post(
            "/api/marketing/forms/",
            Some(&admin.access),
            &json!({"name": "Contact us"}),
        )
        .await;
    let key = res.body["key"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/marketing/forms/{key}/"),
            None,
            &json!({"name": "Vera", "email": "vera@example.net", "message": "Hi"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    run_jobs(&app).await;
    let mails = sent(&app).await;
    let templates: BTreeSet<&str> = mails.iter().map(|m| m.0.as_str()).collect();
    // `account_status` and `user_removed` have no caller yet; their context functions are
    // rendered by the unit tests of `mail::templates`. `sla_breach` comes from the SLA schedule
    // (`cases_sla_job_mails_each_breach_once` in cases.rs).
    let expected: BTreeSet<&str> = crm::mail::templates::names()
        .filter(|n| !["account_status", "user_removed", "sla_breach"].contains(n))
        .collect();
    assert_eq!(templates, expected, "{mails:?}");
    for (template, _, subject, text) in &mails {
        assert!(!subject.is_empty() && !text.is_empty(), "{template}");
    }
    let assignment = mails.iter().find(|m| m.0 == "assignment").unwrap();
    assert_eq!(assignment.2, "You were assigned to the lead Renewal");
    assert!(assignment.3.contains(&format!("{SITE}/leads?view={lead}")));
}
