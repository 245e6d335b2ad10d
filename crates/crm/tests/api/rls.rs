use axum::http::StatusCode;
use crm::db::{rls, tenant};
use crm::testkit::{TestApp, TestDb};
use serde_json::json;
use uuid::Uuid;

async fn insert_tag(
    conn: &mut sqlx::PgConnection,
    org: Uuid,
    name: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO tags (created_at, updated_at, id, name, slug, org_id, color, description, is_active)
         VALUES (now(), now(), $1, $2, $2, $3, 'blue', '', true)",
    )
    .bind(id)
    .bind(name)
    .bind(org)
    .execute(conn)
    .await?;
    Ok(id)
}

#[tokio::test]
async fn app_role_is_not_privileged() {
    let db = TestDb::new().await;
    let role = crm::db::role_info(&db.app).await.unwrap();
    assert_eq!(role.name, "crm_app");
    assert!(role.is_safe_for_serving(), "{role:?}");
    let admin_role = crm::db::role_info(&db.admin).await.unwrap();
    assert!(!admin_role.is_safe_for_serving());
}

#[tokio::test]
async fn no_context_means_no_rows_and_no_writes() {
    let app = TestApp::new().await;
    let a = app.admin("a@example.com").await;
    let mut tx = tenant::begin(&app.db.app, Some(a.org_id), None)
        .await
        .unwrap();
    insert_tag(&mut tx, a.org_id, "mine").await.unwrap();
    tx.commit().await.unwrap();

    // Without context: nothing visible, nothing insertable.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tags")
        .fetch_one(&app.db.app)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let (p,): (i64,) = sqlx::query_as("SELECT count(*) FROM profile")
        .fetch_one(&app.db.app)
        .await
        .unwrap();
    assert_eq!(p, 0, "profile is protected too");
    let mut conn = app.db.app.acquire().await.unwrap();
    let err = insert_tag(&mut conn, a.org_id, "sneaky").await.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    // Empty string context is as good as none.
    let mut tx = app.db.app.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.current_org', '', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tags")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The superuser sees the row: it is there.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tags")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn context_is_transaction_scoped_and_isolates_orgs() {
    let app = TestApp::new().await;
    let a = app.admin("a@example.com").await;
    let b = app.admin("b@example.com").await;
    for (org, name) in [(a.org_id, "a-tag"), (b.org_id, "b-tag")] {
        let mut tx = tenant::begin(&app.db.app, Some(org), None).await.unwrap();
        insert_tag(&mut tx, org, name).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = tenant::begin(&app.db.app, Some(a.org_id), None)
        .await
        .unwrap();
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM tags")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, vec![("a-tag".to_string(),)]);
    // Inserting a row for another org from this context is rejected by WITH CHECK.
    let err = insert_tag(&mut tx, b.org_id, "cross").await.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    drop(tx);
    // Updating a row into another org is rejected too.
    let mut tx = tenant::begin(&app.db.app, Some(a.org_id), None)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE tags SET org_id = $1")
        .bind(b.org_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    drop(tx);
    // After a committed transaction the pooled connection carries no context.
    let mut conn = app.db.app.acquire().await.unwrap();
    let (ctx,): (Option<String>,) =
        sqlx::query_as("SELECT current_setting('app.current_org', true)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(ctx.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn join_tables_cannot_link_foreign_rows() {
    let app = TestApp::new().await;
    let a = app.admin("a@example.com").await;
    let b = app.admin("b@example.com").await;
    let mut tx = tenant::begin(&app.db.app, Some(a.org_id), None)
        .await
        .unwrap();
    let team = Uuid::new_v4();
    sqlx::query("INSERT INTO teams (created_at, updated_at, id, name, description, org_id) VALUES (now(), now(), $1, 't', '', $2)")
        .bind(team)
        .bind(a.org_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    // Own profile: fine.
    sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
        .bind(team)
        .bind(a.profile_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    // A profile of org B: the FK would accept it, the join-table policy does not.
    sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
    let err = sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
        .bind(team)
        .bind(b.profile_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    sqlx::query("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // From org B's context the link row is invisible.
    let mut tx = tenant::begin(&app.db.app, Some(b.org_id), None)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM teams_users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn cross_org_ids_are_404_and_change_nothing() {
    let app = TestApp::new().await;
    let a = app.admin("a@example.com").await;
    let b = app.admin("b@example.com").await;
    let res = app
        .get(&format!("/api/org/{}/", b.org_id), Some(&a.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body, json!({"detail": "Not found."}));
    let res = app
        .patch(
            &format!("/api/org/{}/", b.org_id),
            Some(&a.access),
            &json!({"name": "Hijacked"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let (name,): (Option<String>,) = sqlx::query_as("SELECT name FROM organization WHERE id = $1")
        .bind(b.org_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_ne!(name.as_deref(), Some("Hijacked"));
    // A token naming an org the user is not a member of.
    let forged = app.state.jwt.issue_pair(
        a.user_id,
        Some(&crm::auth::jwt::OrgClaims {
            org_id: b.org_id,
            org_name: None,
            default_currency: None,
            default_country: None,
            role: Some("ADMIN".into()),
        }),
        0,
    );
    let res = app.get("/api/org/settings/", Some(&forged.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .patch(
            "/api/org/settings/",
            Some(&forged.access),
            &json!({"name": "Hijacked"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let (name,): (Option<String>,) = sqlx::query_as("SELECT name FROM organization WHERE id = $1")
        .bind(b.org_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_ne!(name.as_deref(), Some("Hijacked"));
}

#[tokio::test]
async fn status_reports_every_table_and_fails_when_a_policy_is_dropped() {
    let db = TestDb::new().await;
    let tables = rls::status(&db.admin).await.unwrap();
    assert!(tables.iter().all(|t| t.ok()), "all protected after migrate");
    let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    for t in [
        "lead",
        "profile",
        "security_audit_log",
        "teams_users",
        "lead_assigned_to",
        "document_shared_to",
        "apiSettings_tags",
    ] {
        assert!(names.contains(&t), "{t} not protected");
    }
    assert!(tables.len() >= 70, "{} tables", tables.len());
    sqlx::query("DROP POLICY org_isolation ON lead")
        .execute(&db.admin)
        .await
        .unwrap();
    let tables = rls::status(&db.admin).await.unwrap();
    let lead = tables.iter().find(|t| t.table == "lead").unwrap();
    assert!(!lead.ok() && lead.enabled && !lead.policy);
    rls::enable(&db.admin).await.unwrap();
    assert!(rls::status(&db.admin).await.unwrap().iter().all(|t| t.ok()));
    rls::disable(&db.admin).await.unwrap();
    assert!(
        rls::status(&db.admin)
            .await
            .unwrap()
            .iter()
            .all(|t| !t.enabled && !t.policy)
    );
}

#[tokio::test]
async fn self_test_passes_as_app_role() {
    let db = TestDb::new().await;
    let report = rls::self_test(&db.app).await.unwrap();
    assert!(report.passed(), "{report:?}");
    // ...and fails once RLS is off: the test can fail.
    rls::disable(&db.admin).await.unwrap();
    let report = rls::self_test(&db.app).await.unwrap();
    assert!(!report.passed(), "{report:?}");
}

#[tokio::test]
async fn pool_connections_run_without_jit() {
    let db = TestDb::new().await;
    let (jit,): (String,) = sqlx::query_as("SHOW jit").fetch_one(&db.app).await.unwrap();
    assert_eq!(jit, "off");
}
