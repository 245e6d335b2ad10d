//! Comments and attachments, mounted once for every module.

use axum::http::{Method, StatusCode, header};
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::documents::{PDF, PNG, send_multipart, stored_files};

/// Inserts a record of `module` in `org`, created by `creator`, with every NOT NULL column.
pub async fn record(app: &TestApp, module: &str, org: Uuid, creator: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    let sql = match module {
        "leads" => "INSERT INTO lead (created_at, updated_at, id, title, is_active, org_id, created_by_id)
                    VALUES (now(), now(), $1, 'Big deal', true, $2, $3)",
        "accounts" => "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id, created_by_id)
                       VALUES (now(), now(), $1, 'Acme', true, $2, $3)",
        "contacts" => "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, do_not_call, is_active, org_id, created_by_id)
                       VALUES (now(), now(), $1, 'Ann', 'Lee', false, true, $2, $3)",
        "opportunities" => "INSERT INTO opportunity (created_at, updated_at, id, name, stage, is_active, org_id, amount_source, created_by_id)
                            VALUES (now(), now(), $1, 'Renewal', 'PROSPECTING', true, $2, 'MANUAL', $3)",
        "cases" => "INSERT INTO \"case\" (created_at, updated_at, id, name, status, priority, is_active, org_id,
                                         sla_first_response_hours, sla_resolution_hours, created_by_id)
                    VALUES (now(), now(), $1, 'Broken', 'New', 'Normal', true, $2, 4, 24, $3)",
        "tasks" => "INSERT INTO task (created_at, updated_at, id, title, status, priority, org_id, created_by_id)
                    VALUES (now(), now(), $1, 'Call', 'New', 'Medium', $2, $3)",
        _ => unreachable!(),
    };
    sqlx::query(sql)
        .bind(id)
        .bind(org)
        .bind(creator)
        .execute(&app.db.admin)
        .await
        .unwrap();
    id
}

/// (join table of assignees, its column for the record) per module.
fn assignees(module: &str) -> (&'static str, &'static str, &'static str) {
    match module {
        "leads" => ("lead_assigned_to", "lead_teams", "lead_id"),
        "accounts" => ("accounts_assigned_to", "accounts_teams", "account_id"),
        "contacts" => ("contacts_assigned_to", "contacts_teams", "contact_id"),
        "opportunities" => (
            "opportunity_assigned_to",
            "opportunity_teams",
            "opportunity_id",
        ),
        "cases" => ("case_assigned_to", "case_teams", "case_id"),
        "tasks" => ("task_assigned_to", "task_teams", "task_id"),
        _ => unreachable!(),
    }
}

async fn assign(app: &TestApp, module: &str, id: Uuid, profile: Uuid) {
    let (table, _, col) = assignees(module);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} ({col}, profile_id) VALUES ($1, $2)"
    )))
    .bind(id)
    .bind(profile)
    .execute(&app.db.admin)
    .await
    .unwrap();
}

async fn comment(app: &TestApp, who: &TestUser, module: &str, id: Uuid, text: &str) -> Value {
    let res = app
        .post(
            &format!("/api/{module}/comment/{id}/"),
            Some(&who.access),
            &json!({"comment": text}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{module}: {}", res.text);
    res.body
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

const MODULES: [&str; 6] = [
    "leads",
    "accounts",
    "contacts",
    "opportunities",
    "cases",
    "tasks",
];

#[tokio::test]
async fn every_module_mounts_comments_with_its_visibility_rule() {
    let app = TestApp::new().await;
    let admin = app.admin("c-admin@example.com").await;
    let user = app.member(admin.org_id, "c-user@example.com", "USER").await;
    let mate = app.member(admin.org_id, "c-mate@example.com", "USER").await;
    for module in MODULES {
        let id = record(&app, module, admin.org_id, admin.user_id).await;
        let body = comment(&app, &admin, module, id, "First!").await;
        assert_eq!(body["message"], "Comment Submitted");
        let c = &body["comment"];
        assert_eq!(
            keys(c),
            [
                "comment",
                "commented_by",
                "commented_on",
                "content_type",
                "created_at",
                "id",
                "object_id",
                "org"
            ]
        );
        assert_eq!(c["commented_by"], admin.profile_id.to_string());
        assert_eq!(c["object_id"], id.to_string());
        assert_eq!(c["org"], admin.org_id.to_string());

        // A USER who is not the creator, an assignee or in a team of the record: 404.
        let path = format!("/api/{module}/comment/{id}/");
        let res = app.get(&path, Some(&user.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{module}");
        let res = app
            .post(&path, Some(&user.access), &json!({"comment": "hi"}))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{module}");

        // Assigned directly: may read and comment.
        assign(&app, module, id, user.profile_id).await;
        comment(&app, &user, module, id, "On it").await;
        let res = app.get(&path, Some(&user.access)).await;
        assert_eq!(res.status, StatusCode::OK, "{module}: {}", res.text);
        assert_eq!(res.body["comments_count"], 2);
        assert_eq!(res.body["comments"][0]["comment"], "On it", "newest first");
        assert_eq!(res.body["comments"][1]["content_type"], c["content_type"]);

        // Through a team of the record.
        let team = Uuid::new_v4();
        sqlx::query("INSERT INTO teams (created_at, updated_at, id, name, description, org_id) VALUES (now(), now(), $1, $2, '', $3)")
            .bind(team)
            .bind(format!("T {module}"))
            .bind(admin.org_id)
            .execute(&app.db.admin)
            .await
            .unwrap();
        sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
            .bind(team)
            .bind(mate.profile_id)
            .execute(&app.db.admin)
            .await
            .unwrap();
        assert_eq!(
            app.get(&path, Some(&mate.access)).await.status,
            StatusCode::NOT_FOUND
        );
        let (_, teams_table, col) = assignees(module);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {teams_table} ({col}, teams_id) VALUES ($1, $2)"
        )))
        .bind(id)
        .bind(team)
        .execute(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(
            app.get(&path, Some(&mate.access)).await.status,
            StatusCode::OK,
            "{module}"
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM activity WHERE action = 'COMMENT'")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 12);
}

#[tokio::test]
async fn comments_are_edited_and_deleted_by_their_author_or_an_admin() {
    let app = TestApp::new().await;
    let admin = app.admin("e-admin@example.com").await;
    let user = app.member(admin.org_id, "e-user@example.com", "USER").await;
    let other = app
        .member(admin.org_id, "e-other@example.com", "USER")
        .await;
    let lead = record(&app, "leads", admin.org_id, user.user_id).await;
    assign(&app, "leads", lead, other.profile_id).await;
    let mine =
        comment(&app, &user, "leads", lead, "Mine @e-other@example.com").await["comment"]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let path = format!("/api/leads/comment/{mine}/");

    let res = app
        .put(&path, Some(&user.access), &json!({"comment": "Edited"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Comment Submitted"})
    );
    let res = app
        .patch(&path, Some(&user.access), &json!({"comment": "Patched"}))
        .await;
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Comment Updated"})
    );
    // Authorship, record and org are not writable.
    let res = app
        .patch(
            &path,
            Some(&user.access),
            &json!({"commented_by": admin.profile_id, "object_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);

    let denied =
        json!({"error": true, "errors": "You don't have permission to perform this action"});
    for res in [
        app.put(&path, Some(&other.access), &json!({"comment": "Hijack"}))
            .await,
        app.delete(&path, Some(&other.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert_eq!(res.body, denied);
    }
    let (text, by, object): (String, Uuid, Uuid) = sqlx::query_as(
        "SELECT comment, commented_by_id, object_id FROM comment WHERE id = $1::uuid",
    )
    .bind(&mine)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        (text.as_str(), by, object),
        ("Patched", user.profile_id, lead)
    );

    // Bad input: 400 in upstream's envelope, nothing written.
    for (body, msg) in [
        (json!({}), "This field is required."),
        (json!({"comment": "  "}), "This field may not be blank."),
        (
            json!({"comment": "x".repeat(256)}),
            "Ensure this field has no more than 255 characters.",
        ),
    ] {
        let res = app.put(&path, Some(&user.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            res.body,
            json!({"error": true, "errors": {"comment": [msg]}})
        );
        let res = app
            .post(
                &format!("/api/leads/comment/{lead}/"),
                Some(&user.access),
                &body,
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM comment")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // An admin may delete anyone's comment. A comment id under another module is a 404.
    let res = app
        .delete(
            &format!("/api/accounts/comment/{mine}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.delete(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Comment Deleted Successfully"})
    );
    let res = app.delete(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn comments_and_attachments_of_another_org_are_404_and_unchanged() {
    let app = TestApp::new().await;
    let a = app.admin("ca@example.com").await;
    let b = app.admin("cb@example.com").await;
    let task = record(&app, "tasks", a.org_id, a.user_id).await;
    let cid = comment(&app, &a, "tasks", task, "Secret").await["comment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = send_multipart(
        &app,
        Method::POST,
        &format!("/api/tasks/attachment/{task}/"),
        &a.access,
        &[],
        &[("attachment", "a.pdf", PDF)],
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let aid = res.body["attachments"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for res in [
        app.get(&format!("/api/tasks/comment/{task}/"), Some(&b.access))
            .await,
        app.post(
            &format!("/api/tasks/comment/{task}/"),
            Some(&b.access),
            &json!({"comment": "x"}),
        )
        .await,
        app.put(
            &format!("/api/tasks/comment/{cid}/"),
            Some(&b.access),
            &json!({"comment": "x"}),
        )
        .await,
        app.patch(
            &format!("/api/tasks/comment/{cid}/"),
            Some(&b.access),
            &json!({"comment": "x"}),
        )
        .await,
        app.delete(&format!("/api/tasks/comment/{cid}/"), Some(&b.access))
            .await,
        app.get(&format!("/api/tasks/attachment/{task}/"), Some(&b.access))
            .await,
        app.delete(&format!("/api/tasks/attachment/{aid}/"), Some(&b.access))
            .await,
        app.get(
            &format!("/api/tasks/attachment/{aid}/download/"),
            Some(&b.access),
        )
        .await,
        send_multipart(
            &app,
            Method::POST,
            &format!("/api/tasks/attachment/{task}/"),
            &b.access,
            &[],
            &[("attachment", "b.pdf", PDF)],
        )
        .await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert_eq!(res.body, json!({"detail": "Not found."}));
    }
    let (text,): (String,) = sqlx::query_as("SELECT comment FROM comment WHERE id = $1::uuid")
        .bind(&cid)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(text, "Secret");
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM attachments")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(stored_files(&app).len(), 1);
    // Non-UUID ids are 404 too.
    let res = app.get("/api/tasks/comment/nope/", Some(&a.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn attachments_upload_list_download_delete() {
    let app = TestApp::new().await;
    let admin = app.admin("att-admin@example.com").await;
    let user = app
        .member(admin.org_id, "att-user@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "att-other@example.com", "USER")
        .await;
    let account = record(&app, "accounts", admin.org_id, user.user_id).await;
    assign(&app, "accounts", account, other.profile_id).await;
    let path = format!("/api/accounts/attachment/{account}/");

    let res = send_multipart(
        &app,
        Method::POST,
        &path,
        &user.access,
        &[],
        &[
            ("account_attachment", "logo.png", PNG),
            ("attachment", "terms.pdf", PDF),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["error"], false);
    let first = &res.body["attachments"][0];
    assert_eq!(
        keys(first),
        [
            "content_type",
            "created_at",
            "created_by",
            "file_name",
            "file_path",
            "id",
            "object_id",
            "org"
        ]
    );
    assert_eq!(first["file_name"], "logo.png");
    assert_eq!(first["content_type"], "account");
    assert_eq!(first["created_by"], user.user_id.to_string());
    let png_id = first["id"].as_str().unwrap().to_string();
    let file_path = first["file_path"].as_str().unwrap();
    assert!(file_path.ends_with(&format!("/api/accounts/attachment/{png_id}/download/")));
    let files = stored_files(&app);
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.starts_with("attachments/")));

    let res = app.get(&path, Some(&other.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["attachments_count"], 2);
    let res = app
        .get(
            &format!("/api/accounts/attachment/{png_id}/download/"),
            Some(&other.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        res.text.as_bytes(),
        &String::from_utf8_lossy(PNG).into_owned().into_bytes()[..]
    );

    // A member who cannot see the account can neither list nor download.
    let outsider = app
        .member(admin.org_id, "att-out@example.com", "USER")
        .await;
    for p in [
        path.clone(),
        format!("/api/accounts/attachment/{png_id}/download/"),
    ] {
        assert_eq!(
            app.get(&p, Some(&outsider.access)).await.status,
            StatusCode::NOT_FOUND
        );
    }

    // Only the uploader or an admin deletes; the stored file goes too.
    let del = format!("/api/accounts/attachment/{png_id}/");
    let res = app.delete(&del, Some(&other.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "You don't have permission to delete this Attachment"})
    );
    let res = app.delete(&del, Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Attachment Deleted Successfully"})
    );
    assert_eq!(stored_files(&app).len(), 1);

    // No file, a forbidden type: 400; nothing stored.
    let res = send_multipart(&app, Method::POST, &path, &user.access, &[("x", "y")], &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"attachment": ["No file was submitted."]}})
    );
    let res = send_multipart(
        &app,
        Method::POST,
        &path,
        &user.access,
        &[],
        &[(
            "attachment",
            "x.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>",
        )],
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(stored_files(&app).len(), 1);
}

#[tokio::test]
async fn attachments_over_the_limit_are_413() {
    let app = TestApp::with_config(|c| c.upload_max_bytes = 100).await;
    let admin = app.admin("att-limit@example.com").await;
    let lead = record(&app, "leads", admin.org_id, admin.user_id).await;
    let res = send_multipart(
        &app,
        Method::POST,
        &format!("/api/leads/attachment/{lead}/"),
        &admin.access,
        &[],
        &[("lead_attachment", "big.txt", &[b'a'; 101])],
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.body,
        json!({"lead_attachment": ["The file is too large: the limit is 100 bytes."]})
    );
    assert!(stored_files(&app).is_empty());
}

/// How a module's detail handler uses the shared mechanism: upstream's `POST /api/<module>/<pk>/`
/// form (`comment` and/or `<model>_attachment`), the detail arrays, and cleanup on delete.
mod detail_form {
    use axum::extract::{DefaultBodyLimit, Path, State};
    use axum::routing::post;
    use axum::{Json, Router};
    use crm::AppState;
    use crm::common::comments::{self, LEADS};
    use crm::db::Tenant;
    use crm::error::ApiError;
    use crm::storage::FormData;

    use super::*;

    async fn detail_post(
        State(s): State<AppState>,
        mut t: Tenant,
        Path(pk): Path<Uuid>,
        form: FormData,
    ) -> Result<Json<Value>, ApiError> {
        comments::detail_post(&s, &mut t, &LEADS, pk, form).await?;
        let (c, a) =
            comments::comments_and_attachments(&s, &mut t.tx, t.org_id, &LEADS, pk).await?;
        t.commit().await?;
        Ok(Json(
            json!({"lead_obj": {"id": pk}, "attachments": a, "comments": c}),
        ))
    }

    async fn delete(
        State(s): State<AppState>,
        mut t: Tenant,
        Path(pk): Path<Uuid>,
    ) -> Result<Json<Value>, ApiError> {
        let keys = comments::delete_all_for(&mut t.tx, t.org_id, &LEADS, pk).await?;
        t.commit().await?;
        for k in &keys {
            s.storage.delete(k).await;
        }
        Ok(Json(json!({"deleted_files": keys.len()})))
    }

    #[tokio::test]
    async fn detail_post_form_adds_comment_and_attachment() {
        let app = TestApp::new().await;
        let admin = app.admin("detail@example.com").await;
        let outsider = app
            .member(admin.org_id, "detail-out@example.com", "USER")
            .await;
        let lead = record(&app, "leads", admin.org_id, admin.user_id).await;
        let router = Router::new()
            .route(
                "/api/leads/{pk}/",
                post(detail_post)
                    .delete(delete)
                    .layer(DefaultBodyLimit::disable()),
            )
            .with_state(app.state.clone());
        let app = TestApp { router, ..app };
        let res = send_multipart(
            &app,
            Method::POST,
            &format!("/api/leads/{lead}/"),
            &admin.access,
            &[("comment", "Met @detail-out@example.com today")],
            &[("lead_attachment", "notes.txt", b"plain notes")],
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(
            res.body["comments"][0]["comment"],
            "Met @detail-out@example.com today"
        );
        assert_eq!(res.body["attachments"][0]["file_name"], "notes.txt");
        assert_eq!(stored_files(&app).len(), 1);
        // Someone who cannot see the lead adds nothing.
        let res = send_multipart(
            &app,
            Method::POST,
            &format!("/api/leads/{lead}/"),
            &outsider.access,
            &[("comment", "sneaky")],
            &[],
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let res = app
            .delete(&format!("/api/leads/{lead}/"), Some(&admin.access))
            .await;
        assert_eq!(res.body["deleted_files"], 1);
        assert!(stored_files(&app).is_empty());
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM comment")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}

/// Every registry entry's visibility query (including invoices, which mount their own URLs)
/// names real tables and columns.
#[tokio::test]
async fn every_registry_entry_queries_real_tables() {
    use crm::common::comments::{INVOICES, TARGETS};
    let app = TestApp::new().await;
    for target in TARGETS.iter().copied().chain([&INVOICES]) {
        let sql = format!("EXPLAIN {}", target.visible_sql());
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::new_v4())
            .bind(Uuid::new_v4())
            .bind(false)
            .bind(Uuid::new_v4())
            .bind(Uuid::new_v4())
            .execute(&app.db.admin)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", target.segment));
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM django_content_type WHERE app_label = $1 AND model = $2",
        )
        .bind(target.app_label)
        .bind(target.model)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(n, 1, "{} has its content type row", target.segment);
    }
}
