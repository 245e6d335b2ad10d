//! The request path and its database plumbing: cancellation, pool exhaustion, session limits,
//! NUL characters, base URLs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use crm::db::{self, AppPoolSettings, tenant};
use crm::testkit::{TestApp, TestDb};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// Collects PostgreSQL notices (WARNINGs such as "there is already a transaction in progress")
/// that sqlx logs on the current thread.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);
impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            *self.0 = value.to_string();
        }
    }
}

impl tracing::Subscriber for Notices {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        m.target().starts_with("sqlx::postgres::notice")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        let mut msg = String::new();
        e.record(&mut Message(&mut msg));
        self.0.lock().unwrap().push(msg);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Notices {
    fn about_transactions(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.contains("transaction"))
            .cloned()
            .collect()
    }
}

async fn idle_in_transaction(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&db.admin)
    .await
    .unwrap()
}

/// Holds every connection of `pool` (so each is back in the pool, and idle: no one is using
/// it) and counts those the server sees inside a transaction: left there by someone else.
async fn pooled_connections_in_transaction(pool: &PgPool, db: &TestDb) -> i64 {
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    idle_in_transaction(db).await
}

/// Waits until no request of the app role is running (handlers that outlived their clients).
async fn settle(db: &TestDb) {
    for _ in 0..200 {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND usename = 'crm_app' AND state = 'active'",
        )
        .fetch_one(&db.admin)
        .await
        .unwrap();
        if busy == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn begin_and_commit_dropped_midway_leave_no_transaction_behind() {
    let notices = Notices::default();
    let _guard = tracing::subscriber::set_default(notices.clone());
    let db = TestDb::new().await;
    // One connection, no ping before handing it out: the dropped step is the only one in flight.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(db::connect_options(&db.app_url()).unwrap())
        .await
        .unwrap();
    let org = Some(Uuid::new_v4());
    for polls in 0..12 {
        // BEGIN, dropped after `polls` polls (the request went away).
        let mut begin = Box::pin(tenant::begin(&pool, org, None));
        for _ in 0..polls {
            tokio::select! {
                biased;
                r = &mut begin => { r.unwrap(); break; }
                _ = tokio::task::yield_now() => {}
            }
        }
        drop(begin);
        assert_eq!(
            pooled_connections_in_transaction(&pool, &db).await,
            0,
            "a BEGIN dropped after {polls} polls left its transaction on the pooled connection"
        );
        // COMMIT, dropped likewise.
        let tx = tenant::begin(&pool, org, None).await.unwrap();
        let mut commit = Box::pin(tenant::commit(tx));
        for _ in 0..polls {
            tokio::select! {
                biased;
                r = &mut commit => { r.unwrap(); break; }
                _ = tokio::task::yield_now() => {}
            }
        }
        drop(commit);
        assert_eq!(pooled_connections_in_transaction(&pool, &db).await, 0);
    }
    // Whatever ran next on the connection found it in the state sqlx believed it was in.
    let tx = tenant::begin(&pool, org, None).await.unwrap();
    tenant::commit(tx).await.unwrap();
    assert_eq!(notices.about_transactions(), Vec::<String>::new());
    assert_eq!(idle_in_transaction(&db).await, 0);
}

async fn http(addr: SocketAddr, raw: String) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn post_lead(token: &str, title: &str) -> String {
    let body = json!({"title": title, "first_name": "Storm"}).to_string();
    format!(
        "POST /api/leads/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_storm_of_disconnects_leaves_pooled_connections_clean_across_orgs() {
    let notices = Notices::default();
    let _guard = tracing::subscriber::set_default(notices.clone());
    let app = TestApp::new().await;
    let a = app.admin("storm-a@example.com").await;
    let b = app.admin("storm-b@example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });

    let mut clients = Vec::new();
    for i in 0..240u64 {
        let (token, title) = if i % 2 == 0 {
            (a.access.clone(), format!("storm-a-{i}"))
        } else {
            (b.access.clone(), format!("storm-b-{i}"))
        };
        clients.push(tokio::spawn(async move {
            let raw = post_lead(&token, &title);
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            // Some send part of the body only; the rest all of it. Then they reset the
            // connection after a delay that lands anywhere in the request's life.
            let cut = if i % 5 == 0 { raw.len() - 3 } else { raw.len() };
            let _ = s.write_all(&raw.as_bytes()[..cut]).await;
            tokio::time::sleep(Duration::from_micros((i * 97) % 4000)).await;
            let _ = s.set_zero_linger();
            drop(s);
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    // Let handlers that outlived their clients finish.
    settle(&app.db).await;
    assert_eq!(notices.about_transactions(), Vec::<String>::new());
    assert_eq!(
        pooled_connections_in_transaction(&app.db.app, &app.db).await,
        0,
        "a pooled connection was left inside a transaction"
    );
    // Each row is in the org of the request that wrote it.
    let misplaced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM lead
         WHERE NOT ((org_id = $1 AND title LIKE 'storm-a-%') OR (org_id = $2 AND title LIKE 'storm-b-%'))",
    )
    .bind(a.org_id)
    .bind(b.org_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);
    // Later requests see their own org only, and all of it.
    for (who, prefix) in [(&a, "storm-a-"), (&b, "storm-b-")] {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM lead WHERE org_id = $1")
            .bind(who.org_id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
        let res = http(
            addr,
            format!(
                "GET /api/leads/?limit=1000 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
                who.access
            ),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        let body: Value = serde_json::from_str(res.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        let titles: Vec<&str> = body["open_leads"]["open_leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["title"].as_str().unwrap())
            .collect();
        assert!(titles.iter().all(|t| t.starts_with(prefix)), "{titles:?}");
        assert_eq!(body["open_leads"]["leads_count"], stored, "{body}");
    }
    // A request that completes after the storm is answered and committed normally.
    let res = http(addr, post_lead(&a.access, "storm-a-after")).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert_eq!(notices.about_transactions(), Vec::<String>::new());
}

#[tokio::test]
async fn pool_exhaustion_is_503_with_retry_after_and_healthz_says_saturated() {
    let db = TestDb::new().await;
    let cfg = crm::Config::for_tests(&db.app_url());
    let settings = AppPoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(300),
        ..cfg.app_pool()
    };
    let tiny = settings
        .pool_options()
        .connect_with(settings.connect_options(&db.app_url()).unwrap())
        .await
        .unwrap();
    let state = crm::AppState::new(tiny.clone(), cfg);
    let busy = TestApp {
        router: crm::router(state.clone()),
        state,
        db,
    };
    let admin = busy.admin("busy@example.com").await;
    let res = busy.get("/healthz/", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["database"], "ok");
    assert_eq!(res.body["pool"]["max"], 1);

    let held = tiny.acquire().await.unwrap();
    let res = busy.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.headers[header::RETRY_AFTER], "1");
    assert_eq!(
        res.body,
        json!({"detail": "The server is busy. Please retry shortly."})
    );
    let res = busy
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": admin.email, "password": admin.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    let res = busy.get("/healthz/", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers[header::RETRY_AFTER], "1");
    assert_eq!(res.body["status"], "busy");
    assert_eq!(res.body["database"], "saturated");
    drop(held);
    let res = busy.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn app_role_connections_have_statement_and_idle_in_transaction_limits() {
    let app = TestApp::new().await;
    let mut tx = tenant::begin(&app.db.app, None, None).await.unwrap();
    let limits: (String, String) =
        sqlx::query_as("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(limits, ("30s".into(), "30s".into()));
    tenant::commit(tx).await.unwrap();

    let settings = AppPoolSettings {
        statement_timeout: Some(Duration::from_millis(300)),
        idle_in_transaction_timeout: Some(Duration::from_millis(500)),
        ..app.state.cfg.app_pool()
    };
    let pool = settings
        .pool_options()
        .connect_with(settings.connect_options(&app.db.app_url()).unwrap())
        .await
        .unwrap();
    // A transaction left idle (a client that stopped reading) is ended by the server.
    let mut tx = tenant::begin(&pool, None, None).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    assert_eq!(idle_in_transaction(&app.db).await, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(idle_in_transaction(&app.db).await, 0);
    assert!(sqlx::query("SELECT 1").execute(&mut *tx).await.is_err());
    drop(tx);
    // A statement over the limit is cancelled: a 503, not a 500.
    let err = sqlx::query("SELECT pg_sleep(2)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        crm::error::ApiError::from(err).status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Migrations (owner role) and the worker's pool (`db::connect`) have no such limit.
    let worker = db::connect(&app.db.app_url(), 1).await.unwrap();
    let t: String = sqlx::query_scalar("SELECT current_setting('statement_timeout')")
        .fetch_one(&worker)
        .await
        .unwrap();
    assert_eq!(t, "0");
}

#[tokio::test]
async fn nul_characters_are_400_on_their_field_on_every_route() {
    let app = TestApp::new().await;
    let admin = app.admin("nul@example.com").await;
    // Unauthenticated login.
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "nul\u{0}@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"email": ["Null characters are not allowed."]})
    );
    // A lead create, nested too.
    let res = app
        .post(
            "/api/leads/",
            Some(&admin.access),
            &json!({"title": "ok", "description": "a\u{0}b"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"description": ["Null characters are not allowed."]})
    );
    let res = app
        .post(
            "/api/leads/",
            Some(&admin.access),
            &json!({"title": "ok", "tags": ["x\u{0}"]}),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"tags": ["Null characters are not allowed."]})
    );
    // Query-string filters.
    for path in [
        "/api/leads/?title=a%00b",
        "/api/tags/?name=%00",
        "/api/users/?email=x%00",
        "/api/documents/?title=%00",
    ] {
        let res = app.get(path, Some(&admin.access)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}: {}", res.text);
        let field = path.split(['?', '=']).nth(1).unwrap();
        assert_eq!(
            res.body,
            json!({field: ["Null characters are not allowed."]}),
            "{path}"
        );
    }
    // A multipart field.
    let res = crate::documents::send_multipart(
        &app,
        Method::POST,
        "/api/documents/",
        &admin.access,
        &[("title", "a\0b")],
        &[("document_file", "a.pdf", crate::documents::PDF)],
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"title": ["Null characters are not allowed."]})
    );
    // Nothing was written and nothing failed.
    let leads: i64 = sqlx::query_scalar("SELECT count(*) FROM lead")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(leads, 0);
}

async fn upload_document(app: &TestApp, token: &str, host: Option<&str>) -> Value {
    let (ct, body) = crate::documents::multipart(
        &[("title", "Linked")],
        &[("document_file", "a.pdf", crate::documents::PDF)],
    );
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/documents/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, ct);
    if let Some(h) = host {
        req = req.header(header::HOST, h);
    }
    let res = app.send(req.body(Body::from(body)).unwrap()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    let mut req = Request::builder()
        .uri(format!("/api/documents/{id}/"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(h) = host {
        req = req
            .header(header::HOST, h)
            .header("x-forwarded-host", "proxy.example")
            .header("x-forwarded-proto", "https");
    }
    let res = app.send(req.body(Body::empty()).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["doc_obj"].clone()
}

#[tokio::test]
async fn links_use_the_request_host_unless_api_url_is_set() {
    let app = TestApp::new().await;
    let admin = app.admin("links@example.com").await;
    let doc = upload_document(&app, &admin.access, Some("crm.example:9000")).await;
    let url = doc["document_file"].as_str().unwrap();
    assert!(
        url.starts_with("http://crm.example:9000/api/documents/"),
        "{url}"
    );
    // Behind a trusted proxy, its X-Forwarded-* headers.
    let proxied = TestApp::from_db(TestDb::new().await, |c| c.trust_proxy = true);
    let p_admin = proxied.admin("proxied@example.com").await;
    let doc = upload_document(&proxied, &p_admin.access, Some("10.0.0.5:8000")).await;
    let url = doc["document_file"].as_str().unwrap();
    assert!(url.starts_with("https://proxy.example/api/"), "{url}");
    // An explicit API_URL wins.
    let fixed = TestApp::from_db(TestDb::new().await, |c| {
        c.api_url = "https://api.example.com/".into();
        c.api_url_is_default = false;
    });
    let f_admin = fixed.admin("fixed@example.com").await;
    let doc = upload_document(&fixed, &f_admin.access, Some("crm.example:9000")).await;
    let url = doc["document_file"].as_str().unwrap();
    assert!(url.starts_with("https://api.example.com/api/"), "{url}");
    // E-mails keep API_URL whatever the Host header says.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/register/")
        .header(header::HOST, "evil.example")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": "reg@example.com", "password": "longenough1", "confirm_password": "longenough1"})
                .to_string(),
        ))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let payload: String =
        sqlx::query_scalar("SELECT payload::text FROM jobs ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert!(
        payload.contains("http://localhost:8000/api/auth/activate/"),
        "{payload}"
    );
    assert!(!payload.contains("evil.example"));
}
