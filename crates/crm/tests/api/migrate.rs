use axum::http::StatusCode;
use crm::db;
use crm::testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

/// Loads upstream's schema dump as Django would have left it, with its `django_migrations`.
async fn load_upstream_schema(db: &TestDb) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let schema = std::fs::read_to_string(root.join("shared/upstream/schema.sql"))
        .or_else(|_| std::fs::read_to_string(root.join("../shared/upstream/schema.sql")))
        .expect("shared/upstream/schema.sql beside the repository");
    // psql meta-commands (\restrict) are not SQL.
    let sql: String = schema
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&db.admin)
        .await
        .expect("upstream schema loads");
    // The dump resets search_path for its session; pooled connections must not keep that.
    db.admin.close().await;
    let migrations = std::fs::read_to_string(root.join("shared/upstream/django_migrations.txt"))
        .or_else(|_| std::fs::read_to_string(root.join("../shared/upstream/django_migrations.txt")))
        .expect("django_migrations.txt");
    let pool = db::connect(&db.url(), 1).await.unwrap();
    for line in migrations.lines().filter(|l| !l.trim().is_empty()) {
        let (app, name) = line.split_once(' ').unwrap();
        sqlx::query("INSERT INTO django_migrations (app, name, applied) VALUES ($1, $2, now())")
            .bind(app)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn fresh_database_migrates_and_is_idempotent() {
    let db = TestDb::empty().await;
    let report = db::migrate::run(&db.admin).await.unwrap();
    assert!(!report.adopted);
    assert!(report.applied.len() >= 3, "{:?}", report.applied);
    let report = db::migrate::run(&db.admin).await.unwrap();
    assert!(report.applied.is_empty());
    // Every application table of upstream exists.
    for t in [
        "users",
        "organization",
        "profile",
        "lead",
        "accounts",
        "contacts",
        "opportunity",
        "case",
        "task",
        "invoice",
        "estimate",
        "board",
        "comment",
        "attachments",
        "apiSettings",
        "security_audit_log",
        "django_content_type",
    ] {
        let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.\"{t}\""))
            .fetch_one(&db.admin)
            .await
            .unwrap();
        assert!(exists, "{t} missing");
    }
}

#[tokio::test]
async fn upstream_database_is_adopted_in_place_and_old_password_logs_in() {
    let db = TestDb::empty().await;
    load_upstream_schema(&db).await;
    let admin = db::connect(&db.url(), 2).await.unwrap();
    // Data as upstream left it: an org, a user with a Django hash, a profile.
    let (org, user, profile) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO organization (created_at, updated_at, id, name, api_key, is_active, default_currency, address_line,
                                   city, company_name, country, email, phone, postcode, state, tax_id, website)
         VALUES (now(), now(), $1, 'Legacy Ltd', $2, true, 'EUR', '', '', '', '', '', '', '', '', '', '')",
    )
    .bind(org)
    .bind(Uuid::new_v4().to_string())
    .execute(&admin)
    .await
    .unwrap();
    let hash = crm::auth::password::django_pbkdf2_hash("django-era-pass", "AbCdEf123456", 1000);
    sqlx::query("INSERT INTO users (id, password, is_superuser, email, is_active, is_staff) VALUES ($1, $2, false, 'old@example.com', true, false)")
        .bind(user)
        .bind(&hash)
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO profile (created_at, updated_at, id, role, has_sales_access, has_marketing_access, is_active,
                              is_organization_admin, org_id, user_id)
         VALUES (now(), now(), $1, 'ADMIN', true, true, true, true, $2, $3)",
    )
    .bind(profile)
    .bind(org)
    .bind(user)
    .execute(&admin)
    .await
    .unwrap();

    let report = db::migrate::run(&admin).await.unwrap();
    assert!(report.adopted, "recognised as an upstream database");
    assert!(
        !report.applied.iter().any(|m| m.starts_with("0001")),
        "0001 not run: {:?}",
        report.applied
    );
    db::roles::ensure_app_role(&admin, "crm_app", None)
        .await
        .unwrap();
    // Data untouched.
    let (name,): (Option<String>,) = sqlx::query_as("SELECT name FROM organization WHERE id = $1")
        .bind(org)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("Legacy Ltd"));
    // Upstream's weaker policies were replaced by ours.
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_policies WHERE policyname = 'org_insert_check'")
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_eq!(n, 0);
    assert!(
        db::rls::status(&admin)
            .await
            .unwrap()
            .iter()
            .all(|t| t.ok())
    );

    // Log in over HTTP with the old password, as the app role.
    let app = crm::testkit::TestApp::from_db(db, |_| {});
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "old@example.com", "password": "django-era-pass"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["current_org"]["name"], "Legacy Ltd");
    let token = res.body["access_token"].as_str().unwrap().to_string();
    let res = app.get("/api/org/settings/", Some(&token)).await;
    assert_eq!(res.body["default_currency"], "EUR");
    // Running migrate again is a no-op.
    assert!(db::migrate::run(&admin).await.unwrap().applied.is_empty());
}

#[tokio::test]
async fn partially_migrated_upstream_database_is_refused() {
    let db = TestDb::empty().await;
    sqlx::query("CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), applied timestamptz)").execute(&db.admin).await.unwrap();
    sqlx::query("INSERT INTO django_migrations (app, name, applied) VALUES ('common', '0001_initial', now())").execute(&db.admin).await.unwrap();
    let err = db::migrate::run(&db.admin).await.unwrap_err();
    assert!(format!("{err:#}").contains("not fully migrated"), "{err:#}");
}
