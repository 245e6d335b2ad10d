//! Cases and solutions: the frontend's list/create/edit/close/reopen/delete bodies and their
//! traps (frontend-payloads.md §5), the SLA (targets by priority, first response, resolution,
//! breach fields and filter, the scheduled breach e-mail), USER visibility, other orgs' ids, and
//! the solutions knowledge base.

use std::time::Duration;

use axum::http::StatusCode;
use crm::jobs::schedule;
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::Mailer;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the frontend's cases page reads of each case (frontend-api.md), upstream's keys and the
/// SLA fields.
const CASE_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "priority",
    "case_type",
    "closed_on",
    "description",
    "created_by",
    "created_at",
    "updated_at",
    "is_active",
    "account",
    "contacts",
    "teams",
    "assigned_to",
    "tags",
    "org",
    "comments",
    "sla_first_response_hours",
    "sla_resolution_hours",
    "first_response_at",
    "resolved_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_response_breached",
    "resolution_breached",
    "sla_breached",
];

/// The frontend's create body (cases page, frontend-payloads.md §5): `case_type: ""` when no
/// type was picked, `account`/`closed_on` null, status hard-coded "New".
fn frontend_body(name: &str) -> Value {
    json!({
        "name": name, "description": "", "account": null, "closed_on": null, "priority": "Normal",
        "case_type": "", "assigned_to": [], "contacts": [], "teams": [], "tags": [], "status": "New",
    })
}

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/cases/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Case Created Successfully");
    assert_eq!(res.body["cases_obj"]["id"], res.body["id"]);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn count(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn list(app: &TestApp, who: &TestUser, q: &str) -> crm::testkit::TestResponse {
    app.get(&format!("/api/cases/?{q}"), Some(&who.access))
        .await
}

async fn detail(app: &TestApp, who: &TestUser, id: Uuid) -> Value {
    let res = app
        .get(&format!("/api/cases/{id}/"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

async fn tag(app: &TestApp, admin: &TestUser, name: &str) -> Uuid {
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": name, "color": "blue"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["tag"]["id"].as_str().unwrap().parse().unwrap()
}

async fn account(app: &TestApp, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id)
         VALUES (now(), now(), $1, $2, true, $3)",
    )
    .bind(id)
    .bind(name)
    .bind(org)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

async fn contact(app: &TestApp, who: &TestUser, first: &str) -> Uuid {
    let res = app
        .post(
            "/api/contacts/",
            Some(&who.access),
            &json!({"first_name": first, "last_name": "Doe", "email": format!("{first}@example.org")}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

/// Moves a case's creation back `hours` hours (SLA clocks start at creation).
async fn backdate(app: &TestApp, id: Uuid, hours: i32) {
    sqlx::query(
        "UPDATE \"case\" SET created_at = now() - make_interval(hours => $2) WHERE id = $1",
    )
    .bind(id)
    .bind(hours)
    .execute(&app.db.admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn cases_list_has_the_keys_the_frontend_reads() {
    let app = TestApp::new().await;
    let admin = app.admin("k-admin@example.com").await;
    let ann = app.member(admin.org_id, "k-ann@example.com", "USER").await;
    let t = tag(&app, &admin, "Vip").await;
    let acc = account(&app, admin.org_id, "Acme").await;
    let jane = contact(&app, &admin, "jane").await;
    let mut body = frontend_body("Printer on fire");
    body["account"] = json!(acc);
    body["tags"] = json!([t]);
    body["contacts"] = json!([jane]);
    body["assigned_to"] = json!([ann.profile_id]);
    body["case_type"] = json!("Incident");
    let id = create(&app, &admin, body).await;
    create(&app, &admin, frontend_body("Second")).await;

    let res = app
        .get(
            "/api/cases/?limit=10&offset=0&ordering=-created_at&limit=10&offset=0",
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mut top: Vec<&str> = res
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "accounts_list",
            "cases",
            "cases_count",
            "contacts_list",
            "offset",
            "priority",
            "status",
            "type_of_case"
        ]
    );
    assert_eq!(res.body["cases_count"], 2);
    assert_eq!(res.body["offset"], Value::Null, "last page");
    assert_eq!(res.body["status"][0], json!(["New", "New"]));
    assert_eq!(res.body["priority"][3], json!(["Urgent", "Urgent"]));
    assert_eq!(res.body["type_of_case"][1], json!(["Incident", "Incident"]));
    assert_eq!(
        res.body["accounts_list"],
        json!([{"id": acc, "name": "Acme"}])
    );
    assert_eq!(res.body["contacts_list"][0]["id"], json!(jane));
    let cases = res.body["cases"].as_array().unwrap();
    assert_eq!(cases[1]["id"], json!(id), "newest first");
    let c = &cases[1];
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = CASE_KEYS.to_vec();
    keys.sort();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(c["name"], "Printer on fire");
    assert_eq!(c["case_type"], "Incident");
    assert_eq!(c["account"], json!({"id": acc, "name": "Acme"}));
    assert_eq!(c["tags"][0]["id"], json!(t));
    assert_eq!(c["tags"][0]["name"], "Vip");
    assert_eq!(c["contacts"][0]["id"], json!(jane));
    assert_eq!(c["contacts"][0]["first_name"], "jane");
    assert_eq!(c["assigned_to"][0]["id"], json!(ann.profile_id));
    assert_eq!(
        c["assigned_to"][0]["user_details"]["email"],
        "k-ann@example.com"
    );
    assert_eq!(c["created_by"]["email"], "k-admin@example.com");
    assert!(c["org"].get("api_key").is_none(), "no API key in org");
    assert_eq!(cases[0]["case_type"], Value::Null, "`\"\"` is no type");
}

#[tokio::test]
async fn cases_create_accepts_the_frontend_traps() {
    let app = TestApp::new().await;
    let admin = app.admin("t-admin@example.com").await;
    let ann = app.member(admin.org_id, "t-ann@example.com", "USER").await;
    let archived = tag(&app, &admin, "Old").await;
    let res = app
        .delete(&format!("/api/tags/{archived}/"), Some(&admin.access))
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    // A user id where a profile id belongs, an archived tag, unknown keys.
    let mut body = frontend_body("Trap case");
    body["assigned_to"] = json!([ann.user_id]);
    body["tags"] = json!([archived]);
    body["org"] = json!(admin.org_id);
    body["created_by"] = json!("someone");
    let res = app.post("/api/cases/", Some(&admin.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let obj = &res.body["cases_obj"];
    assert_eq!(obj["assigned_to"][0]["id"], json!(ann.profile_id));
    assert_eq!(obj["tags"][0]["id"], json!(archived));
    assert_eq!(obj["case_type"], Value::Null);
    assert_eq!(obj["status"], "New");
    let id: Uuid = res.body["id"].as_str().unwrap().parse().unwrap();

    // The drawer's edit re-sends everything, unchanged name and archived tag included.
    let edit = json!({
        "name": "Trap case", "description": "more", "closed_on": null, "priority": "High",
        "status": "Assigned", "case_type": "", "assigned_to": [ann.profile_id], "contacts": [],
        "teams": [], "tags": [archived],
    });
    let res = app
        .patch(&format!("/api/cases/{id}/"), Some(&admin.access), &edit)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Case Updated Successfully");
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["tags"][0]["id"], json!(archived));
    assert_eq!(d["cases_obj"]["description"], "more");

    // A deactivated assignee the drawer re-sends stays assigned (rejecting it would block every
    // edit of the case; dropping it would lose it silently).
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(ann.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .patch(&format!("/api/cases/{id}/"), Some(&admin.access), &edit)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    assert_eq!(
        d["cases_obj"]["assigned_to"][0]["id"],
        json!(ann.profile_id)
    );

    // Another case's name is taken (case-insensitively).
    let other = create(&app, &admin, frontend_body("Other")).await;
    let res = app
        .patch(
            &format!("/api/cases/{other}/"),
            Some(&admin.access),
            &json!({"name": "TRAP CASE"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body["errors"]["name"][0],
        "Case already exists with this name"
    );
}

#[tokio::test]
async fn cases_validation_errors_name_their_fields_and_write_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("v-admin@example.com").await;
    let res = app
        .post("/api/cases/", Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], true);
    for f in ["name", "status", "priority"] {
        assert_eq!(
            res.body["errors"][f][0], "This field is required.",
            "{f}: {}",
            res.text
        );
    }
    let bad = json!({
        "name": "x".repeat(65), "status": "Open", "priority": "", "case_type": "Bug",
        "closed_on": "03/12/2026", "sla_first_response_hours": -1, "sla_resolution_hours": null,
        "is_active": "maybe", "assigned_to": ["not-a-uuid"], "account": "nope",
    });
    let res = app.post("/api/cases/", Some(&admin.access), &bad).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let errors = res.body["errors"].as_object().unwrap();
    for f in [
        "name",
        "status",
        "priority",
        "case_type",
        "closed_on",
        "sla_first_response_hours",
        "sla_resolution_hours",
        "is_active",
        "assigned_to",
        "account",
    ] {
        assert!(errors.contains_key(f), "{f}: {}", res.text);
    }
    assert_eq!(
        res.body["errors"]["name"][0],
        "Ensure this field has no more than 64 characters."
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM \"case\" WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    // Malformed filters are 400s on their key.
    for q in [
        "created_at__gte=notadate",
        "account=xyz",
        "sla_breached=perhaps",
        "closed_on__lte=2026-13-01",
    ] {
        let res = app
            .get(&format!("/api/cases/?{q}"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}: {}", res.text);
        let key = q.split('=').next().unwrap();
        assert!(res.body.get(key).is_some(), "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn cases_sla_defaults_applied_by_priority() {
    // Upstream: every case got 4 h / 24 h whatever its priority.
    let app = TestApp::new().await;
    let admin = app.admin("s-admin@example.com").await;
    for (priority, first, resolution) in [
        ("Low", 24, 72),
        ("Normal", 8, 48),
        ("High", 4, 24),
        ("Urgent", 1, 4),
    ] {
        let mut body = frontend_body(&format!("{priority} case"));
        body["priority"] = json!(priority);
        let id = create(&app, &admin, body).await;
        let d = detail(&app, &admin, id).await;
        assert_eq!(d["cases_obj"]["sla_first_response_hours"], first);
        assert_eq!(d["cases_obj"]["sla_resolution_hours"], resolution);
    }
    // Explicit hours win; a new priority brings its own targets unless the body sets them.
    let mut body = frontend_body("Custom");
    body["sla_first_response_hours"] = json!(2);
    let id = create(&app, &admin, body).await;
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["sla_first_response_hours"], 2);
    assert_eq!(d["cases_obj"]["sla_resolution_hours"], 48);
    let path = format!("/api/cases/{id}/");
    let res = app
        .patch(&path, Some(&admin.access), &json!({"priority": "Urgent"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["sla_first_response_hours"], 1);
    assert_eq!(d["cases_obj"]["sla_resolution_hours"], 4);
    // Re-sending the same priority (the drawer's full edit) keeps custom hours.
    let res = app
        .patch(
            &path,
            Some(&admin.access),
            &json!({"sla_resolution_hours": 10}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(&path, Some(&admin.access), &json!({"priority": "Urgent"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["sla_resolution_hours"], 10);
}

#[tokio::test]
async fn cases_close_stamps_resolution_and_reopen_clears_it() {
    let app = TestApp::new().await;
    let admin = app.admin("c-admin@example.com").await;
    let id = create(&app, &admin, frontend_body("Close me")).await;
    let path = format!("/api/cases/{id}/");
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["resolved_at"], Value::Null);

    // The frontend's close: only the status (upstream: nothing stamped, closed_on stays null).
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "Closed"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    let resolved = d["cases_obj"]["resolved_at"].clone();
    assert!(resolved.is_string(), "{d}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(d["cases_obj"]["closed_on"], json!(today));
    assert_eq!(d["cases_obj"]["resolution_breached"], false);

    // Closing again keeps the first stamp; an explicit date is kept.
    let res = app
        .patch(
            &path,
            Some(&admin.access),
            &json!({"status": "Closed", "closed_on": "2026-01-02"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["resolved_at"], resolved);
    assert_eq!(d["cases_obj"]["closed_on"], "2026-01-02");

    // The frontend's reopen.
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "Assigned"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["resolved_at"], Value::Null);
    assert_eq!(d["cases_obj"]["closed_on"], Value::Null);
    assert_eq!(d["cases_obj"]["status"], "Assigned");

    // Rejected and Duplicate end a case too; a case created closed is resolved at once.
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "Duplicate"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(detail(&app, &admin, id).await["cases_obj"]["resolved_at"].is_string());
    let mut body = frontend_body("Born closed");
    body["status"] = json!("Closed");
    let res = app.post("/api/cases/", Some(&admin.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.body["cases_obj"]["resolved_at"].is_string());
    assert_eq!(res.body["cases_obj"]["closed_on"], json!(today));
}

#[tokio::test]
async fn cases_first_response_is_the_first_comment_posted_by_case_id() {
    // Upstream: `POST /api/cases/comment/<case id>/` (what the frontend sends) was a 405, and
    // nothing ever wrote `first_response_at`.
    let app = TestApp::new().await;
    let admin = app.admin("f-admin@example.com").await;
    let ann = app.member(admin.org_id, "f-ann@example.com", "USER").await;
    let mut body = frontend_body("Answer me");
    body["assigned_to"] = json!([ann.profile_id]);
    let id = create(&app, &admin, body).await;
    let d = detail(&app, &admin, id).await;
    assert_eq!(d["cases_obj"]["first_response_at"], Value::Null);

    let res = app
        .post(
            &format!("/api/cases/comment/{id}/"),
            Some(&ann.access),
            &json!({"comment": "Looking into it"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let d = detail(&app, &admin, id).await;
    let first = d["cases_obj"]["first_response_at"].clone();
    assert!(first.is_string(), "{d}");
    assert_eq!(d["cases_obj"]["first_response_breached"], false);
    assert_eq!(d["comments"][0]["comment"], "Looking into it");

    // A later comment (here through upstream's detail form) keeps the first stamp.
    let res = app
        .post(
            &format!("/api/cases/{id}/"),
            Some(&admin.access),
            &json!({"comment": "Any news?"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["cases_obj"]["first_response_at"], first);
    assert_eq!(res.body["comments"].as_array().unwrap().len(), 2);
    assert_eq!(res.body["comments"][0]["comment"], "Any news?");
    assert_eq!(
        res.body["comments"][1]["commented_by"],
        json!(ann.profile_id)
    );
    // The detail renders its attachments in the same statement, with download links.
    let res = crate::documents::send_multipart(
        &app,
        axum::http::Method::POST,
        &format!("/api/cases/{id}/"),
        &admin.access,
        &[],
        &[("case_attachment", "log.pdf", crate::documents::PDF)],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let file = &res.body["attachments"][0];
    assert_eq!(file["file_name"], "log.pdf");
    assert_eq!(file["content_type"], "case");
    let link = file["file_path"].as_str().unwrap();
    assert!(
        link.ends_with(&format!(
            "/api/cases/attachment/{}/download/",
            file["id"].as_str().unwrap()
        )),
        "{link}"
    );
    // The list rows carry the comments the drawer shows, author included.
    let res = app.get("/api/cases/", Some(&admin.access)).await;
    let c = &res.body["cases"][0];
    assert_eq!(c["comments"][0]["comment"], "Any news?");
    assert_eq!(
        c["comments"][1]["commented_by"]["user_details"]["email"],
        "f-ann@example.com"
    );
}

#[tokio::test]
async fn cases_sla_breach_fields_and_filter() {
    let app = TestApp::new().await;
    let admin = app.admin("b-admin@example.com").await;
    let mut body = frontend_body("Late");
    body["priority"] = json!("Urgent");
    let late = create(&app, &admin, body).await;
    let fresh = create(&app, &admin, frontend_body("Fresh")).await;
    backdate(&app, late, 2).await;

    let d = detail(&app, &admin, late).await;
    let o = &d["cases_obj"];
    assert_eq!(o["first_response_breached"], true, "1 h target, 2 h old");
    assert_eq!(o["resolution_breached"], false, "4 h target");
    assert_eq!(o["sla_breached"], true);
    let created = chrono::DateTime::parse_from_rfc3339(o["created_at"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(o["first_response_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - created, chrono::Duration::hours(1));
    let due =
        chrono::DateTime::parse_from_rfc3339(o["resolution_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - created, chrono::Duration::hours(4));

    let ids = |res: &Value| -> Vec<Value> {
        res["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone())
            .collect()
    };
    let res = app
        .get("/api/cases/?sla_breached=true", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(ids(&res.body), vec![json!(late)]);
    assert_eq!(res.body["cases_count"], 1);
    let res = app
        .get("/api/cases/?sla_breached=false", Some(&admin.access))
        .await;
    assert_eq!(ids(&res.body), vec![json!(fresh)]);
    let res = app
        .get("/api/cases/?resolution_breached=true", Some(&admin.access))
        .await;
    assert!(ids(&res.body).is_empty());

    // Answered late stays breached; the answer stops the clock.
    let res = app
        .post(
            &format!("/api/cases/comment/{late}/"),
            Some(&admin.access),
            &json!({"comment": "Sorry for the wait"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let d = detail(&app, &admin, late).await;
    assert_eq!(d["cases_obj"]["first_response_breached"], true);
    // Closing past the resolution target is a resolution breach.
    backdate(&app, fresh, 100).await;
    let res = app
        .patch(
            &format!("/api/cases/{fresh}/"),
            Some(&admin.access),
            &json!({"status": "Closed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = detail(&app, &admin, fresh).await;
    assert_eq!(d["cases_obj"]["resolution_breached"], true);
    assert_eq!(
        d["cases_obj"]["first_response_breached"], true,
        "closed without an answer, 92 h late"
    );
}

fn worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173")
        .unwrap()
        .with_link_secret(&app.state.cfg.secret_key);
    let opts = WorkerOptions {
        concurrency: 1,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    Worker::new(app.db.app.clone(), opts, mailer)
}

/// Fires the `case_sla` schedule now (one job per org) and runs every queued job.
async fn run_sla_check(app: &TestApp) {
    schedule::sync(&app.db.app, schedule::SCHEDULES)
        .await
        .unwrap();
    sqlx::query("UPDATE job_schedules SET next_run_at = now() - interval '1 minute' WHERE name = 'case_sla'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert!(
        schedule::tick(&app.db.app, schedule::SCHEDULES)
            .await
            .unwrap()
            >= 1
    );
    worker(app).drain().await.unwrap();
    let failed: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT payload::text, last_error FROM jobs WHERE status <> 'done' OR last_error IS NOT NULL",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert!(failed.is_empty(), "jobs failed: {failed:?}");
}

/// (to, subject, text) of every SLA e-mail sent.
async fn sla_mails(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT m.to_addr, m.subject, m.text_body FROM mail_outbox m JOIN jobs j ON j.id = m.job_id
         WHERE j.payload->>'template' = 'sla_breach' ORDER BY m.to_addr, m.subject",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn cases_sla_job_mails_each_breach_once() {
    let app = TestApp::new().await;
    let admin = app.admin("j-admin@example.com").await;
    let ann = app.member(admin.org_id, "j-ann@example.com", "USER").await;
    let mut body = frontend_body("Server down");
    body["priority"] = json!("Urgent");
    body["assigned_to"] = json!([ann.profile_id]);
    let late = create(&app, &admin, body).await;
    let mut body = frontend_body("Not yet due");
    body["assigned_to"] = json!([ann.profile_id]);
    create(&app, &admin, body).await;
    let mut body = frontend_body("Done in time");
    body["priority"] = json!("Urgent");
    body["assigned_to"] = json!([ann.profile_id]);
    let closed = create(&app, &admin, body).await;
    let res = app
        .patch(
            &format!("/api/cases/{closed}/"),
            Some(&admin.access),
            &json!({"status": "Closed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    backdate(&app, late, 2).await;
    backdate(&app, closed, 10).await;

    run_sla_check(&app).await;
    run_sla_check(&app).await;
    let mails = sla_mails(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (to, subject, text) = &mails[0];
    assert_eq!(to, "j-ann@example.com");
    assert_eq!(
        subject,
        "SLA missed: first response of the case Server down"
    );
    assert!(text.contains("http://localhost:5173/cases"), "{text}");

    // Later the resolution target passes too: one more e-mail, once.
    backdate(&app, late, 5).await;
    run_sla_check(&app).await;
    run_sla_check(&app).await;
    let mails = sla_mails(&app).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].1, "SLA missed: resolution of the case Server down");
}

#[tokio::test]
async fn cases_detail_works_for_an_assigned_user_and_users_see_their_cases_only() {
    // Upstream: every non-admin who passed the access check got a 500 on the detail.
    let app = TestApp::new().await;
    let admin = app.admin("u-admin@example.com").await;
    let ann = app.member(admin.org_id, "u-ann@example.com", "USER").await;
    let bob = app.member(admin.org_id, "u-bob@example.com", "USER").await;
    let mut body = frontend_body("Ann's");
    body["assigned_to"] = json!([ann.profile_id]);
    let anns = create(&app, &admin, body).await;
    let hidden = create(&app, &admin, frontend_body("Admin only")).await;
    let bobs = create(&app, &bob, frontend_body("Bob's own")).await;

    let d = detail(&app, &ann, anns).await;
    assert_eq!(d["cases_obj"]["name"], "Ann's");
    assert_eq!(d["comment_permission"], false);
    assert_eq!(
        d["users_mention"],
        json!([{"user__email": "u-ann@example.com"}])
    );
    let res = app.get("/api/cases/", Some(&ann.access)).await;
    assert_eq!(res.body["cases_count"], 1);
    assert_eq!(res.body["cases"][0]["id"], json!(anns));
    let res = app.get("/api/cases/", Some(&bob.access)).await;
    assert_eq!(res.body["cases_count"], 1);
    assert_eq!(res.body["cases"][0]["id"], json!(bobs));
    let res = app.get("/api/cases/", Some(&admin.access)).await;
    assert_eq!(res.body["cases_count"], 3);

    let path = format!("/api/cases/{hidden}/");
    let res = app.get(&path, Some(&ann.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    for res in [
        app.patch(&path, Some(&ann.access), &json!({"name": "mine"}))
            .await,
        app.put(
            &path,
            Some(&ann.access),
            &json!({"name": "mine", "status": "New", "priority": "Low"}),
        )
        .await,
        app.delete(&path, Some(&ann.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    }
    // An assignee edits but may not delete; the creator deletes.
    let res = app
        .patch(
            &format!("/api/cases/{anns}/"),
            Some(&ann.access),
            &json!({"status": "Pending"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .delete(&format!("/api/cases/{anns}/"), Some(&ann.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .delete(&format!("/api/cases/{bobs}/"), Some(&bob.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Case Deleted Successfully.");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM \"case\" WHERE name = 'mine' OR org_id <> $1",
            admin.org_id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn cases_other_orgs_ids_are_404_in_the_path_and_400_in_the_body() {
    let app = TestApp::new().await;
    let admin = app.admin("x-admin@example.com").await;
    let other = app.admin("x-other@example.com").await;
    let theirs = create(&app, &other, frontend_body("Theirs")).await;
    let their_tag = tag(&app, &other, "Foreign").await;
    let their_account = account(&app, other.org_id, "Foreign Inc").await;
    let their_contact = contact(&app, &other, "foreign").await;
    let path = format!("/api/cases/{theirs}/");
    for res in [
        app.get(&path, Some(&admin.access)).await,
        app.patch(&path, Some(&admin.access), &json!({"name": "hijack"}))
            .await,
        app.delete(&path, Some(&admin.access)).await,
        app.post(
            &format!("/api/cases/comment/{theirs}/"),
            Some(&admin.access),
            &json!({"comment": "hi"}),
        )
        .await,
        app.get("/api/cases/not-a-uuid/", Some(&admin.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let mine = create(&app, &admin, frontend_body("Mine")).await;
    let mut body = frontend_body("Mixed");
    body["tags"] = json!([their_tag]);
    body["account"] = json!(their_account);
    body["contacts"] = json!([their_contact]);
    body["assigned_to"] = json!([other.profile_id]);
    let res = app.post("/api/cases/", Some(&admin.access), &body).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for f in ["tags", "account", "contacts", "assigned_to"] {
        assert!(res.body["errors"].get(f).is_some(), "{f}: {}", res.text);
    }
    let res = app
        .patch(
            &format!("/api/cases/{mine}/"),
            Some(&admin.access),
            &json!({"tags": [their_tag], "teams": [Uuid::new_v4()]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["teams"].is_array(), "{}", res.text);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM \"case\" WHERE org_id = $1 AND name = 'Theirs'",
            other.org_id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM case_tags WHERE case_id = $1",
            mine
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM comment WHERE object_id = $1",
            theirs
        )
        .await,
        0
    );
}

#[tokio::test]
async fn cases_put_replaces_everything_and_ignores_the_account() {
    let app = TestApp::new().await;
    let admin = app.admin("p-admin@example.com").await;
    let t = tag(&app, &admin, "Keep").await;
    let acc = account(&app, admin.org_id, "First").await;
    let acc2 = account(&app, admin.org_id, "Second").await;
    let mut body = frontend_body("Full");
    body["tags"] = json!([t]);
    body["account"] = json!(acc);
    body["case_type"] = json!("Problem");
    body["closed_on"] = json!("2026-05-01");
    let id = create(&app, &admin, body).await;
    let path = format!("/api/cases/{id}/");
    let res = app
        .put(&path, Some(&admin.access), &json!({"name": "Full"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["status"].is_array());
    let res = app
        .put(
            &path,
            Some(&admin.access),
            &json!({"name": "Full", "status": "Pending", "priority": "Low", "account": acc2}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let o = detail(&app, &admin, id).await["cases_obj"].clone();
    assert_eq!(o["tags"], json!([]));
    assert_eq!(o["case_type"], Value::Null);
    assert_eq!(o["closed_on"], Value::Null);
    assert_eq!(o["account"]["id"], json!(acc), "account is read-only");
    assert_eq!(o["priority"], "Low");
}

#[tokio::test]
async fn cases_delete_removes_links_comments_and_keeps_tasks() {
    let app = TestApp::new().await;
    let admin = app.admin("d-admin@example.com").await;
    let id = create(&app, &admin, frontend_body("Doomed")).await;
    let res = app
        .post(
            &format!("/api/cases/comment/{id}/"),
            Some(&admin.access),
            &json!({"comment": "bye"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let res = app
        .post(
            "/api/cases/solutions/",
            Some(&admin.access),
            &json!({"title": "Fix", "description": "Reboot", "cases": [id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let task = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO task (created_at, updated_at, id, title, status, priority, org_id, case_id)
         VALUES (now(), now(), $1, 'Call back', 'New', 'Low', $2, $3)",
    )
    .bind(task)
    .bind(admin.org_id)
    .bind(id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    let res = app
        .delete(&format!("/api/cases/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for sql in [
        "SELECT count(*) FROM \"case\" WHERE id = $1",
        "SELECT count(*) FROM comment WHERE object_id = $1",
        "SELECT count(*) FROM solution_cases WHERE case_id = $1",
        "SELECT count(*) FROM task WHERE case_id = $1",
    ] {
        assert_eq!(count(&app, sql, id).await, 0, "{sql}");
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM task WHERE id = $1", task).await,
        1
    );
}

#[tokio::test]
async fn cases_filters_ordering_and_pagination() {
    let app = TestApp::new().await;
    let admin = app.admin("l-admin@example.com").await;
    let ann = app.member(admin.org_id, "l-ann@example.com", "USER").await;
    let t = tag(&app, &admin, "Hot").await;
    for i in 0..12 {
        let mut body = frontend_body(&format!("Case {i:02}"));
        body["priority"] = json!(if i % 2 == 0 { "High" } else { "Low" });
        if i == 3 {
            body["tags"] = json!([t]);
            body["assigned_to"] = json!([ann.profile_id]);
            body["case_type"] = json!("Question");
        }
        create(&app, &admin, body).await;
    }
    let res = list(&app, &admin, "").await;
    assert_eq!(res.body["cases_count"], 12);
    assert_eq!(res.body["cases"].as_array().unwrap().len(), 10);
    assert_eq!(res.body["offset"], 10);
    // The frontend sends limit/offset twice: the last ones win.
    let res = list(
        &app,
        &admin,
        "limit=10&offset=0&ordering=name&limit=5&offset=10",
    )
    .await;
    let names: Vec<&str> = res.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Case 10", "Case 11"]);
    assert_eq!(res.body["offset"], Value::Null);
    let res = list(&app, &admin, "priority=High").await;
    assert_eq!(res.body["cases_count"], 6);
    let res = list(&app, &admin, &format!("tags={t}")).await;
    assert_eq!(res.body["cases_count"], 1);
    assert_eq!(res.body["cases"][0]["name"], "Case 03");
    let res = list(&app, &admin, &format!("assigned_to={}", ann.profile_id)).await;
    assert_eq!(res.body["cases_count"], 1);
    let res = list(&app, &admin, "case_type=Question&status=New&search=case+0").await;
    assert_eq!(res.body["cases_count"], 1);
    let today = chrono::Utc::now().date_naive();
    let res = list(
        &app,
        &admin,
        &format!("created_at__gte={today}&created_at__lte={today}"),
    )
    .await;
    assert_eq!(res.body["cases_count"], 12, "a bare date includes its day");
    let res = list(&app, &admin, "ordering=-name&limit=1").await;
    assert_eq!(res.body["cases"][0]["name"], "Case 11");
}

#[tokio::test]
async fn cases_solutions_list_is_reachable() {
    // Upstream: `/api/cases/solutions/` was shadowed by the case detail route (500).
    let app = TestApp::new().await;
    let admin = app.admin("k-sol@example.com").await;
    let ann = app.member(admin.org_id, "k-ann@example.com", "USER").await;
    let other = app.admin("k-other@example.com").await;
    let case = create(&app, &admin, frontend_body("Printer")).await;
    let theirs = create(&app, &other, frontend_body("Theirs")).await;

    let res = app
        .post(
            "/api/cases/solutions/",
            Some(&admin.access),
            &json!({"title": "Reboot", "description": "Turn it off and on", "cases": [case]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let sol = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["status"], "draft");
    assert_eq!(res.body["is_published"], false);
    assert_eq!(res.body["case_count"], 1);
    assert_eq!(res.body["created_by"], json!(admin.user_id));

    // Validation: bare DRF errors; publishing needs approved; another org's case is a 400.
    let res = app
        .post(
            "/api/cases/solutions/",
            Some(&admin.access),
            &json!({"status": "bogus", "is_published": true, "cases": [theirs]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for f in ["title", "description", "status", "cases"] {
        assert!(res.body[f].is_array(), "{f}: {}", res.text);
    }
    let res = app
        .post(
            "/api/cases/solutions/",
            Some(&admin.access),
            &json!({"title": "Draft", "description": "x", "is_published": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["is_published"].is_array());

    for i in 0..3 {
        let res = app
            .post(
                "/api/cases/solutions/",
                Some(&ann.access),
                &json!({"title": format!("Tip {i}"), "description": "printer tips"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let res = app
        .get("/api/cases/solutions/?limit=2", Some(&ann.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // A member reads published solutions and their own drafts: not the admin's draft.
    assert_eq!(res.body["count"], 3);
    assert_eq!(res.body["results"].as_array().unwrap().len(), 2);
    assert!(
        res.body["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/cases/solutions/?limit=2&offset=2"),
        "{}",
        res.text
    );
    assert_eq!(res.body["previous"], Value::Null);
    let res = app
        .get("/api/cases/solutions/?search=OFF+and", Some(&admin.access))
        .await;
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["id"], json!(sol));

    // Detail: linked cases as CaseObj.
    let path = format!("/api/cases/solutions/{sol}/");
    let res = app.get(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["linked_cases"][0]["id"], json!(case));
    assert_eq!(res.body["linked_cases"][0]["name"], "Printer");
    assert!(res.body.get("case_count").is_none());
    let d = detail(&app, &admin, case).await;
    assert_eq!(d["solutions"][0]["id"], json!(sol));

    // Only the author or an admin writes (upstream: any member).
    let res = app
        .patch(&path, Some(&ann.access), &json!({"title": "Mine now"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .post(&format!("{path}publish/"), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    // Approving and publishing in one PATCH works (upstream checked the stored status).
    let res = app
        .patch(
            &path,
            Some(&admin.access),
            &json!({"status": "approved", "is_published": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_published"], true);
    let res = app
        .post(
            &format!("{path}unpublish/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_published"], false);
    let res = app
        .post(&format!("{path}publish/"), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_published"], true);
    // Back to draft unpublishes.
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "draft"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["is_published"], false);
    let res = app
        .get("/api/cases/solutions/?is_published=true", Some(&ann.access))
        .await;
    assert_eq!(res.body["count"], 0);
    // PUT needs title and description; `cases: []` unlinks.
    let res = app
        .put(&path, Some(&admin.access), &json!({"title": "Reboot"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["description"].is_array());
    let res = app
        .put(
            &path,
            Some(&admin.access),
            &json!({"title": "Reboot", "description": "Power cycle", "cases": []}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["case_count"], 0);
    // Another org's solution is a 404; delete answers 204.
    let res = app.get(&path, Some(&other.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    let res = app.delete(&path, Some(&other.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    let res = app.delete(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let res = app.get(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
}

#[tokio::test]
async fn cases_assignment_emails_are_queued_on_create_and_patch() {
    let app = TestApp::new().await;
    let admin = app.admin("m-admin@example.com").await;
    let ann = app.member(admin.org_id, "m-ann@example.com", "USER").await;
    let bob = app.member(admin.org_id, "m-bob@example.com", "USER").await;
    let mut body = frontend_body("Mail me");
    body["assigned_to"] = json!([ann.profile_id, admin.profile_id]);
    let id = create(&app, &admin, body).await;
    let res = app
        .patch(
            &format!("/api/cases/{id}/"),
            Some(&admin.access),
            &json!({"assigned_to": [ann.profile_id, bob.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let to: Vec<(String,)> = sqlx::query_as(
        "SELECT payload->>'to' FROM jobs WHERE payload->>'template' = 'assignment' ORDER BY created_at, payload->>'to'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    let to: Vec<&str> = to.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(to, ["m-ann@example.com", "m-bob@example.com"]);
}
