//! Documents: multipart upload, list fields in every shape, visibility, downloads, limits.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

/// A multipart/form-data body: text fields (repeat a name to send a list) and files.
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----bottlecrm-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn send_multipart(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> TestResponse {
    let (ct, body) = multipart(fields, files);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

/// Every stored file under the test's MEDIA_ROOT (relative paths).
pub fn stored_files(app: &TestApp) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let root = &app.state.cfg.media_root;
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

async fn upload(app: &TestApp, who: &TestUser, title: &str, extra: &[(&str, &str)]) -> Uuid {
    let mut fields = vec![("title", title)];
    fields.extend_from_slice(extra);
    let res = send_multipart(
        app,
        Method::POST,
        "/api/documents/",
        &who.access,
        &fields,
        &[("document_file", "report.pdf", PDF)],
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn team(app: &TestApp, org: Uuid, members: &[Uuid]) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO teams (created_at, updated_at, id, name, description, org_id) VALUES (now(), now(), $1, $2, '', $3)")
        .bind(id)
        .bind(format!("Team {id}"))
        .bind(org)
        .execute(&app.db.admin)
        .await
        .unwrap();
    for m in members {
        sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
            .bind(id)
            .bind(m)
            .execute(&app.db.admin)
            .await
            .unwrap();
    }
    id
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    n
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn documents_upload_list_detail_download() {
    let app = TestApp::new().await;
    let admin = app.admin("docs-admin@example.com").await;
    let user = app
        .member(admin.org_id, "docs-user@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "docs-other@example.com", "USER")
        .await;
    let t = team(&app, admin.org_id, &[other.profile_id]).await;

    // Repeated multipart fields for shared_to, a JSON list string for teams, no `org` field.
    let res = send_multipart(
        &app,
        Method::POST,
        "/api/documents/",
        &admin.access,
        &[
            ("title", "Q3 report"),
            ("status", "active"),
            ("shared_to", &user.profile_id.to_string()),
            ("shared_to", &admin.profile_id.to_string()),
            ("teams", &format!("[\"{t}\"]")),
        ],
        &[("document_file", "Q3 report.pdf", PDF)],
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["message"], "Document Created Successfully");
    let id = res.body["id"].as_str().unwrap().to_string();

    // Stored under a random name; the original name is kept for display.
    let (key,): (String,) =
        sqlx::query_as("SELECT document_file FROM document WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert!(
        key.starts_with("docs/") && key.ends_with("/Q3 report.pdf"),
        "{key}"
    );
    assert_eq!(stored_files(&app), vec![key.clone()]);
    let (acts,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM activity WHERE entity_type = 'Document' AND entity_id = $1::uuid AND action = 'CREATE'",
    )
    .bind(&id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(acts, 1);

    let res = app.get("/api/documents/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        keys(&res.body),
        [
            "documents_active",
            "documents_inactive",
            "search",
            "status_choices",
            "users"
        ]
    );
    assert_eq!(res.body["search"], false);
    assert_eq!(
        res.body["status_choices"],
        json!([["active", "active"], ["inactive", "inactive"]])
    );
    let active = &res.body["documents_active"];
    assert_eq!(active["documents_active_count"], 1);
    assert_eq!(active["offset"], Value::Null);
    assert_eq!(
        res.body["documents_inactive"]["documents_inactive_count"],
        0
    );
    assert_eq!(res.body["documents_inactive"]["offset"], 0);
    let doc = &active["documents_active"][0];
    assert_eq!(
        keys(doc),
        [
            "created_at",
            "created_by",
            "document_file",
            "file_name",
            "id",
            "org",
            "shared_to",
            "status",
            "teams",
            "title"
        ]
    );
    assert_eq!(doc["title"], "Q3 report");
    assert_eq!(doc["file_name"], "Q3 report.pdf");
    assert_eq!(doc["created_by"]["email"], "docs-admin@example.com");
    assert_eq!(doc["org"]["id"], admin.org_id.to_string());
    assert!(doc["org"]["api_key"].is_string(), "admins see the org key");
    assert_eq!(doc["shared_to"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&doc["shared_to"][0])[0], "address");
    assert_eq!(
        keys(&doc["teams"][0]),
        [
            "created_at",
            "created_by_id",
            "description",
            "id",
            "name",
            "org_id",
            "updated_at",
            "updated_by_id"
        ]
    );
    assert_eq!(doc["teams"][0]["id"], t.to_string());
    let url = doc["document_file"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/api/documents/{id}/download/")),
        "{url}"
    );
    assert_eq!(res.body["users"].as_array().unwrap().len(), 3);

    let res = app
        .get(&format!("/api/documents/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(keys(&res.body), ["doc_obj", "file_type_code", "users"]);
    assert_eq!(res.body["file_type_code"], "fa fa-file-pdf");
    assert!(
        res.body["doc_obj"]["org"].get("api_key").is_none(),
        "a USER never sees the key"
    );
    // A USER is offered only the admins to share with (as upstream).
    assert_eq!(res.body["users"].as_array().unwrap().len(), 1);

    // Download: the bytes, as an attachment, to members who may see it (team member here).
    for who in [&admin, &user, &other] {
        let res = app
            .get(&format!("/api/documents/{id}/download/"), Some(&who.access))
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.text.as_bytes(), PDF);
        assert_eq!(res.headers[header::CONTENT_TYPE], "application/pdf");
        let cd = res.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            cd.starts_with("attachment;") && cd.contains("Q3%20report.pdf"),
            "{cd}"
        );
    }
    let res = app
        .get(&format!("/api/documents/{id}/download/"), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // No public media route.
    let res = app
        .get(&format!("/media/{}", key.replace(' ', "%20")), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn documents_visibility_user_vs_admin() {
    let app = TestApp::new().await;
    let admin = app.admin("vis-admin@example.com").await;
    let user = app
        .member(admin.org_id, "vis-user@example.com", "USER")
        .await;
    let own = upload(&app, &user, "Mine", &[]).await;
    let shared = upload(
        &app,
        &admin,
        "Shared",
        &[("shared_to", &user.profile_id.to_string())],
    )
    .await;
    let hidden = upload(&app, &admin, "Hidden", &[("status", "inactive")]).await;

    let res = app.get("/api/documents/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let titles: Vec<&str> = res.body["documents_active"]["documents_active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(titles.contains(&"Mine") && titles.contains(&"Shared"));
    assert_eq!(
        res.body["documents_inactive"]["documents_inactive_count"],
        0
    );

    let res = app.get("/api/documents/", Some(&admin.access)).await;
    assert_eq!(res.body["documents_active"]["documents_active_count"], 2);
    assert_eq!(
        res.body["documents_inactive"]["documents_inactive_count"],
        1
    );

    let forbidden =
        json!({"error": true, "errors": "You do not have Permission to perform this action"});
    for path in [
        format!("/api/documents/{hidden}/"),
        format!("/api/documents/{hidden}/download/"),
    ] {
        let res = app.get(&path, Some(&user.access)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(res.body, forbidden);
    }
    let res = app
        .patch(
            &format!("/api/documents/{hidden}/"),
            Some(&user.access),
            &json!({"title": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A share lets the user read, not edit or delete; the uploader may delete their own.
    let res = app
        .patch(
            &format!("/api/documents/{shared}/"),
            Some(&user.access),
            &json!({"status": "inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .delete(&format!("/api/documents/{shared}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(stored_files(&app).len(), 3);
    let res = app
        .delete(&format!("/api/documents/{own}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Document deleted Successfully"})
    );
    assert_eq!(
        stored_files(&app).len(),
        2,
        "the stored file is removed too"
    );
    let res = app
        .get(&format!("/api/documents/{own}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .delete(&format!("/api/documents/{hidden}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        count(&app, "SELECT count(*) FROM document_shared_to").await,
        1
    );
}

#[tokio::test]
async fn documents_bad_input_is_400_and_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("bad-docs@example.com").await;
    let res = send_multipart(
        &app,
        Method::POST,
        "/api/documents/",
        &admin.access,
        &[],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"title": ["This field is required."], "document_file": ["No file was submitted."]}})
    );
    upload(&app, &admin, "Plan", &[]).await;
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (
            vec![("title", "plan")],
            json!({"title": ["Document\u{a0}with this Title\u{a0}already exists"]}),
        ),
        (
            vec![("title", "New"), ("status", "archived")],
            json!({"status": ["\"archived\" is not a valid choice."]}),
        ),
        (
            vec![("title", "New"), ("shared_to", "not-a-uuid")],
            json!({"shared_to": ["\u{201c}not-a-uuid\u{201d} is not a valid UUID."]}),
        ),
        (
            vec![("title", "  ")],
            json!({"title": ["This field may not be blank."]}),
        ),
    ];
    for (fields, errors) in cases {
        let res = send_multipart(
            &app,
            Method::POST,
            "/api/documents/",
            &admin.access,
            &fields,
            &[("document_file", "a.pdf", PDF)],
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert_eq!(res.body, json!({"error": true, "errors": errors}));
    }
    assert_eq!(count(&app, "SELECT count(*) FROM document").await, 1);
    assert_eq!(stored_files(&app).len(), 1);
    // No credentials: 401 before the body is read; a bad token: 401 too.
    let (ct, body) = multipart(&[("title", "Anon")], &[("document_file", "a.pdf", PDF)]);
    for auth in [None, Some("Bearer not-a-jwt")] {
        let mut req = Request::builder()
            .method("POST")
            .uri("/api/documents/")
            .header(header::CONTENT_TYPE, &ct);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let res = app.send(req.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM document").await, 1);
    // Non-UUID path ids are 404.
    let res = app.get("/api/documents/nope/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn uploads_over_the_limit_or_of_a_forbidden_type_are_refused() {
    let app = TestApp::with_config(|c| c.upload_max_bytes = 1024).await;
    let admin = app.admin("limits@example.com").await;
    let big = [b'a'; 2048];
    let res = send_multipart(
        &app,
        Method::POST,
        "/api/documents/",
        &admin.access,
        &[("title", "Big")],
        &[("document_file", "big.txt", &big)],
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.body,
        json!({"document_file": ["The file is too large: the limit is 1 KiB."]})
    );
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0";
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    for (name, bytes) in [("tool.pdf", &elf[..]), ("page.txt", &html[..])] {
        let res = send_multipart(
            &app,
            Method::POST,
            "/api/documents/",
            &admin.access,
            &[("title", "Bad")],
            &[("document_file", name, bytes)],
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            res.body["document_file"][0]
                .as_str()
                .unwrap()
                .contains("not allowed"),
            "{}",
            res.text
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM document").await, 0);
    assert!(stored_files(&app).is_empty());
    // The JSON limit stays 1 MiB outside upload routes; a big body here is still capped.
    let huge = vec![b'x'; 3 * 1024 * 1024];
    let (ct, body) = multipart(&[("title", "Huge")], &[("document_file", "h.txt", &huge)]);
    let req = Request::builder()
        .method("POST")
        .uri("/api/documents/")
        .header(header::AUTHORIZATION, format!("Bearer {}", admin.access))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn upload_limit_is_raised_for_upload_routes_only() {
    let app = TestApp::new().await;
    let admin = app.admin("two-mib@example.com").await;
    let two_mib = vec![b'z'; 2 * 1024 * 1024];
    let res = send_multipart(
        &app,
        Method::POST,
        "/api/documents/",
        &admin.access,
        &[("title", "Two MiB")],
        &[("document_file", "z.txt", &two_mib)],
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // The same size as JSON elsewhere is over the 1 MiB JSON limit.
    let res = app
        .patch(
            "/api/profile/",
            Some(&admin.access),
            &json!({"phone": "x".repeat(2 * 1024 * 1024)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn documents_update_put_patch_and_file_replacement() {
    let app = TestApp::new().await;
    let admin = app.admin("upd@example.com").await;
    let user = app
        .member(admin.org_id, "upd-user@example.com", "USER")
        .await;
    let id = upload(
        &app,
        &admin,
        "Contract",
        &[("shared_to", &user.profile_id.to_string())],
    )
    .await;
    let old_files = stored_files(&app);

    // PUT keeps its own title (no false duplicate), keeps the file, and replaces the shares
    // (absent = cleared).
    let res = app
        .put(
            &format!("/api/documents/{id}/"),
            Some(&admin.access),
            &json!({"title": "Contract"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Document Updated Successfully");
    assert_eq!(
        count(&app, "SELECT count(*) FROM document_shared_to").await,
        0
    );
    assert_eq!(stored_files(&app), old_files);

    // PATCH with JSON lists.
    let res = app
        .patch(
            &format!("/api/documents/{id}/"),
            Some(&admin.access),
            &json!({"shared_to": [user.profile_id], "status": "inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/documents/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.body["doc_obj"]["status"], "inactive");
    assert_eq!(
        res.body["doc_obj"]["shared_to"][0]["id"],
        user.profile_id.to_string()
    );

    // PATCH a new file: the old object is removed, the new one served.
    let res = send_multipart(
        &app,
        Method::PATCH,
        &format!("/api/documents/{id}/"),
        &admin.access,
        &[],
        &[("document_file", "pic.png", PNG)],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let files = stored_files(&app);
    assert_eq!(files.len(), 1);
    assert_ne!(files, old_files);
    let res = app
        .get(
            &format!("/api/documents/{id}/download/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.headers[header::CONTENT_TYPE], "image/png");
    let res = app
        .get(&format!("/api/documents/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["file_type_code"], "fa fa-file-image");
    assert_eq!(
        res.body["doc_obj"]["title"], "Contract",
        "PATCH keeps what is not sent"
    );

    // PUT without a title is a 400.
    let res = app
        .put(
            &format!("/api/documents/{id}/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["title"],
        json!(["This field is required."])
    );
}

#[tokio::test]
async fn documents_of_another_org_are_404_and_unchanged() {
    let app = TestApp::new().await;
    let a = app.admin("org-a@example.com").await;
    let b = app.admin("org-b@example.com").await;
    let b_user = app.member(b.org_id, "org-b-user@example.com", "USER").await;
    let b_team = team(&app, b.org_id, &[]).await;
    let id = upload(&app, &a, "A's doc", &[]).await;
    let path = format!("/api/documents/{id}/");
    for res in [
        app.get(&path, Some(&b.access)).await,
        app.get(&format!("{path}download/"), Some(&b.access)).await,
        app.put(&path, Some(&b.access), &json!({"title": "Stolen"}))
            .await,
        app.patch(&path, Some(&b.access), &json!({"title": "Stolen"}))
            .await,
        app.delete(&path, Some(&b.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert_eq!(res.body, json!({"detail": "Not found."}));
    }
    let res = app.get("/api/documents/", Some(&b.access)).await;
    assert_eq!(res.body["documents_active"]["documents_active_count"], 0);
    // Another org's profile or team cannot be linked.
    for extra in [("shared_to", b_user.profile_id), ("teams", b_team)] {
        let res = app
            .patch(
                &path,
                Some(&a.access),
                &json!({ extra.0: [extra.1], "title": "Changed" }),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let (title,): (String,) = sqlx::query_as("SELECT title FROM document WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(title, "A's doc");
    assert_eq!(
        count(&app, "SELECT count(*) FROM document_shared_to").await,
        0
    );
    assert_eq!(count(&app, "SELECT count(*) FROM document_teams").await, 0);
}

#[tokio::test]
async fn documents_pagination_and_filters() {
    let app = TestApp::new().await;
    let admin = app.admin("pages@example.com").await;
    let user = app
        .member(admin.org_id, "pages-user@example.com", "USER")
        .await;
    for i in 0..3 {
        upload(&app, &admin, &format!("Active {i}"), &[]).await;
    }
    upload(
        &app,
        &admin,
        "Old one",
        &[
            ("status", "inactive"),
            ("shared_to", &user.profile_id.to_string()),
        ],
    )
    .await;

    let res = app
        .get("/api/documents/?limit=2", Some(&admin.access))
        .await;
    assert_eq!(
        res.body["documents_active"]["documents_active"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(res.body["documents_active"]["offset"], 2);
    assert_eq!(res.body["documents_inactive"]["offset"], Value::Null);
    let res = app
        .get("/api/documents/?limit=2&offset=2", Some(&admin.access))
        .await;
    assert_eq!(
        res.body["documents_active"]["documents_active"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(res.body["documents_active"]["offset"], Value::Null);
    assert_eq!(res.body["documents_inactive"]["offset"], 0);

    let res = app
        .get("/api/documents/?status=inactive", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "upstream 500s here");
    assert_eq!(res.body["search"], true);
    assert_eq!(res.body["documents_active"]["documents_active_count"], 0);
    assert_eq!(
        res.body["documents_inactive"]["documents_inactive_count"],
        1
    );
    let res = app
        .get("/api/documents/?title=ACTIVE%201", Some(&admin.access))
        .await;
    assert_eq!(res.body["documents_active"]["documents_active_count"], 1);
    assert_eq!(res.body["search"], false);
    let q = format!("/api/documents/?shared_to=[\"{}\"]", user.profile_id);
    let res = app.get(&q.replace('"', "%22"), Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["documents_inactive"]["documents_inactive_count"],
        1
    );
    assert_eq!(res.body["documents_active"]["documents_active_count"], 0);
    let res = app
        .get("/api/documents/?shared_to=nope", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

/// The S3 backend end to end, against an S3-compatible server named by TEST_S3_ENDPOINT (e.g.
/// `moto_server -p 5055`) with an existing bucket TEST_S3_BUCKET (default `bottlecrm-test`).
/// Skipped when TEST_S3_ENDPOINT is not set.
#[tokio::test]
async fn documents_on_s3_when_configured() {
    let Ok(endpoint) = std::env::var("TEST_S3_ENDPOINT") else {
        eprintln!("TEST_S3_ENDPOINT not set: S3 test skipped");
        return;
    };
    let bucket = std::env::var("TEST_S3_BUCKET").unwrap_or_else(|_| "bottlecrm-test".into());
    let app = TestApp::with_config(|c| {
        c.s3 = Some(crm::config::S3Config {
            bucket,
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            endpoint: Some(endpoint),
            region: "us-east-1".into(),
        })
    })
    .await;
    let admin = app.admin("s3@example.com").await;
    let id = upload(&app, &admin, "On S3", &[]).await;
    let res = app
        .get(
            &format!("/api/documents/{id}/download/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.text.as_bytes(), PDF);
    assert!(stored_files(&app).is_empty(), "nothing on the local disk");
    let res = app
        .delete(&format!("/api/documents/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

/// Issue 9 item 14: a sharee (direct or through a team) cannot change a document's share list,
/// its teams, its title or status, nor replace its file; the uploader and admins can.
#[tokio::test]
async fn documents_sharees_cannot_change_shares_or_replace_the_file() {
    let app = TestApp::new().await;
    let admin = app.admin("own-admin@example.com").await;
    let owner = app.member(admin.org_id, "owner@example.com", "USER").await;
    let sharee = app.member(admin.org_id, "sharee@example.com", "USER").await;
    let mate = app.member(admin.org_id, "mate@example.com", "USER").await;
    let outsider = app
        .member(admin.org_id, "outsider@example.com", "USER")
        .await;
    let crew = team(&app, admin.org_id, &[mate.profile_id]).await;
    let id = upload(
        &app,
        &owner,
        "Plan",
        &[
            ("shared_to", &sharee.profile_id.to_string()),
            ("teams", &crew.to_string()),
        ],
    )
    .await;
    let files = stored_files(&app);
    let path = format!("/api/documents/{id}/");
    let forbidden =
        json!({"error": true, "errors": "You do not have Permission to perform this action"});
    for who in [&sharee, &mate] {
        // They can read and download it.
        let res = app.get(&path, Some(&who.access)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        // They cannot rewrite its shares (PATCH or PUT, JSON or multipart) nor replace the file.
        for body in [
            json!({"shared_to": [who.profile_id, outsider.profile_id]}),
            json!({"teams": []}),
            json!({"title": "Mine now"}),
        ] {
            let res = app.patch(&path, Some(&who.access), &body).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(res.body, forbidden);
            let res = app.put(&path, Some(&who.access), &body).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
        }
        let res = send_multipart(
            &app,
            Method::PATCH,
            &path,
            &who.access,
            &[("shared_to", &outsider.profile_id.to_string())],
            &[("document_file", "evil.png", PNG)],
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
        let res = app.delete(&path, Some(&who.access)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(stored_files(&app), files, "file unchanged");
    let shares: Vec<(Uuid,)> =
        sqlx::query_as("SELECT profile_id FROM document_shared_to WHERE document_id = $1")
            .bind(id)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(shares, vec![(sharee.profile_id,)]);
    assert_eq!(count(&app, "SELECT count(*) FROM document_teams").await, 1);
    let res = app.get(&path, Some(&outsider.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The uploader and an admin can.
    let res = app
        .patch(
            &path,
            Some(&owner.access),
            &json!({"shared_to": [outsider.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = send_multipart(
        &app,
        Method::PATCH,
        &path,
        &admin.access,
        &[],
        &[("document_file", "new.png", PNG)],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_ne!(stored_files(&app), files);
    let res = app.delete(&path, Some(&owner.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}
