//! Accounts: list envelopes and filters, detail, writes, delete cascades, create_mail, USER vs
//! ADMIN, other orgs' ids. Test names say which upstream bug each one pins down.

use std::time::Duration;

use axum::http::StatusCode;
use crm::jobs::{Worker, WorkerOptions};
use crm::mail::Mailer;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

const ACCOUNT_KEYS: &[&str] = &[
    "id",
    "name",
    "email",
    "phone",
    "website",
    "industry",
    "number_of_employees",
    "annual_revenue",
    "currency",
    "address_line",
    "city",
    "state",
    "postcode",
    "country",
    "country_display",
    "assigned_to",
    "teams",
    "contacts",
    "tags",
    "description",
    "cases",
    "tasks",
    "opportunities",
    "created_by",
    "created_at",
    "is_active",
    "org",
    "updated_at",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// Runs `sql` as the database owner with the given ids bound in order.
async fn exec(app: &TestApp, sql: &str, ids: &[Uuid]) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(&app.db.admin).await.unwrap();
}

async fn scalar(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

/// A row of a small org-scoped table (`tags`, `teams` or `contacts`), returning its id.
async fn fixture(app: &TestApp, kind: &str, org: Uuid, label: &str) -> Uuid {
    let id = Uuid::new_v4();
    let sql = match kind {
        "tag" => "INSERT INTO tags (created_at, updated_at, id, org_id, name, slug, color, description, is_active)
                  VALUES (now(), now(), $1, $2, $3, lower($3), 'red', '', true)",
        "team" => "INSERT INTO teams (created_at, updated_at, id, org_id, name, description)
                   VALUES (now(), now(), $1, $2, $3, '')",
        _ => "INSERT INTO contacts (created_at, updated_at, id, org_id, first_name, last_name, email, do_not_call, is_active)
              VALUES (now(), now(), $1, $2, $3, 'Contact', lower($3) || '@example.net', false, true)",
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .bind(label)
        .execute(&app.db.admin)
        .await
        .unwrap();
    id
}

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/accounts/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Account Created Successfully");
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn list(app: &TestApp, who: &TestUser, query: &str) -> Value {
    let res = app
        .get(&format!("/api/accounts/?{query}"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

fn names(v: &Value, section: &str, rows: &str) -> Vec<String> {
    v[section][rows]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

fn open_names(v: &Value) -> Vec<String> {
    names(v, "active_accounts", "open_accounts")
}

#[tokio::test]
async fn accounts_create_list_detail_shapes() {
    let app = TestApp::new().await;
    let admin = app.admin("aa@example.com").await;
    let user = app.member(admin.org_id, "au@example.com", "USER").await;
    let tag = fixture(&app, "tag", admin.org_id, "Hot").await;
    let team = fixture(&app, "team", admin.org_id, "Sales").await;
    let contact = fixture(&app, "contact", admin.org_id, "Kim").await;
    // The frontend's create body: nulls for empty fields, numbers, id arrays.
    let id = create(
        &app,
        &admin,
        json!({"name": "Globex", "email": "info@globex.test", "phone": "+1 555 0100",
               "website": "globex.test", "industry": "SOFTWARE", "description": null,
               "address_line": null, "city": "Springfield", "state": null, "postcode": null,
               "country": "US", "annual_revenue": 1250000.5, "currency": "USD",
               "number_of_employees": 120, "assigned_to": [user.profile_id],
               "contacts": [contact], "tags": [tag], "teams": [team]}),
    )
    .await;
    create(&app, &admin, json!({"name": "Initech", "is_active": false})).await;

    let b = list(&app, &admin, "").await;
    assert_eq!(
        keys(&b),
        sorted(&[
            "per_page",
            "page_number",
            "active_accounts",
            "contacts",
            "closed_accounts",
            "teams",
            "countries",
            "industries",
            "tags",
            "users",
            "leads",
            "status"
        ])
    );
    assert_eq!(b["page_number"], json!([1]));
    assert_eq!(b["active_accounts"]["open_accounts_count"], 1);
    assert_eq!(b["active_accounts"]["offset"], Value::Null);
    assert_eq!(b["closed_accounts"]["close_accounts_count"], 1);
    assert_eq!(b["closed_accounts"]["close_accounts"][0]["name"], "Initech");
    assert_eq!(b["status"], json!(["active", "inactive"]));
    assert_eq!(b["contacts"], json!([{"id": contact, "first_name": "Kim"}]));
    assert!(
        b["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == json!(user.profile_id) && u["user__email"] == "au@example.com")
    );
    assert_eq!(b["tags"][0]["slug"], "hot");
    let a = &b["active_accounts"]["open_accounts"][0];
    assert_eq!(keys(a), sorted(ACCOUNT_KEYS));
    assert_eq!(a["id"], json!(id));
    assert_eq!(a["annual_revenue"], "1250000.50");
    assert_eq!(a["number_of_employees"], 120);
    assert_eq!(a["country_display"], "United States");
    assert_eq!(a["assigned_to"][0]["id"], json!(user.profile_id));
    assert_eq!(
        a["assigned_to"][0]["user_details"]["email"],
        "au@example.com"
    );
    assert_eq!(a["tags"][0]["id"], json!(tag));
    assert_eq!(a["teams"][0]["id"], json!(team));
    assert_eq!(a["contacts"][0]["id"], json!(contact));
    assert_eq!(a["contacts"][0]["first_name"], "Kim");
    assert_eq!(a["created_by"]["email"], "aa@example.com");
    assert_eq!(a["org"]["id"], json!(admin.org_id));
    assert!(a["org"].get("api_key").is_none());
    for k in ["opportunities", "cases", "tasks"] {
        assert_eq!(a[k], json!([]));
    }

    let res = app
        .get(&format!("/api/accounts/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = &res.body;
    for k in [
        "account_obj",
        "attachments",
        "comments",
        "contacts",
        "opportunity_list",
        "users",
        "cases",
        "teams",
        "stages",
        "sources",
        "countries",
        "currencies",
        "case_types",
        "case_priority",
        "case_status",
        "comment_permission",
        "tasks",
        "invoices",
        "emails",
        "users_mention",
        "leads",
        "status",
    ] {
        assert!(d.get(k).is_some(), "detail lacks {k}");
    }
    assert_eq!(keys(&d["account_obj"]), sorted(ACCOUNT_KEYS));
    assert_eq!(d["contacts"][0]["id"], json!(contact));
    assert_eq!(d["comment_permission"], true);
    assert_eq!(d["status"], json!(["open", "close"]));
    for k in [
        "opportunity_list",
        "cases",
        "tasks",
        "invoices",
        "emails",
        "comments",
        "attachments",
    ] {
        assert_eq!(d[k], json!([]), "{k}");
    }
}

#[tokio::test]
async fn accounts_validation_errors_write_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("av@example.com").await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": "x".repeat(256)}), "name"),
        (json!({"name": "A", "email": "nope"}), "email"),
        (json!({"name": "A", "phone": "12"}), "phone"),
        (json!({"name": "A", "website": "not a site"}), "website"),
        (json!({"name": "A", "industry": "MAGIC"}), "industry"),
        (json!({"name": "A", "currency": "XYZ"}), "currency"),
        (json!({"name": "A", "country": "Narnia"}), "country"),
        (
            json!({"name": "A", "number_of_employees": -1}),
            "number_of_employees",
        ),
        (
            json!({"name": "A", "number_of_employees": "many"}),
            "number_of_employees",
        ),
        (
            json!({"name": "A", "annual_revenue": "1.234"}),
            "annual_revenue",
        ),
        (json!({"name": "A", "postcode": "1".repeat(65)}), "postcode"),
        (json!({"name": "A", "is_active": "maybe"}), "is_active"),
        (json!({"name": "A", "tags": ["not-a-uuid"]}), "tags"),
        (json!({"name": "A", "assigned_to": 5}), "assigned_to"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/accounts/", Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert_eq!(res.body["error"], true);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn accounts_negative_revenue_is_400_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("ar@example.com").await;
    let res = app
        .post(
            "/api/accounts/",
            Some(&admin.access),
            &json!({"name": "Neg", "annual_revenue": -5}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(
        res.body["errors"]["annual_revenue"][0]
            .as_str()
            .unwrap()
            .contains("greater than or equal to 0")
    );
}

#[tokio::test]
async fn accounts_name_unique_case_insensitively_and_letter_case_rename_works_upstream_quirk() {
    let app = TestApp::new().await;
    let admin = app.admin("an@example.com").await;
    let id = create(&app, &admin, json!({"name": "Globex"})).await;
    let res = app
        .post(
            "/api/accounts/",
            Some(&admin.access),
            &json!({"name": "GLOBEX"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body["errors"]["name"],
        json!(["Account already exists with this name"])
    );
    // The frontend re-sends the unchanged name on every edit, and a case-only rename is allowed.
    for name in ["Globex", "globex"] {
        let res = app
            .patch(
                &format!("/api/accounts/{id}/"),
                Some(&admin.access),
                &json!({"name": name, "city": "X"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let other = create(&app, &admin, json!({"name": "Initech"})).await;
    let res = app
        .put(
            &format!("/api/accounts/{other}/"),
            Some(&admin.access),
            &json!({"name": "GLOBEX"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    // Another org may use the name.
    let admin2 = app.admin("an2@example.com").await;
    create(&app, &admin2, json!({"name": "globex"})).await;
}

#[tokio::test]
async fn accounts_create_takes_tag_ids_as_the_frontend_sends_upstream_took_names() {
    let app = TestApp::new().await;
    let admin = app.admin("at@example.com").await;
    let tag = fixture(&app, "tag", admin.org_id, "Enterprise").await;
    let id = create(&app, &admin, json!({"name": "Tagged", "tags": [tag]})).await;
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM tags WHERE org_id = (SELECT org_id FROM accounts WHERE id = $1)",
            id
        )
        .await,
        1,
        "no tag named after the uuid is created"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_tags WHERE account_id = $1",
            id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn accounts_patch_toggles_is_active_between_the_envelopes() {
    let app = TestApp::new().await;
    let admin = app.admin("ai@example.com").await;
    let id = create(&app, &admin, json!({"name": "Toggle"})).await;
    let path = format!("/api/accounts/{id}/");
    let res = app
        .patch(&path, Some(&admin.access), &json!({"is_active": false}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Account Updated Successfully");
    let b = list(&app, &admin, "").await;
    assert_eq!(b["active_accounts"]["open_accounts_count"], 0);
    assert_eq!(
        names(&b, "closed_accounts", "close_accounts"),
        vec!["Toggle"]
    );
    app.patch(&path, Some(&admin.access), &json!({"is_active": true}))
        .await;
    assert_eq!(open_names(&list(&app, &admin, "").await), vec!["Toggle"]);
}

#[tokio::test]
async fn accounts_put_replaces_lists_and_patch_keeps_absent_ones() {
    let app = TestApp::new().await;
    let admin = app.admin("ap@example.com").await;
    let tag = fixture(&app, "tag", admin.org_id, "T1").await;
    let contact = fixture(&app, "contact", admin.org_id, "Ann").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Lists", "tags": [tag], "contacts": [contact]}),
    )
    .await;
    let path = format!("/api/accounts/{id}/");
    // PUT takes real JSON arrays (upstream: 500 after clearing the lists).
    let res = app
        .put(
            &path,
            Some(&admin.access),
            &json!({"name": "Lists", "tags": [tag]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_contacts WHERE account_id = $1",
            id
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_tags WHERE account_id = $1",
            id
        )
        .await,
        1
    );
    let res = app
        .patch(&path, Some(&admin.access), &json!({"contacts": [contact]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_tags WHERE account_id = $1",
            id
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_contacts WHERE account_id = $1",
            id
        )
        .await,
        1
    );
    let res = app
        .put(&path, Some(&admin.access), &json!({"city": "X"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "PUT requires the name");
}

#[tokio::test]
async fn accounts_user_sees_own_assigned_and_team_accounts_admin_sees_all() {
    let app = TestApp::new().await;
    let admin = app.admin("au1@example.com").await;
    let user = app.member(admin.org_id, "uu1@example.com", "USER").await;
    let team = fixture(&app, "team", admin.org_id, "Team").await;
    exec(
        &app,
        "INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)",
        &[team, user.profile_id],
    )
    .await;
    let hidden = create(&app, &admin, json!({"name": "Hidden"})).await;
    create(
        &app,
        &admin,
        json!({"name": "Assigned", "assigned_to": [user.profile_id]}),
    )
    .await;
    create(&app, &admin, json!({"name": "Teamed", "teams": [team]})).await;
    create(&app, &user, json!({"name": "Own"})).await;

    let mut seen = open_names(&list(&app, &user, "").await);
    seen.sort();
    assert_eq!(seen, vec!["Assigned", "Own", "Teamed"]);
    assert_eq!(
        list(&app, &admin, "").await["active_accounts"]["open_accounts_count"],
        4
    );
    let path = format!("/api/accounts/{hidden}/");
    let res = app.get(&path, Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "You do not have Permission to perform this action"})
    );
    let res = app
        .patch(&path, Some(&user.access), &json!({"name": "Mine now"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app.delete(&path, Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts WHERE id = $1 AND name = 'Hidden'",
            hidden
        )
        .await,
        1
    );
}

#[tokio::test]
async fn accounts_detail_for_assigned_user_works_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("ad5@example.com").await;
    let user = app.member(admin.org_id, "ud5@example.com", "USER").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Shared", "assigned_to": [user.profile_id]}),
    )
    .await;
    let res = app
        .get(&format!("/api/accounts/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["account_obj"]["name"], "Shared");
    assert_eq!(res.body["comment_permission"], false);
    // A creator who is not assigned may also edit (upstream compared a Profile with a User).
    let own = create(&app, &user, json!({"name": "Created by user"})).await;
    let res = app
        .patch(
            &format!("/api/accounts/{own}/"),
            Some(&user.access),
            &json!({"city": "Oslo"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn accounts_other_orgs_ids_are_404_in_the_path_and_400_in_the_body() {
    let app = TestApp::new().await;
    let admin = app.admin("ax1@example.com").await;
    let other = app.admin("ax2@example.com").await;
    let theirs = create(&app, &other, json!({"name": "Theirs"})).await;
    let their_tag = fixture(&app, "tag", other.org_id, "Foreign").await;
    let their_contact = fixture(&app, "contact", other.org_id, "Foreign").await;
    let path = format!("/api/accounts/{theirs}/");
    for res in [
        app.get(&path, Some(&admin.access)).await,
        app.patch(&path, Some(&admin.access), &json!({"name": "Mine"}))
            .await,
        app.put(&path, Some(&admin.access), &json!({"name": "Mine"}))
            .await,
        app.delete(&path, Some(&admin.access)).await,
        app.post(
            &format!("{path}create_mail/"),
            Some(&admin.access),
            &json!({"from_email": "a@b.co", "recipients": [their_contact]}),
        )
        .await,
        app.get("/api/accounts/not-a-uuid/", Some(&admin.access))
            .await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let mine = create(&app, &admin, json!({"name": "Mine"})).await;
    for (field, id) in [
        ("tags", their_tag),
        ("contacts", their_contact),
        ("assigned_to", other.profile_id),
        ("teams", Uuid::new_v4()),
    ] {
        let res = app
            .patch(
                &format!("/api/accounts/{mine}/"),
                Some(&admin.access),
                &json!({"name": "Changed", field: [id]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{}", res.text);
        let res = app
            .post(
                "/api/accounts/",
                Some(&admin.access),
                &json!({"name": "New", field: [id]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {}", res.text);
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts WHERE org_id = $1 AND name = 'Mine'",
            admin.org_id
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts WHERE name = 'Theirs' AND id = $1",
            theirs
        )
        .await,
        1
    );
}

#[tokio::test]
async fn accounts_assigned_to_accepts_a_member_user_id_as_well_as_a_profile_id() {
    let app = TestApp::new().await;
    let admin = app.admin("aui@example.com").await;
    let user = app.member(admin.org_id, "uui@example.com", "USER").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "By user id", "assigned_to": [user.user_id]}),
    )
    .await;
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM accounts_assigned_to WHERE account_id = $1",
            id
        )
        .await,
        1
    );
    let b = list(&app, &admin, "").await;
    assert_eq!(
        b["active_accounts"]["open_accounts"][0]["assigned_to"][0]["id"],
        json!(user.profile_id)
    );
}

#[tokio::test]
async fn accounts_filters_ordering_and_pagination() {
    let app = TestApp::new().await;
    let admin = app.admin("af@example.com").await;
    let user = app.member(admin.org_id, "uf@example.com", "USER").await;
    let tag = fixture(&app, "tag", admin.org_id, "Vip").await;
    create(
        &app,
        &admin,
        json!({"name": "Alpha", "city": "Berlin", "industry": "SOFTWARE", "tags": [tag]}),
    )
    .await;
    create(&app, &admin, json!({"name": "Beta", "city": "Paris", "industry": "BANKING", "assigned_to": [user.profile_id]})).await;
    create(
        &app,
        &admin,
        json!({"name": "Gamma", "city": "berlin", "industry": "SOFTWARE"}),
    )
    .await;
    exec(
        &app,
        "UPDATE accounts SET created_at = '2025-01-15T10:00:00Z' WHERE org_id = $1 AND name = 'Gamma'",
        &[admin.org_id],
    )
    .await;

    let sorted_names = |v: &Value| {
        let mut n = open_names(v);
        n.sort();
        n
    };
    assert_eq!(
        sorted_names(&list(&app, &admin, "name=alp").await),
        vec!["Alpha"]
    );
    assert_eq!(
        sorted_names(&list(&app, &admin, "search=ET").await),
        vec!["Beta"]
    );
    assert_eq!(
        sorted_names(&list(&app, &admin, "city=BERLIN").await),
        vec!["Alpha", "Gamma"]
    );
    assert_eq!(
        sorted_names(&list(&app, &admin, "industry=soft").await),
        vec!["Alpha", "Gamma"]
    );
    // upstream: 500 for any `tags` value
    assert_eq!(
        sorted_names(&list(&app, &admin, &format!("tags={tag}")).await),
        vec!["Alpha"]
    );
    assert_eq!(
        sorted_names(
            &list(
                &app,
                &admin,
                &format!(
                    "assigned_to={}&assigned_to={}",
                    Uuid::new_v4(),
                    user.profile_id
                )
            )
            .await
        ),
        vec!["Beta"]
    );
    // A bare date as the upper bound includes that day.
    assert_eq!(
        sorted_names(&list(&app, &admin, "created_at__lte=2025-01-15").await),
        vec!["Gamma"]
    );
    assert_eq!(
        sorted_names(&list(&app, &admin, "created_at__gte=2025-01-16").await),
        vec!["Alpha", "Beta"]
    );
    for bad in ["created_at__gte=yesterday", "tags=nope", "assigned_to=1"] {
        let res = app
            .get(&format!("/api/accounts/?{bad}"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text);
    }
    assert_eq!(
        open_names(&list(&app, &admin, "ordering=name").await),
        vec!["Alpha", "Beta", "Gamma"]
    );
    assert_eq!(
        open_names(&list(&app, &admin, "ordering=-name").await),
        vec!["Gamma", "Beta", "Alpha"]
    );
    // Default: newest first.
    assert_eq!(open_names(&list(&app, &admin, "").await)[2], "Gamma");
    // limit/offset sent twice: the last one wins.
    let page = list(
        &app,
        &admin,
        "limit=10&offset=0&ordering=name&limit=2&offset=0",
    )
    .await;
    assert_eq!(open_names(&page), vec!["Alpha", "Beta"]);
    assert_eq!(page["active_accounts"]["offset"], 2);
    assert_eq!(page["active_accounts"]["open_accounts_count"], 3);
    let page = list(&app, &admin, "ordering=name&limit=2&offset=2").await;
    assert_eq!(open_names(&page), vec!["Gamma"]);
    assert_eq!(page["active_accounts"]["offset"], Value::Null);
    assert_eq!(page["page_number"], json!([2]));
}

#[tokio::test]
async fn accounts_delete_cascades_explicitly_and_unlinks_contacts_and_tasks() {
    let app = TestApp::new().await;
    let admin = app.admin("adc@example.com").await;
    let contact = fixture(&app, "contact", admin.org_id, "Linked").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Doomed", "contacts": [contact]}),
    )
    .await;
    let (opp, case, task) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    exec(
        &app,
        "UPDATE contacts SET account_id = $1 WHERE id = $2",
        &[id, contact],
    )
    .await;
    exec(
        &app,
        "INSERT INTO opportunity (created_at, updated_at, id, name, stage, is_active, amount_source, org_id, account_id)
         VALUES (now(), now(), $1, 'Deal', 'PROSPECTING', true, 'MANUAL', $2, $3)",
        &[opp, admin.org_id, id],
    )
    .await;
    exec(
        &app,
        "INSERT INTO \"case\" (created_at, updated_at, id, name, status, priority, is_active,
                               sla_first_response_hours, sla_resolution_hours, org_id, account_id)
         VALUES (now(), now(), $1, 'Broken', 'New', 'Low', true, 4, 24, $2, $3)",
        &[case, admin.org_id, id],
    )
    .await;
    exec(
        &app,
        "INSERT INTO task (created_at, updated_at, id, title, status, priority, org_id, account_id)
         VALUES (now(), now(), $1, 'Call', 'New', 'Low', $2, $3)",
        &[task, admin.org_id, id],
    )
    .await;
    let res = app
        .post(
            &format!("/api/accounts/comment/{id}/"),
            Some(&admin.access),
            &json!({"comment": "bye"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    // Upstream's detail form (POST /api/accounts/<id>/) adds a comment and answers the detail.
    let res = app
        .post(
            &format!("/api/accounts/{id}/"),
            Some(&admin.access),
            &json!({"comment": "hello"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["account_obj"]["id"], json!(id));
    assert_eq!(res.body["comments"].as_array().unwrap().len(), 2);
    let detail = app
        .get(&format!("/api/accounts/{id}/"), Some(&admin.access))
        .await;
    assert!(
        detail.body["comments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["comment"] == "bye")
    );
    assert_eq!(detail.body["opportunity_list"][0]["id"], json!(opp));
    assert_eq!(detail.body["cases"][0]["id"], json!(case));
    assert_eq!(detail.body["tasks"][0]["id"], json!(task));
    let listed = list(&app, &admin, "").await;
    let row = &listed["active_accounts"]["open_accounts"][0];
    assert_eq!(row["opportunities"][0]["amount"], "0");
    assert_eq!(row["cases"], json!([{"id": case, "name": "Broken"}]));
    assert_eq!(row["tasks"], json!([{"id": task, "title": "Call"}]));

    let res = app
        .delete(&format!("/api/accounts/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Account Deleted Successfully.");
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM accounts WHERE id = $1", id).await,
        0
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM opportunity WHERE id = $1", opp).await,
        0
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM \"case\" WHERE id = $1", case).await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM task WHERE id = $1 AND account_id IS NULL",
            task
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM contacts WHERE id = $1 AND account_id IS NULL",
            contact
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM comment WHERE object_id = $1",
            id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn accounts_delete_with_an_estimate_is_409_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("ade@example.com").await;
    let id = create(&app, &admin, json!({"name": "Billed"})).await;
    exec(
        &app,
        "INSERT INTO estimate (created_at, updated_at, id, estimate_number, title, status, client_name, client_email,
                               client_phone, client_address_line, client_city, client_state, client_postcode,
                               client_country, subtotal, discount_type, discount_value, discount_amount, tax_rate,
                               tax_amount, total_amount, currency, issue_date, public_token, public_link_enabled,
                               notes, terms, org_id, account_id)
         VALUES (now(), now(), $1, 'EST-1', 'Quote', 'Draft', 'C', 'c@x.io', '', '', '', '', '', '', 0, '', 0, 0,
                 0, 0, 0, 'USD', current_date, md5(random()::text), false, '', '', $2, $3)",
        &[Uuid::new_v4(), admin.org_id, id],
    )
    .await;
    let res = app
        .delete(&format!("/api/accounts/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    assert!(
        res.body["errors"].as_str().unwrap().contains("estimate"),
        "{}",
        res.text
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM accounts WHERE id = $1", id).await,
        1
    );
}

async fn assignment_mails(app: &TestApp, to: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'email' AND payload->>'template' = 'assignment'
           AND payload->>'to' = $1 AND payload->'context'->>'module' = 'Account'",
    )
    .bind(to)
    .fetch_one(&app.db.admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn accounts_assignment_emails_on_create_put_and_patch_upstream_patch_sent_none() {
    let app = TestApp::new().await;
    let admin = app.admin("aae@example.com").await;
    let u1 = app.member(admin.org_id, "u1ae@example.com", "USER").await;
    let u2 = app.member(admin.org_id, "u2ae@example.com", "USER").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Mail", "assigned_to": [u1.profile_id]}),
    )
    .await;
    assert_eq!(assignment_mails(&app, "u1ae@example.com").await, 1);
    let path = format!("/api/accounts/{id}/");
    app.patch(
        &path,
        Some(&admin.access),
        &json!({"assigned_to": [u1.profile_id, u2.profile_id]}),
    )
    .await;
    assert_eq!(
        assignment_mails(&app, "u1ae@example.com").await,
        1,
        "already assigned"
    );
    assert_eq!(assignment_mails(&app, "u2ae@example.com").await, 1);
    app.put(
        &path,
        Some(&admin.access),
        &json!({"name": "Mail", "assigned_to": []}),
    )
    .await;
    app.put(
        &path,
        Some(&admin.access),
        &json!({"name": "Mail", "assigned_to": [u2.profile_id]}),
    )
    .await;
    assert_eq!(assignment_mails(&app, "u2ae@example.com").await, 2);
}

fn fast_worker(app: &TestApp) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    let opts = WorkerOptions {
        poll_interval: Duration::from_millis(50),
        ..WorkerOptions::default()
    };
    Worker::new(app.db.app.clone(), opts, mailer)
}

#[tokio::test]
async fn accounts_create_mail_sends_through_the_queue_upstream_always_500() {
    let app = TestApp::new().await;
    let admin = app.admin("acm@example.com").await;
    let ann = fixture(&app, "contact", admin.org_id, "Ann").await;
    let bob = fixture(&app, "contact", admin.org_id, "Bob").await;
    let id = create(&app, &admin, json!({"name": "Mailer", "contacts": [ann]})).await;
    let path = format!("/api/accounts/{id}/create_mail/");
    let res = app
        .post(
            &path,
            Some(&admin.access),
            &json!({"from_email": "sales@globex.test", "recipients": [ann, bob],
                    "message_subject": "Hello {{ first_name }}",
                    "message_body": "<p>Dear {{ first_name }},</p>", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Email sent successfully");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM \"emailLogs\" WHERE org_id = $1 AND NOT is_sent",
            admin.org_id
        )
        .await,
        2
    );
    let w = fast_worker(&app);
    assert!(w.drain().await.unwrap() >= 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM \"emailLogs\" WHERE org_id = $1 AND is_sent",
            admin.org_id
        )
        .await,
        2
    );
    let subjects: Vec<(String, String)> = sqlx::query_as(
        "SELECT to_addr, subject FROM mail_outbox WHERE tenant_org_id = $1 ORDER BY to_addr",
    )
    .bind(admin.org_id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        subjects,
        vec![
            ("ann@example.net".to_string(), "Hello Ann".to_string()),
            ("bob@example.net".to_string(), "Hello Bob".to_string())
        ]
    );
    let d = app
        .get(&format!("/api/accounts/{id}/"), Some(&admin.access))
        .await;
    let e = &d.body["emails"][0];
    assert_eq!(e["from_email"], "sales@globex.test");
    assert_eq!(e["message_subject"], "Hello {{ first_name }}");
    assert_eq!(e["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(e["recipients"][0]["is_sent"], true);
}

#[tokio::test]
async fn accounts_create_mail_validates_recipients_and_braces() {
    let app = TestApp::new().await;
    let admin = app.admin("acv@example.com").await;
    let other = app.admin("acv2@example.com").await;
    let foreign = fixture(&app, "contact", other.org_id, "Zed").await;
    let ann = fixture(&app, "contact", admin.org_id, "Ann").await;
    let id = create(&app, &admin, json!({"name": "Checks"})).await;
    let path = format!("/api/accounts/{id}/create_mail/");
    for (body, field) in [
        (
            json!({"from_email": "a@b.co", "recipients": [foreign]}),
            "recipients",
        ),
        (
            json!({"from_email": "a@b.co", "recipients": []}),
            "recipients",
        ),
        (json!({"recipients": [ann]}), "from_email"),
        (
            json!({"from_email": "nope", "recipients": [ann]}),
            "from_email",
        ),
        (
            json!({"from_email": "a@b.co", "recipients": [ann], "message_body": "Hi {{ name }"}),
            "message_body",
        ),
        (
            json!({"from_email": "a@b.co", "recipients": [ann], "scheduled_later": true}),
            "scheduled_date_time",
        ),
        (
            json!({"from_email": "a@b.co", "recipients": [ann], "scheduled_later": true,
                "scheduled_date_time": "soon"}),
            "scheduled_date_time",
        ),
        (
            json!({"from_email": "a@b.co", "recipients": [ann], "timezone": "Mars/Olympus"}),
            "timezone",
        ),
    ] {
        let res = app.post(&path, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{body}: {}", res.text);
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM account_email WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM jobs WHERE tenant_org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn accounts_create_mail_scheduled_later_fires_at_its_time_upstream_never_sent() {
    let app = TestApp::new().await;
    let admin = app.admin("acs@example.com").await;
    let ann = fixture(&app, "contact", admin.org_id, "Ann").await;
    let id = create(&app, &admin, json!({"name": "Later"})).await;
    let res = app
        .post(
            &format!("/api/accounts/{id}/create_mail/"),
            Some(&admin.access),
            &json!({"from_email": "a@b.co", "recipients": [ann], "message_subject": "Soon",
                    "message_body": "Hi", "scheduled_later": true, "timezone": "Asia/Kolkata",
                    "scheduled_date_time": "2099-01-01T09:30:00"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let run_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT run_at FROM jobs WHERE kind = 'account_email' AND tenant_org_id = $1",
    )
    .bind(admin.org_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(run_at.to_rfc3339(), "2099-01-01T04:00:00+00:00");
    let w = fast_worker(&app);
    assert_eq!(w.drain().await.unwrap(), 0, "not before its time");
    exec(
        &app,
        "UPDATE jobs SET run_at = now() WHERE tenant_org_id = $1",
        &[admin.org_id],
    )
    .await;
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM \"emailLogs\" WHERE org_id = $1 AND is_sent",
            admin.org_id
        )
        .await,
        1
    );
}
