//! Tasks: list/filters, create/PUT/PATCH/delete with the frontend's bodies (frontend-payloads.md
//! §6: every trap), USER visibility, other orgs' ids, comments and attachments, assignment
//! e-mails, the dashboard's task figures and the daily reminder.

use axum::http::StatusCode;
use crm::jobs::{Job, Worker, WorkerOptions, queue};
use crm::mail::Mailer;
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::comments::record;

/// What the frontend's tasks page reads of each task (frontend-api.md), plus upstream's keys.
const TASK_KEYS: &[&str] = &[
    "id",
    "title",
    "status",
    "priority",
    "due_date",
    "description",
    "account",
    "opportunity",
    "case",
    "lead",
    "created_by",
    "created_at",
    "updated_at",
    "contacts",
    "teams",
    "assigned_to",
    "tags",
];

/// The frontend's create/update body (tasks page `?/create`, `?/update`): every key, empties as
/// null, all four parents present.
fn frontend_body(title: &str, assigned: &[Uuid], account: Option<Uuid>) -> Value {
    json!({
        "title": title, "description": null, "status": "New", "priority": "Medium", "due_date": null,
        "assigned_to": assigned, "contacts": [], "teams": [], "tags": [],
        "account": account, "opportunity": null, "case": null, "lead": null,
    })
}

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/tasks/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Task Created Successfully");
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn n(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn tag(app: &TestApp, who: &TestUser, name: &str) -> Uuid {
    let res = app
        .post(
            "/api/tags/",
            Some(&who.access),
            &json!({"name": name, "color": "blue"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["tag"]["id"].as_str().unwrap().parse().unwrap()
}

async fn team(app: &TestApp, who: &TestUser, name: &str, members: &[Uuid]) -> Uuid {
    let res = app
        .post(
            "/api/teams/",
            Some(&who.access),
            &json!({"name": name, "description": "d", "users": members}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let id: Uuid = sqlx::query_scalar("SELECT id FROM teams WHERE name = $1")
        .bind(name)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    id
}

fn titles(res: &TestResponse) -> Vec<String> {
    res.body["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", res.text))
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn tasks_list_has_the_keys_the_frontend_reads() {
    let app = TestApp::new().await;
    let admin = app.admin("t-admin@example.com").await;
    let user = app.member(admin.org_id, "t-user@example.com", "USER").await;
    let account = record(&app, "accounts", admin.org_id, admin.user_id).await;
    let contact = record(&app, "contacts", admin.org_id, admin.user_id).await;
    let tg = tag(&app, &admin, "Urgent").await;
    let tm = team(&app, &admin, "Ops", &[user.profile_id]).await;
    let mut body = frontend_body("Call Acme", &[user.profile_id], Some(account));
    body["contacts"] = json!([contact]);
    body["teams"] = json!([tm]);
    body["tags"] = json!([tg]);
    body["due_date"] = json!("2026-12-24");
    body["description"] = json!("About the renewal");
    let id = create(&app, &admin, body).await;

    let res = app
        .get(
            "/api/tasks/?limit=10&offset=0&ordering=-created_at",
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in [
        "tasks",
        "tasks_count",
        "offset",
        "status",
        "priority",
        "accounts_list",
        "contacts_list",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(res.body["tasks_count"], 1);
    assert_eq!(res.body["offset"], Value::Null, "last page");
    assert_eq!(res.body["status"][1], json!(["In Progress", "In Progress"]));
    assert_eq!(res.body["priority"][0], json!(["Low", "Low"]));
    let t = &res.body["tasks"][0];
    let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = TASK_KEYS.to_vec();
    keys.sort();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(t["id"], json!(id));
    assert_eq!(t["due_date"], "2026-12-24", "YYYY-MM-DD, re-sent as is");
    assert_eq!(t["account"], json!({"id": account, "name": "Acme"}));
    assert_eq!(t["opportunity"], Value::Null);
    assert_eq!(t["assigned_to"][0]["id"], json!(user.profile_id));
    assert_eq!(
        t["assigned_to"][0]["user_details"]["email"],
        "t-user@example.com"
    );
    assert_eq!(t["contacts"][0]["id"], json!(contact));
    assert_eq!(t["contacts"][0]["first_name"], "Ann");
    assert_eq!(t["teams"][0]["name"], "Ops");
    assert_eq!(t["tags"][0]["name"], "Urgent");
    assert_eq!(t["created_by"]["email"], "t-admin@example.com");
    assert_eq!(
        res.body["accounts_list"],
        json!([{"id": account, "name": "Acme"}])
    );
    assert_eq!(res.body["contacts_list"][0]["id"], json!(contact));
}

#[tokio::test]
async fn tasks_create_accepts_the_frontend_body_upstream_refused() {
    let app = TestApp::new().await;
    let admin = app.admin("tc@example.com").await;
    let account = record(&app, "accounts", admin.org_id, admin.user_id).await;
    // Upstream counted the three null parents as set: 400 on every create from the UI.
    let mut body = frontend_body("From the drawer", &[], Some(account));
    // Unknown keys are ignored, `created_by` is not writable.
    body["org"] = json!(admin.org_id);
    body["created_by"] = json!(Uuid::new_v4());
    let id = create(&app, &admin, body).await;
    let (acc, by, desc): (Option<Uuid>, Option<Uuid>, Option<String>) =
        sqlx::query_as("SELECT account_id, created_by_id, description FROM task WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(acc, Some(account));
    assert_eq!(by, Some(admin.user_id));
    assert_eq!(desc, None);
    // With no parent at all (the create drawer has no parent pickers).
    create(&app, &admin, frontend_body("Plain", &[], None)).await;
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task WHERE org_id = $1",
            admin.org_id
        )
        .await,
        2
    );
}

#[tokio::test]
async fn tasks_validation_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("tv@example.com").await;
    let account = record(&app, "accounts", admin.org_id, admin.user_id).await;
    let lead = record(&app, "leads", admin.org_id, admin.user_id).await;
    let res = app
        .post(
            "/api/tasks/",
            Some(&admin.access),
            &json!({"title": "x".repeat(201), "status": "Done", "priority": "", "due_date": "24/12/2026",
                    "account": "nope", "tags": ["x"], "assigned_to": "bad"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], true);
    for f in [
        "title",
        "status",
        "priority",
        "due_date",
        "account",
        "tags",
        "assigned_to",
    ] {
        assert!(res.body["errors"][f].is_array(), "{f}: {}", res.text);
    }
    let res = app
        .post(
            "/api/tasks/",
            Some(&admin.access),
            &json!({"description": "no title"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for f in ["title", "status", "priority"] {
        assert_eq!(res.body["errors"][f][0], "This field is required.", "{f}");
    }
    // Two parents: upstream's message, on the first one.
    let mut body = frontend_body("Two parents", &[], Some(account));
    body["lead"] = json!(lead);
    let res = app.post("/api/tasks/", Some(&admin.access), &body).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body["errors"]["account"][0],
        "A task can only be linked to one parent entity (Account, Opportunity, Case, or Lead). Currently set: account, lead"
    );
    // Titles are unique in the org, case-insensitively.
    create(&app, &admin, frontend_body("Call Bob", &[], None)).await;
    let res = app
        .post(
            "/api/tasks/",
            Some(&admin.access),
            &frontend_body("call BOB", &[], None),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body["errors"]["title"][0],
        "Task already exists with this title"
    );
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
}

/// Upstream: the serializer checked the body only, then `Task.save()` raised → 500.
#[tokio::test]
async fn tasks_patch_adding_a_second_parent_is_a_400_not_a_500() {
    let app = TestApp::new().await;
    let admin = app.admin("tp@example.com").await;
    let account = record(&app, "accounts", admin.org_id, admin.user_id).await;
    let opp = record(&app, "opportunities", admin.org_id, admin.user_id).await;
    let case = record(&app, "cases", admin.org_id, admin.user_id).await;
    let id = create(&app, &admin, frontend_body("Linked", &[], Some(account))).await;
    let path = format!("/api/tasks/{id}/");
    let res = app
        .patch(&path, Some(&admin.access), &json!({"opportunity": opp}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(
        res.body["errors"]["account"][0]
            .as_str()
            .unwrap()
            .ends_with("Currently set: account, opportunity")
    );
    // Moving it: the old parent cleared, the new one set, in one body.
    let res = app
        .patch(
            &path,
            Some(&admin.access),
            &json!({"account": null, "case": case}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let (a, c): (Option<Uuid>, Option<Uuid>) =
        sqlx::query_as("SELECT account_id, case_id FROM task WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!((a, c), (None, Some(case)));
    let res = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(
        res.body["tasks"][0]["case"],
        json!({"id": case, "name": "Broken"})
    );
}

#[tokio::test]
async fn tasks_frontend_edit_resends_everything() {
    let app = TestApp::new().await;
    let admin = app.admin("te@example.com").await;
    let user = app
        .member(admin.org_id, "te-user@example.com", "USER")
        .await;
    let tg = tag(&app, &admin, "Old").await;
    let mut body = frontend_body("Edit me", &[user.profile_id], None);
    body["tags"] = json!([tg]);
    body["due_date"] = json!("2026-12-01");
    let id = create(&app, &admin, body).await;
    // The tag gets archived and the assignee deactivated: the UI re-sends both on every edit.
    sqlx::query("UPDATE tags SET is_active = false WHERE id = $1")
        .bind(tg)
        .execute(&app.db.admin)
        .await
        .unwrap();
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(user.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let list = app.get("/api/tasks/", Some(&admin.access)).await;
    let row = list.body["tasks"][0].clone();
    let ids = |k: &str| -> Value {
        json!(
            row[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].clone())
                .collect::<Vec<_>>()
        )
    };
    // `?/update`: all keys from the list row, the unchanged title, three null parents.
    let body = json!({
        "title": row["title"], "description": "now with notes", "status": "In Progress",
        "priority": "High", "due_date": row["due_date"], "assigned_to": ids("assigned_to"),
        "contacts": ids("contacts"), "teams": ids("teams"), "tags": ids("tags"),
        "account": row["account"], "opportunity": null, "case": null, "lead": null,
    });
    let res = app
        .patch(&format!("/api/tasks/{id}/"), Some(&admin.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Task updated Successfully");
    let (status, due): (String, Option<chrono::NaiveDate>) =
        sqlx::query_as("SELECT status, due_date FROM task WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(status, "In Progress");
    assert_eq!(due.unwrap().to_string(), "2026-12-01");
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task_tags WHERE task_id = $1",
            id
        )
        .await,
        1,
        "archived tag kept"
    );
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task_assigned_to WHERE task_id = $1",
            id
        )
        .await,
        1,
        "inactive assignee kept"
    );
    // Whole objects re-sent, and a member's user id where a profile id belongs.
    let res = app
        .patch(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &json!({"tags": row["tags"], "assigned_to": [admin.user_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let p: Uuid = sqlx::query_scalar("SELECT profile_id FROM task_assigned_to WHERE task_id = $1")
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(p, admin.profile_id);
    // PUT requires the required fields and empties absent lists.
    let res = app
        .put(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &json!({"title": "Edit me"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let res = app
        .put(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &json!({"title": "Edit me", "status": "New", "priority": "Low"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task_tags WHERE task_id = $1",
            id
        )
        .await,
        0
    );
}

/// Upstream: a USER who created a task but is not assigned got 403 on complete/reopen (which
/// the UI hides), PUT had no permission check at all and let anyone rewrite `created_by`.
#[tokio::test]
async fn tasks_user_visibility_put_is_checked_creator_may_complete_upstream_403_500() {
    let app = TestApp::new().await;
    let admin = app.admin("tu-admin@example.com").await;
    let user = app
        .member(admin.org_id, "tu-user@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "tu-other@example.com", "USER")
        .await;
    let mate = app
        .member(admin.org_id, "tu-mate@example.com", "USER")
        .await;
    let tm = team(&app, &admin, "Field", &[mate.profile_id]).await;
    create(&app, &admin, frontend_body("Hidden", &[], None)).await;
    let assigned = create(
        &app,
        &admin,
        frontend_body("Assigned", &[user.profile_id], None),
    )
    .await;
    let mut body = frontend_body("Team task", &[], None);
    body["teams"] = json!([tm]);
    let team_task = create(&app, &admin, body).await;
    let own = create(&app, &user, frontend_body("Own", &[], None)).await;

    let res = app.get("/api/tasks/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(sorted(titles(&res)), ["Assigned", "Own"]);
    assert_eq!(res.body["tasks_count"], 2);
    let res = app.get("/api/tasks/", Some(&mate.access)).await;
    assert_eq!(titles(&res), ["Team task"]);
    let res = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(res.body["tasks_count"], 4);

    // Complete and reopen, as the creator who is not assigned.
    for status in ["Completed", "New"] {
        let res = app
            .patch(
                &format!("/api/tasks/{own}/"),
                Some(&user.access),
                &json!({"status": status}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    // The assignee may see the detail (upstream: 500 for every non-admin).
    let res = app
        .get(&format!("/api/tasks/{assigned}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/tasks/{team_task}/"),
            Some(&mate.access),
            &json!({"status": "In Progress"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // A stranger to the task: 403 everywhere, PUT included, nothing written.
    let path = format!("/api/tasks/{own}/");
    let full =
        json!({"title": "Taken", "status": "New", "priority": "Low", "created_by": other.user_id});
    assert_eq!(
        app.put(&path, Some(&other.access), &full).await.status,
        StatusCode::FORBIDDEN
    );
    let res = app
        .patch(&path, Some(&other.access), &json!({"status": "Completed"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(
        res.body["errors"],
        "You don't have Permission to perform this action"
    );
    assert_eq!(
        app.get(&path, Some(&other.access)).await.status,
        StatusCode::FORBIDDEN
    );
    let (title, by): (String, Uuid) =
        sqlx::query_as("SELECT title, created_by_id FROM task WHERE id = $1")
            .bind(own)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!((title.as_str(), by), ("Own", user.user_id));
    // The creator's PUT cannot hand the task to someone else either.
    let res = app.put(&path, Some(&user.access), &full).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let by: Uuid = sqlx::query_scalar("SELECT created_by_id FROM task WHERE id = $1")
        .bind(own)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(by, user.user_id);
    // Delete: admin or creator; an assignee may not.
    let res = app
        .delete(&format!("/api/tasks/{assigned}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(
        res.body["errors"],
        "you don't have permission to delete this task"
    );
    let res = app.delete(&path, Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Task deleted Successfully");
    let res = app
        .delete(&format!("/api/tasks/{assigned}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // The admin's unfiltered count comes from the per-org row counter.
    let res = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(res.body["tasks_count"], 2, "{}", res.text);
}

#[tokio::test]
async fn tasks_other_orgs_ids_are_404_in_path_and_400_in_body() {
    let app = TestApp::new().await;
    let admin = app.admin("to-a@example.com").await;
    let stranger = app.admin("to-b@example.com").await;
    let theirs = create(&app, &stranger, frontend_body("Theirs", &[], None)).await;
    let mine = create(&app, &admin, frontend_body("Mine", &[], None)).await;
    let their_tag = tag(&app, &stranger, "Their tag").await;

    let path = format!("/api/tasks/{theirs}/");
    assert_eq!(
        app.get(&path, Some(&admin.access)).await.status,
        StatusCode::NOT_FOUND
    );
    for res in [
        app.patch(&path, Some(&admin.access), &json!({"title": "Hijack"}))
            .await,
        app.put(
            &path,
            Some(&admin.access),
            &json!({"title": "Hijack", "status": "New", "priority": "Low"}),
        )
        .await,
        app.delete(&path, Some(&admin.access)).await,
        app.post(&path, Some(&admin.access), &json!({"comment": "hi"}))
            .await,
        app.get("/api/tasks/not-a-uuid/", Some(&admin.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }

    let my_path = format!("/api/tasks/{mine}/");
    let mut bodies = vec![
        json!({"tags": [their_tag]}),
        json!({"assigned_to": [stranger.profile_id]}),
        json!({"assigned_to": [stranger.user_id]}),
        json!({"teams": [Uuid::new_v4()]}),
    ];
    for (key, module) in [
        ("account", "accounts"),
        ("opportunity", "opportunities"),
        ("case", "cases"),
        ("lead", "leads"),
        ("contacts", "contacts"),
    ] {
        let id = record(&app, module, stranger.org_id, stranger.user_id).await;
        let v = if key == "contacts" {
            json!([id])
        } else {
            json!(id)
        };
        bodies.push(json!({ key: v }));
    }
    for body in bodies {
        let res = app.patch(&my_path, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            res.body["errors"][&field][0]
                .as_str()
                .unwrap()
                .starts_with("Invalid pk"),
            "{}",
            res.text
        );
        // The same ids on create.
        let mut create_body = frontend_body("Sneaky", &[], None);
        for (k, v) in body.as_object().unwrap() {
            create_body[k] = v.clone();
        }
        let res = app
            .post("/api/tasks/", Some(&admin.access), &create_body)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
    }
    let title: String = sqlx::query_scalar("SELECT title FROM task WHERE id = $1")
        .bind(theirs)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(title, "Theirs");
    for table in [
        "task_tags",
        "task_assigned_to",
        "task_teams",
        "task_contacts",
    ] {
        let c: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE task_id = $1"
        )))
        .bind(mine)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(c, 0, "{table}");
    }
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task WHERE id = $1 AND account_id IS NULL AND opportunity_id IS NULL
             AND case_id IS NULL AND lead_id IS NULL",
            mine
        )
        .await,
        1
    );
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn tasks_filters_ordering_and_pagination() {
    let app = TestApp::new().await;
    let admin = app.admin("tf@example.com").await;
    let user = app
        .member(admin.org_id, "tf-user@example.com", "USER")
        .await;
    let tg = tag(&app, &admin, "Hot").await;
    let account = record(&app, "accounts", admin.org_id, admin.user_id).await;
    let rows = [
        ("Alpha", "New", "Low", "2026-12-01"),
        ("Bravo", "In Progress", "High", "2026-12-05"),
        ("Charlie", "Completed", "Medium", "2026-12-10"),
        ("Delta", "In Progress", "Medium", "2026-12-15"),
        ("Echo", "New", "High", "2026-12-20"),
    ];
    for (i, (title, status, priority, due)) in rows.iter().enumerate() {
        let mut body = frontend_body(title, &[], None);
        body["status"] = json!(status);
        body["priority"] = json!(priority);
        body["due_date"] = json!(due);
        if i % 2 == 0 {
            body["tags"] = json!([tg]);
        }
        if i == 1 {
            body["assigned_to"] = json!([user.profile_id]);
            body["account"] = json!(account);
            body["description"] = json!("needs a quote");
        }
        create(&app, &admin, body).await;
    }
    let get = |q: &str| {
        let path = format!("/api/tasks/?{q}");
        let token = admin.access.clone();
        let app = &app;
        async move { app.get(&path, Some(&token)).await }
    };
    let res = get("ordering=due_date&limit=2&offset=2").await;
    assert_eq!(titles(&res), ["Charlie", "Delta"]);
    assert_eq!(res.body["offset"], 4);
    assert_eq!(res.body["tasks_count"], 5);
    let res = get("ordering=-due_date&limit=2&offset=4").await;
    assert_eq!(titles(&res), ["Alpha"]);
    assert_eq!(res.body["offset"], Value::Null);
    // Spaces arrive as `+` (URLSearchParams).
    let res = get("status=In+Progress&ordering=title").await;
    assert_eq!(titles(&res), ["Bravo", "Delta"]);
    let res = get("priority=High&ordering=title").await;
    assert_eq!(titles(&res), ["Bravo", "Echo"]);
    let res = get(&format!("assigned_to={}", user.profile_id)).await;
    assert_eq!(titles(&res), ["Bravo"]);
    let res = get(&format!("tags={tg}&ordering=title")).await;
    assert_eq!(titles(&res), ["Alpha", "Charlie", "Echo"]);
    let res = get("due_date__gte=2026-12-05&due_date__lte=2026-12-15&ordering=due_date").await;
    assert_eq!(titles(&res), ["Bravo", "Charlie", "Delta"]);
    let res = get("search=QUOTE").await;
    assert_eq!(titles(&res), ["Bravo"]);
    let res = get("search=elt").await;
    assert_eq!(titles(&res), ["Delta"]);
    let res = get(&format!("account={account}")).await;
    assert_eq!(titles(&res), ["Bravo"]);
    // The frontend's whole query string at once.
    let res = get(&format!(
        "limit=10&offset=0&ordering=-created_at&search=a&status=New&priority=Low&assigned_to=&tags={tg}&due_date__gte=2026-11-01&due_date__lte=2026-12-31"
    ))
    .await;
    assert_eq!(titles(&res), ["Alpha"]);
    let today = chrono::Utc::now().date_naive();
    let res = get(&format!("created_at__gte={today}&created_at__lte={today}")).await;
    assert_eq!(res.body["tasks_count"], 5);
    for (q, key) in [
        ("due_date__gte=notadate", "due_date__gte"),
        ("due_date__lte=2026-13-01", "due_date__lte"),
        ("created_at__lte=x", "created_at__lte"),
        ("tags=xyz", "tags"),
        ("assigned_to=1,2", "assigned_to"),
        ("account=x", "account"),
        ("lead=x", "lead"),
    ] {
        let res = get(q).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}: {}", res.text);
        assert!(res.body[key].is_array(), "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn tasks_detail_comments_attachments_and_delete_cascades() {
    let app = TestApp::new().await;
    let admin = app.admin("td@example.com").await;
    let user = app
        .member(admin.org_id, "td-user@example.com", "USER")
        .await;
    let tg = tag(&app, &admin, "Det").await;
    let mut body = frontend_body("Detail", &[user.profile_id], None);
    body["tags"] = json!([tg]);
    let id = create(&app, &admin, body).await;
    let res = app
        .post(
            &format!("/api/tasks/{id}/"),
            Some(&user.access),
            &json!({"comment": "On it"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["comments"][0]["comment"], "On it");
    let res = app
        .post(
            &format!("/api/tasks/comment/{id}/"),
            Some(&admin.access),
            &json!({"comment": "Thanks"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let res = app
        .get(&format!("/api/tasks/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in [
        "task_obj",
        "comments",
        "attachments",
        "users_mention",
        "assigned_data",
        "users",
        "users_excluding_team",
        "teams",
        "status",
        "priority",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}: {}", res.text);
    }
    assert_eq!(res.body["task_obj"]["id"], json!(id));
    assert_eq!(res.body["task_obj"]["tags"][0]["name"], "Det");
    assert_eq!(res.body["comments"].as_array().unwrap().len(), 2);
    assert_eq!(
        res.body["assigned_data"],
        json!([{"id": user.profile_id, "user__email": "td-user@example.com"}])
    );
    assert_eq!(res.body["users"].as_array().unwrap().len(), 2);
    // A USER's detail: the mention list is the assignees, `users` the admins.
    let res = app
        .get(&format!("/api/tasks/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["users_mention"],
        json!([{"user__email": "td-user@example.com"}])
    );
    assert_eq!(
        res.body["users"][0]["user_details"]["email"],
        "td@example.com"
    );

    let res = app
        .delete(&format!("/api/tasks/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for sql in [
        "SELECT count(*) FROM task WHERE id = $1",
        "SELECT count(*) FROM task_assigned_to WHERE task_id = $1",
        "SELECT count(*) FROM task_tags WHERE task_id = $1",
        "SELECT count(*) FROM comment WHERE object_id = $1",
    ] {
        assert_eq!(n(&app, sql, id).await, 0, "{sql}");
    }
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND entity_type = 'Task'",
            id
        )
        .await,
        // create, two comments, delete
        4
    );
    assert_eq!(
        app.get(&format!("/api/tasks/{id}/"), Some(&admin.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tasks_assignment_emails_on_create_and_for_new_assignees_only() {
    let app = TestApp::new().await;
    let admin = app.admin("tm@example.com").await;
    let ann = app.member(admin.org_id, "ann@example.com", "USER").await;
    let bob = app.member(admin.org_id, "bob@example.com", "USER").await;
    let mails = || async {
        let to: Vec<String> = sqlx::query_scalar(
            "SELECT payload->>'to' FROM jobs WHERE kind = 'email' AND payload->>'template' = 'assignment'
             AND payload->'context'->>'module' = 'Task' ORDER BY created_at, payload->>'to'",
        )
        .fetch_all(&app.db.admin)
        .await
        .unwrap();
        to
    };
    // The creator assigning themself gets nothing.
    let id = create(
        &app,
        &admin,
        frontend_body("Mail", &[ann.profile_id, admin.profile_id], None),
    )
    .await;
    assert_eq!(mails().await, ["ann@example.com"]);
    // The frontend's edit re-sends Ann: only Bob is new.
    let res = app
        .patch(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &frontend_body("Mail", &[ann.profile_id, bob.profile_id], None),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(mails().await, ["ann@example.com", "bob@example.com"]);
    let ctx: Value = sqlx::query_scalar(
        "SELECT payload->'context' FROM jobs WHERE payload->>'to' = 'bob@example.com'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(ctx["name"], "Mail");
    assert_eq!(ctx["path"], "/tasks");
    // A rejected write queues nothing.
    let res = app
        .patch(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &json!({"assigned_to": [admin.profile_id, ann.profile_id, bob.profile_id], "status": "Nope"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(mails().await.len(), 2);
}

#[tokio::test]
async fn tasks_dashboard_my_tasks_and_counts_read_real_tasks() {
    let app = TestApp::new().await;
    let admin = app.admin("tb@example.com").await;
    let user = app
        .member(admin.org_id, "tb-user@example.com", "USER")
        .await;
    let today = chrono::Utc::now().date_naive();
    let day = |d: i64| (today + chrono::Duration::days(d)).to_string();
    let mut ids = Vec::new();
    for (title, due, who) in [
        ("Late", day(-2), &[user.profile_id][..]),
        ("Today", day(0), &[user.profile_id][..]),
        ("Later", day(3), &[][..]),
        ("Admin today", day(0), &[][..]),
    ] {
        let mut body = frontend_body(title, who, None);
        body["due_date"] = json!(due);
        ids.push(create(&app, &admin, body).await);
    }
    let res = app.get("/api/dashboard/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["urgent_counts"]["overdue_tasks"], 1);
    assert_eq!(res.body["urgent_counts"]["tasks_due_today"], 2);
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(res.body["urgent_counts"]["overdue_tasks"], 1);
    assert_eq!(res.body["urgent_counts"]["tasks_due_today"], 1);
    let tasks = res.body["tasks"].as_array().unwrap();
    let titles: Vec<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Late", "Today"]);
    // "My Tasks" compares `assigned_to` with the JWT user_id.
    assert_eq!(tasks[0]["assigned_to"], json!([user.user_id]));
    for k in [
        "id",
        "title",
        "status",
        "priority",
        "due_date",
        "assigned_to",
    ] {
        assert!(tasks[0].get(k).is_some(), "{k}");
    }
    // Completing through the API takes it off the counts.
    let res = app
        .patch(
            &format!("/api/tasks/{}/", ids[0]),
            Some(&user.access),
            &json!({"status": "Completed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(res.body["urgent_counts"]["overdue_tasks"], 0);
    assert_eq!(res.body["tasks"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tasks_daily_reminder_once_per_task_per_day() {
    let app = TestApp::new().await;
    let admin = app.admin("tr@example.com").await;
    let ann = app.member(admin.org_id, "tr-ann@example.com", "USER").await;
    let bob = app.member(admin.org_id, "tr-bob@example.com", "USER").await;
    let other_org = app.admin("tr-other@example.com").await;
    let today = chrono::Utc::now().date_naive();
    let day = |d: i64| (today + chrono::Duration::days(d)).to_string();
    for (title, due, status, who) in [
        ("Overdue", day(-3), "New", vec![ann.profile_id]),
        (
            "Due today",
            day(0),
            "In Progress",
            vec![ann.profile_id, bob.profile_id],
        ),
        ("Tomorrow", day(1), "New", vec![ann.profile_id]),
        ("Done late", day(-1), "Completed", vec![bob.profile_id]),
    ] {
        let mut body = frontend_body(title, &who, None);
        body["due_date"] = json!(due);
        body["status"] = json!(status);
        create(&app, &admin, body).await;
    }
    let mut body = frontend_body("Other org", &[other_org.profile_id], None);
    body["due_date"] = json!(day(0));
    create(&app, &other_org, body).await;
    // Assignment e-mails are not what this test counts.
    sqlx::query("DELETE FROM jobs")
        .execute(&app.db.admin)
        .await
        .unwrap();

    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    let worker = Worker::new(app.db.app.clone(), WorkerOptions::default(), mailer);
    let reminders = || async {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT to_addr, subject FROM mail_outbox WHERE subject LIKE 'Overdue:%' OR subject LIKE 'Due today:%'
             ORDER BY to_addr, subject",
        )
        .fetch_all(&app.db.admin)
        .await
        .unwrap();
        rows
    };
    for _ in 0..2 {
        // As the schedule fires it: one job per org.
        let mut conn = app.db.admin.acquire().await.unwrap();
        queue::insert(&mut conn, Some(admin.org_id), &Job::TaskReminders, None)
            .await
            .unwrap();
        drop(conn);
        worker.drain().await.unwrap();
    }
    let want: Vec<(String, String)> = [
        ("tr-ann@example.com", "Due today: Due today"),
        ("tr-ann@example.com", "Overdue: Overdue"),
        ("tr-bob@example.com", "Due today: Due today"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(
        reminders().await,
        want,
        "run twice: one e-mail per task and assignee"
    );
    assert_eq!(
        n(
            &app,
            "SELECT count(*) FROM task_reminder WHERE org_id = $1",
            admin.org_id
        )
        .await,
        3
    );
    // The schedule exists and fires per org.
    let s = crm::jobs::schedule::SCHEDULES
        .iter()
        .find(|s| s.name == "task_reminders")
        .unwrap();
    assert!(s.per_org);
    assert_eq!((s.job)(), Job::TaskReminders);
}

/// The tasks page's lead picker reads `leads` or `results` of `/api/leads/` (upstream has
/// neither: the picker was always empty).
#[tokio::test]
async fn tasks_lead_picker_reads_results_of_the_leads_list() {
    let app = TestApp::new().await;
    let admin = app.admin("tl@example.com").await;
    let lead = record(&app, "leads", admin.org_id, admin.user_id).await;
    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["results"][0]["id"], json!(lead));
    assert_eq!(res.body["results"], res.body["open_leads"]["open_leads"]);
    // And a task linked to it shows the lead's name.
    let mut body = frontend_body("Follow up", &[], None);
    body["lead"] = json!(lead);
    create(&app, &admin, body).await;
    let res = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(
        res.body["tasks"][0]["lead"],
        json!({"id": lead, "name": "Big deal"})
    );
}

#[tokio::test]
async fn tasks_list_is_cached_until_a_write() {
    let app = TestApp::new().await;
    let admin = app.admin("tk@example.com").await;
    let id = create(&app, &admin, frontend_body("Cache", &[], None)).await;
    let first = app.get("/api/tasks/", Some(&admin.access)).await;
    let second = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(first.text, second.text, "served from the cache");
    let res = app
        .patch(
            &format!("/api/tasks/{id}/"),
            Some(&admin.access),
            &json!({"status": "Completed"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let third = app.get("/api/tasks/", Some(&admin.access)).await;
    assert_eq!(third.body["tasks"][0]["status"], "Completed");
}
