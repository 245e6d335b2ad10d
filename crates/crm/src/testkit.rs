//! Test support: each test gets its own database, copied from a migrated template, and talks
//! to the real router as the non-superuser app role (RLS on). Used by the integration tests of
//! this crate and of the binary; not used by the server.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::config::Config;
use crate::db::{self, migrate::MIGRATOR};
use crate::state::AppState;

/// Superuser connection used to create and drop test databases.
pub fn master_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("valid TEST_DATABASE_URL");
    u.set_path(db);
    u.to_string()
}

/// Template name changes whenever a migration changes, so stale templates are never used.
fn template_name() -> String {
    let mut h = Sha256::new();
    for m in MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&*m.checksum);
    }
    format!("bottlecrm_tmpl_{}", &hex::encode(h.finalize())[..12])
}

async fn ensure_template(master: &PgPool) -> anyhow::Result<String> {
    let name = template_name();
    let mut conn = master.acquire().await?;
    // Serialise template creation across test processes (nextest runs one process per test).
    sqlx::query("SELECT pg_advisory_lock(hashtext('bottlecrm_test_template'))")
        .execute(&mut *conn)
        .await?;
    let result = async {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut *conn)
                .await?;
        if !exists {
            let building = format!("{name}_building");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
                .execute(&mut *conn)
                .await?;
            let pool = db::connect(&with_db(&master_url(), &building), 2).await?;
            db::migrate::run(&pool).await?;
            db::roles::ensure_app_role(&pool, "crm_app", None).await?;
            pool.close().await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {building} RENAME TO {name}"
            )))
            .execute(&mut *conn)
            .await?;
        }
        anyhow::Ok(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('bottlecrm_test_template'))")
        .execute(&mut *conn)
        .await?;
    result?;
    Ok(name)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh database for one test; dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    /// Superuser on the test database (fixtures that must bypass RLS, schema changes).
    pub admin: PgPool,
    /// The app role on the test database: what the server uses.
    pub app: PgPool,
}

impl TestDb {
    /// A migrated database (copied from the template).
    pub async fn new() -> TestDb {
        let master = db::connect(&master_url(), 2)
            .await
            .expect("test PostgreSQL reachable");
        let template = ensure_template(&master).await.expect("template database");
        let name = Self::fresh_name();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .execute(&master)
        .await
        .expect("create test database");
        master.close().await;
        Self::open(name).await
    }

    /// An empty database (for migration and adoption tests).
    pub async fn empty() -> TestDb {
        let master = db::connect(&master_url(), 1)
            .await
            .expect("test PostgreSQL reachable");
        let name = Self::fresh_name();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&master)
            .await
            .expect("create db");
        master.close().await;
        Self::open(name).await
    }

    fn fresh_name() -> String {
        format!(
            "bottlecrm_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &Uuid::new_v4().simple().to_string()[..8]
        )
    }

    async fn open(name: String) -> TestDb {
        let url = with_db(&master_url(), &name);
        let admin = db::connect(&url, 3)
            .await
            .expect("connect test db as superuser");
        let app_url = db::url_for_role(&url, "crm_app", None).expect("app url");
        // The app pool connects lazily: an empty database has no app role grants yet.
        // Session limits as the server sets them (`Config::for_tests`); a longer wait for a
        // connection, since parallel tests share the machine.
        let settings = db::AppPoolSettings {
            acquire_timeout: std::time::Duration::from_secs(30),
            ..Config::for_tests(&app_url).app_pool()
        };
        let app = settings
            .pool_options()
            .connect_lazy_with(settings.connect_options(&app_url).expect("app url"));
        TestDb { name, admin, app }
    }

    pub fn url(&self) -> String {
        with_db(&master_url(), &self.name)
    }

    pub fn app_url(&self) -> String {
        db::url_for_role(&self.url(), "crm_app", None).expect("app url")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::fs::remove_dir_all(crate::config::test_media_root(&self.url()));
        // Async drop is not a thing: finish on a helper thread with its own runtime. The pools
        // are not closed here (their tasks live on the test's runtime, which this blocks);
        // DROP ... WITH (FORCE) ends their connections instead.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(master) = db::connect(&master_url(), 1).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&master)
                    .await;
                    master.close().await;
                }
            });
        })
        .join();
    }
}

/// A response with its body parsed as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// The router over a fresh database, plus helpers to call it.
pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub router: Router,
}

/// Credentials of a user created by a test.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub profile_id: Uuid,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::from_db(TestDb::new().await, tweak)
    }

    /// The router over an existing test database (e.g. one adopted from upstream).
    pub fn from_db(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut cfg = Config::for_tests(&db.app_url());
        tweak(&mut cfg);
        let state = AppState::new(db.app.clone(), cfg);
        let router = crate::router(state.clone());
        TestApp { db, state, router }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("valid request");
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        Self::send_via(&self.router, req).await
    }

    /// A second server over the same database, with its own state (caches, limiters), as a
    /// second `serve` process sharing the database would be.
    pub fn twin(&self) -> Router {
        crate::router(AppState::new(self.db.app.clone(), self.state.cfg.clone()))
    }

    /// Sends `req` to `router` (e.g. a `twin`).
    pub async fn send_via(router: &Router, req: Request<Body>) -> TestResponse {
        let res = router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request(Method::POST, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request(Method::PATCH, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request(Method::DELETE, path, token, None).await
    }

    /// A new active user who is ADMIN of a new org, logged in to it.
    pub async fn admin(&self, email: &str) -> TestUser {
        let password = "correct-horse-battery".to_string();
        let created = crate::common::bootstrap::create_superuser(
            &self.db.app,
            email,
            &password,
            &format!("Org of {}", email.replace('@', " at ")),
        )
        .await
        .expect("create admin");
        self.login_user(created.user_id, created.org_id, email, &password)
            .await
    }

    /// A new active user with a membership of `role` in `org_id`, logged in to it.
    pub async fn member(&self, org_id: Uuid, email: &str, role: &str) -> TestUser {
        let password = "member-password-1".to_string();
        let user_id = Uuid::new_v4();
        sqlx::query("INSERT INTO users (id, password, is_superuser, email, is_active, is_staff) VALUES ($1, $2, false, $3, true, false)")
            .bind(user_id)
            .bind(crate::auth::password::hash(&password))
            .bind(email)
            .execute(&self.db.admin)
            .await
            .expect("insert user");
        self.add_membership(user_id, org_id, role).await;
        self.login_user(user_id, org_id, email, &password).await
    }

    pub async fn add_membership(&self, user_id: Uuid, org_id: Uuid, role: &str) -> Uuid {
        let pid = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO profile (created_at, updated_at, id, role, has_sales_access, has_marketing_access, is_active,
                                  is_organization_admin, org_id, user_id)
             VALUES (now(), now(), $1, $2, false, false, true, false, $3, $4)",
        )
        .bind(pid)
        .bind(role)
        .bind(org_id)
        .bind(user_id)
        .execute(&self.db.admin)
        .await
        .expect("insert profile");
        pid
    }

    async fn login_user(
        &self,
        user_id: Uuid,
        org_id: Uuid,
        email: &str,
        password: &str,
    ) -> TestUser {
        let res = self
            .post(
                "/api/auth/login/",
                None,
                &serde_json::json!({"email": email, "password": password, "org_id": org_id}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login failed: {}", res.text);
        let (profile_id,): (Uuid,) =
            sqlx::query_as("SELECT id FROM profile WHERE user_id = $1 AND org_id = $2")
                .bind(user_id)
                .bind(org_id)
                .fetch_one(&self.db.admin)
                .await
                .expect("profile");
        TestUser {
            user_id,
            org_id,
            profile_id,
            email: email.into(),
            password: password.into(),
            access: res.body["access_token"]
                .as_str()
                .expect("access_token")
                .into(),
            refresh: res.body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .into(),
        }
    }
}
