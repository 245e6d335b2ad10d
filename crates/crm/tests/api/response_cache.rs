//! The lead list's response cache: pages are reused only while nothing they show has changed,
//! whoever wrote (this process, another one with the org context, a script without it).

use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

async fn list(app: &TestApp, who: &TestUser) -> Value {
    let res = app.get("/api/leads/", Some(&who.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

fn titles(page: &Value) -> Vec<String> {
    page["open_leads"]["open_leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/leads/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

/// Runs `sql` as the app role in `org`'s context, as another server process would.
async fn write_as_org(app: &TestApp, org: Uuid, sql: &str) {
    let mut tx = app.db.app.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.current_org', $1, true)")
        .bind(org.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Renames a lead without bumping the data version (its trigger off for the statement).
async fn retitle_behind_the_cache(app: &TestApp, id: Uuid, title: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE lead DISABLE TRIGGER cache_touch;
         UPDATE lead SET title = '{title}' WHERE id = '{id}';
         ALTER TABLE lead ENABLE TRIGGER cache_touch;"
    )))
    .execute(&app.db.admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn cached_pages_are_served_until_a_watched_write() {
    let app = TestApp::new().await;
    let admin = app.admin("cache-admin@example.com").await;
    let id = create(&app, &admin, json!({"title": "First"})).await;
    let first = list(&app, &admin).await;
    assert_eq!(titles(&first), ["First"]);

    // Proof that the second read is the cached page: a write that skips the version trigger is
    // not seen...
    retitle_behind_the_cache(&app, id, "Unseen").await;
    assert_eq!(list(&app, &admin).await, first);

    // ...while any write through the triggers is, at once.
    let res = app
        .patch(
            &format!("/api/leads/{id}/"),
            Some(&admin.access),
            &json!({"title": "Patched"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(titles(&list(&app, &admin).await), ["Patched"]);
}

#[tokio::test]
async fn writes_from_elsewhere_invalidate_cached_pages() {
    let app = TestApp::new().await;
    let admin = app.admin("cache-elsewhere@example.com").await;
    let member = app
        .member(admin.org_id, "cache-member@example.com", "USER")
        .await;
    let id = create(
        &app,
        &admin,
        json!({"title": "Lead", "assigned_to": [member.profile_id]}),
    )
    .await;
    let page = list(&app, &admin).await;
    assert_eq!(titles(&page), ["Lead"]);

    // Another process with the org context (app role, RLS on).
    write_as_org(
        &app,
        admin.org_id,
        &format!("UPDATE lead SET title = 'From another server' WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(titles(&list(&app, &admin).await), ["From another server"]);

    // A script without org context (superuser): the global version moves.
    sqlx::query("UPDATE lead SET title = 'From a script' WHERE id = $1")
        .bind(id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(titles(&list(&app, &admin).await), ["From a script"]);

    // Nested objects: an assignee's e-mail lives in `users`, shared by every org.
    sqlx::query("UPDATE users SET email = 'renamed@example.com' WHERE id = $1")
        .bind(member.user_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let page = list(&app, &admin).await;
    let lead = &page["open_leads"]["open_leads"][0];
    assert_eq!(
        lead["assigned_to"][0]["user_details"]["email"],
        "renamed@example.com"
    );
    let users: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user__email"].as_str().unwrap())
        .collect();
    assert!(users.contains(&"renamed@example.com"), "{users:?}");

    // The lookup lists: a new contact and a new tag appear.
    write_as_org(
        &app,
        admin.org_id,
        &format!(
            "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, do_not_call, is_active, org_id)
             VALUES (now(), now(), gen_random_uuid(), 'Carla', 'Contact', false, true, '{}');
             INSERT INTO tags (created_at, updated_at, id, name, slug, org_id, color, description, is_active)
             VALUES (now(), now(), gen_random_uuid(), 'Fresh', 'fresh', '{}', 'blue', '', true)",
            admin.org_id, admin.org_id
        ),
    )
    .await;
    let page = list(&app, &admin).await;
    assert_eq!(page["contacts"][0]["first_name"], "Carla");
    assert_eq!(page["tags"][0]["name"], "Fresh");

    // A rolled-back write leaves the version (and the page) as they were.
    let before = list(&app, &admin).await;
    let mut tx = app.db.app.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.current_org', $1, true)")
        .bind(admin.org_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE lead SET title = 'Rolled back' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(list(&app, &admin).await, before);
}

#[tokio::test]
async fn cached_pages_never_cross_callers_or_orgs() {
    let app = TestApp::new().await;
    let admin = app.admin("cache-owner@example.com").await;
    let other_admin = app
        .member(admin.org_id, "cache-admin2@example.com", "ADMIN")
        .await;
    let user = app
        .member(admin.org_id, "cache-user@example.com", "USER")
        .await;
    let outsider = app.admin("cache-outsider@example.com").await;
    create(&app, &admin, json!({"title": "Admin's"})).await;
    create(&app, &user, json!({"title": "User's"})).await;
    create(&app, &outsider, json!({"title": "Outsider's"})).await;

    // The same query string, filled by the admin first.
    assert_eq!(titles(&list(&app, &admin).await), ["User's", "Admin's"]);
    assert_eq!(titles(&list(&app, &admin).await), ["User's", "Admin's"]);
    assert_eq!(titles(&list(&app, &user).await), ["User's"]);
    assert_eq!(
        titles(&list(&app, &other_admin).await),
        ["User's", "Admin's"]
    );
    assert_eq!(titles(&list(&app, &outsider).await), ["Outsider's"]);
    // Filters are part of the key.
    let res = app
        .get("/api/leads/?search=admin", Some(&admin.access))
        .await;
    assert_eq!(titles(&res.body), ["Admin's"]);
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let app = TestApp::with_config(|c| c.response_cache_bytes = 0).await;
    let admin = app.admin("cache-off@example.com").await;
    let id = create(&app, &admin, json!({"title": "Before"})).await;
    assert_eq!(titles(&list(&app, &admin).await), ["Before"]);
    // Without a cache even a write that skips the trigger shows.
    retitle_behind_the_cache(&app, id, "After").await;
    assert_eq!(titles(&list(&app, &admin).await), ["After"]);
}
