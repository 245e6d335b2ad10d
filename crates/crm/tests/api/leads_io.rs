//! Lead export and import: export chunks that hold no connection while the client waits,
//! gzip, CSV formula escaping, import jobs for large files, upload size limit.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::Mailer;
use crm::state::AppState;
use crm::testkit::{TestApp, TestUser};
use http_body_util::BodyExt;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use uuid::Uuid;

fn multipart(token: &str, file_name: &str, data: &[u8]) -> Request<Body> {
    let boundary = "XbOuNdArYx";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"leads_file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method("POST")
        .uri("/api/leads/upload/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

/// `n` leads in the admin's org, straight into the table, each with a `pad`-byte description.
async fn seed_leads(app: &TestApp, who: &TestUser, n: i64, pad: i32) {
    sqlx::query(
        "INSERT INTO lead (created_at, updated_at, id, org_id, created_by_id, title, first_name, email,
                           description, is_active, probability)
         SELECT now() - make_interval(secs => g), now(), gen_random_uuid(), $1, $2, 'Lead ' || g, 'F' || g,
                'l' || g || '@example.com', repeat('d', $4), true, 0
         FROM generate_series(1, $3) g",
    )
    .bind(who.org_id)
    .bind(who.user_id)
    .bind(n)
    .bind(pad)
    .execute(&app.db.admin)
    .await
    .unwrap();
}

async fn count(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

fn worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    Worker::new(app.db.app.clone(), WorkerOptions::default(), mailer)
}

/// Issue 9 item 4: the compressed export used to panic after its last chunk ("Unfold must not
/// be polled after it returned Poll::Ready(None)") and the client got a cut file.
#[tokio::test]
async fn leads_export_gzip_is_complete() {
    let app = TestApp::new().await;
    let admin = app.admin("gz@example.com").await;
    seed_leads(&app, &admin, 2500, 20).await;
    let req = Request::builder()
        .uri("/api/leads/export/")
        .header(header::AUTHORIZATION, format!("Bearer {}", admin.access))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    let gz = res.into_body().collect().await.unwrap().to_bytes();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("a complete gzip stream");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let titles: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(1).unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 2500);
    // Newest first: "Lead 1" is the newest, "Lead 2500" the oldest.
    assert_eq!(titles[0], "Lead 1");
    assert_eq!(titles[2499], "Lead 2500");
}

/// Issue 9 item 9: cells starting with = + - @ tab or CR are exported with a leading `'`
/// (OWASP); the import stores what the file says.
#[tokio::test]
async fn leads_export_escapes_formula_cells_and_import_keeps_them() {
    let app = TestApp::new().await;
    let admin = app.admin("fx@example.com").await;
    let csv = "title,first_name,last_name,phone,description\n\
               \"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",+cmd,-2+3,+33 1 23 45 67 89,@SUM(A1)\n";
    let res = app
        .send(multipart(&admin.access, "fx.csv", csv.as_bytes()))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let stored: (String, String, String, String, String) = sqlx::query_as(
        "SELECT title, first_name, last_name, phone, description FROM lead WHERE org_id = $1",
    )
    .bind(admin.org_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        stored,
        (
            "=HYPERLINK(\"http://evil.example\",\"x\")".to_string(),
            "+cmd".to_string(),
            "-2+3".to_string(),
            "+33 1 23 45 67 89".to_string(),
            "@SUM(A1)".to_string()
        )
    );
    // Tab and CR cannot come through the trimmed CSV: put them in directly.
    sqlx::query(
        "UPDATE lead SET city = E'\\tcmd', state = E'\\rcmd', address_line = 'a=b' WHERE org_id = $1",
    )
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();

    let res = app.get("/api/leads/export/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(res.text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let cell = |name: &str| {
        row.get(headers.iter().position(|h| h == name).unwrap())
            .unwrap()
    };
    assert_eq!(cell("title"), "'=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(cell("first_name"), "'+cmd");
    assert_eq!(cell("last_name"), "'-2+3");
    assert_eq!(cell("phone"), "'+33 1 23 45 67 89");
    assert_eq!(cell("description"), "'@SUM(A1)");
    assert_eq!(cell("city"), "'\tcmd");
    assert_eq!(cell("state"), "'\rcmd");
    assert_eq!(cell("address_line"), "a=b");
}

/// Issue 9 item 17: an upload over the 10 MiB limit is a 413, not a 400.
#[tokio::test]
async fn leads_upload_over_limit_is_413() {
    let app = TestApp::new().await;
    let admin = app.admin("big@example.com").await;
    let mut csv = b"title,description\n".to_vec();
    let row = format!("t,{}\n", "x".repeat(1000));
    while csv.len() < 11 * 1024 * 1024 {
        csv.extend_from_slice(row.as_bytes());
    }
    let res = app.send(multipart(&admin.access, "big.csv", &csv)).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.text);
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "The file is too large: the limit is 10 MiB."
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    // The lead form's attachments: the same answer.
    let res = app
        .post("/api/leads/", Some(&admin.access), &json!({"title": "A"}))
        .await;
    let id = res.body["id"].as_str().unwrap().to_string();
    let boundary = "XbOuNdArYx";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"lead_attachment\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/leads/{id}/"))
        .header(header::AUTHORIZATION, format!("Bearer {}", admin.access))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// Issue 9 item 5: a file over the synchronous limit is stored and imported by a job; the
/// upload answers at once with the job's id, and its progress and row errors are readable.
#[tokio::test]
async fn leads_large_import_runs_as_a_job() {
    let app = TestApp::new().await;
    let admin = app.admin("job@example.com").await;
    let user = app.member(admin.org_id, "jobu@example.com", "USER").await;
    let mut csv = String::from("title,email,probability\n");
    for i in 1..=3000 {
        match i {
            10 => csv.push_str("Bad,bad10@example.com,150\n"),
            20 => csv.push_str(",nobody@example.com,\n"),
            _ => csv.push_str(&format!("Lead {i},l{i}@example.com,{}\n", i % 100)),
        }
    }
    let res = app
        .send(multipart(&admin.access, "big.csv", csv.as_bytes()))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["status"], "queued");
    assert_eq!(res.body["total"], 3000);
    let job_id = res.body["job_id"].as_str().unwrap().to_string();
    let url = format!("/api/leads/upload/{job_id}/");
    assert_eq!(res.body["status_url"], url);

    let res = app.get(&url, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "queued");
    assert_eq!(res.body["processed"], 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    // Another member does not see someone else's import.
    assert_eq!(
        app.get(&url, Some(&user.access)).await.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(worker(&app).drain().await.unwrap(), 1);
    let res = app.get(&url, Some(&admin.access)).await;
    assert_eq!(res.body["status"], "done", "{}", res.text);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["message"], "Leads created Successfully");
    assert_eq!(res.body["created"], 2998);
    assert_eq!(res.body["failed"], 2);
    assert_eq!(res.body["processed"], 3000);
    assert_eq!(res.body["rows"][0]["row"], 11);
    assert!(res.body["rows"][0]["errors"]["probability"].is_array());
    assert_eq!(res.body["rows"][1]["row"], 21);
    assert!(res.body["rows"][1]["errors"]["title"].is_array());
    assert!(res.body["finished_at"].is_string());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        2998
    );
    // One activity entry for the import, not one per lead.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT entity_name FROM activity WHERE org_id = $1 AND entity_type = 'Lead' AND action = 'CREATE'",
    )
    .bind(admin.org_id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(names, ["2998 leads imported from big.csv"]);
    let (prob, by): (i32, Uuid) = sqlx::query_as(
        "SELECT probability, created_by_id FROM lead WHERE org_id = $1 AND title = 'Lead 57'",
    )
    .bind(admin.org_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!((prob, by), (57, admin.user_id));
    // The file is not kept once imported.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead_import WHERE org_id = $1 AND file IS NOT NULL",
            admin.org_id
        )
        .await,
        0
    );
    // The list shows them (its count is kept by triggers).
    let res = app.get("/api/leads/?limit=1", Some(&admin.access)).await;
    assert_eq!(res.body["open_leads"]["leads_count"], 2998, "{}", res.text);

    // A second import of the same file: every e-mail is taken, nothing is created.
    let res = app
        .send(multipart(&user.access, "again.csv", csv.as_bytes()))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let url = format!(
        "/api/leads/upload/{}/",
        res.body["job_id"].as_str().unwrap()
    );
    assert_eq!(worker(&app).drain().await.unwrap(), 1);
    let res = app.get(&url, Some(&user.access)).await;
    assert_eq!(res.body["status"], "failed", "{}", res.text);
    assert_eq!(res.body["error"], true);
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "All the leads in the file are invalid."
    );
    assert_eq!(res.body["failed"], 3000);
    assert_eq!(res.body["created"], 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        2998
    );
    // An admin sees every import of the org; an unknown id is a 404.
    assert_eq!(
        app.get(&url, Some(&admin.access)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(
            &format!("/api/leads/upload/{}/", Uuid::new_v4()),
            Some(&admin.access)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// Issue 9 item 3: a client that stops reading an export must not pin a pooled connection.
/// Before, the export streamed from the request's transaction: each stalled client kept a
/// connection "idle in transaction" and, with a pool of 2, the API stopped answering.
#[tokio::test]
async fn leads_export_to_a_stalled_client_holds_no_connection() {
    let app = TestApp::new().await;
    let admin = app.admin("stall@example.com").await;
    // About 12 MB of CSV: more than the socket buffers on both sides take.
    seed_leads(&app, &admin, 12_000, 1000).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(3))
        .connect(&app.db.app_url())
        .await
        .unwrap();
    let state = AppState::new(pool, crm::config::Config::for_tests(&app.db.app_url()));
    let router = crm::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router
                .clone()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let mut stalled = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let req = format!(
            "GET /api/leads/export/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
            admin.access
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        stalled.push(stream); // and never read again
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // A chunk's transaction is idle for an instant between its statements; a pinned one for
    // as long as the client stalls.
    let idle_in_tx: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%' AND state_change < now() - interval '1 second'",
    )
    .bind(&app.db.name)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let stuck: Vec<(String, String)> = sqlx::query_as(
        "SELECT coalesce(usename::text, ''), coalesce(query, '') FROM pg_stat_activity
         WHERE datname = $1 AND state LIKE 'idle in transaction%' AND state_change < now() - interval '1 second'",
    )
    .bind(&app.db.name)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        idle_in_tx, 0,
        "a stalled export pins a connection: {stuck:?}"
    );

    // Other requests still get a connection from the pool of 2.
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /api/leads/?limit=1 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            admin.access
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
            .await
            .expect("the list answers while exports are stalled")
            .unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
    drop(stalled);
    server.abort();
}

/// Each export chunk runs on its own transaction with the caller's context: a USER still gets
/// only the leads they may see.
#[tokio::test]
async fn leads_export_chunks_keep_the_callers_visibility() {
    let app = TestApp::new().await;
    let admin = app.admin("vis@example.com").await;
    let user = app.member(admin.org_id, "visu@example.com", "USER").await;
    seed_leads(&app, &admin, 1500, 10).await;
    let res = app
        .post("/api/leads/", Some(&user.access), &json!({"title": "Mine"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app.get("/api/leads/export/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let lines: Vec<&str> = res.text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", res.text);
    assert!(lines[1].contains("Mine"));
    let res = app.get("/api/leads/export/", Some(&admin.access)).await;
    assert_eq!(res.text.lines().count(), 1502);
}
