use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the frontend's contacts page reads of each contact (frontend-api.md), plus upstream's keys.
const CONTACT_KEYS: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "organization",
    "title",
    "department",
    "do_not_call",
    "linkedin_url",
    "address_line",
    "city",
    "state",
    "postcode",
    "country",
    "assigned_to",
    "teams",
    "tags",
    "description",
    "created_by",
    "created_at",
    "updated_at",
    "is_active",
    "org",
    "account",
    "accounts",
    "task_count",
    "opportunity_count",
    "case_count",
    "event_count",
];

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/contacts/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Contact created Successfuly");
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn scalar_i64(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

/// A tag (through the API) and an account (no accounts module here: straight into the table).
async fn tag_and_account(app: &TestApp, admin: &TestUser, name: &str) -> (Uuid, Uuid) {
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": name, "color": "blue"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let tag = res.body["tag"]["id"].as_str().unwrap().parse().unwrap();
    let account = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id)
         VALUES (now(), now(), $1, $2, true, $3)",
    )
    .bind(account)
    .bind(format!("{name} Inc"))
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    (tag, account)
}

/// The frontend's create body (contacts page, frontend-payloads.md §3): empties as null.
fn frontend_body(first: &str, email: Option<&str>, tags: &[Uuid], account: Option<Uuid>) -> Value {
    json!({
        "first_name": first, "last_name": "Doe", "email": email, "phone": null, "organization": "Acme",
        "title": null, "department": null, "linkedin_url": null, "address_line": null, "city": "Paris",
        "state": null, "postcode": null, "country": "FR", "description": null, "do_not_call": false,
        "tags": tags, "account": account,
    })
}

#[tokio::test]
async fn contacts_list_has_the_keys_the_frontend_reads() {
    let app = TestApp::new().await;
    let admin = app.admin("c-admin@example.com").await;
    let (tag, account) = tag_and_account(&app, &admin, "Vip").await;
    let id = create(
        &app,
        &admin,
        frontend_body("Jane", Some("jane@acme.io"), &[tag], Some(account)),
    )
    .await;
    create(&app, &admin, frontend_body("Bob", None, &[], None)).await;
    let res = app.get("/api/contacts/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in [
        "per_page",
        "page_number",
        "count",
        "results",
        "contacts_count",
        "offset",
        "contact_obj_list",
        "users",
        "countries",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(res.body["contacts_count"], 2);
    assert_eq!(res.body["offset"], Value::Null, "last page");
    let list = res.body["contact_obj_list"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(res.body["results"], res.body["contact_obj_list"]);
    let jane = list.iter().find(|c| c["id"] == json!(id)).unwrap();
    let mut keys: Vec<&str> = jane
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = CONTACT_KEYS.to_vec();
    keys.sort();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(jane["tags"][0]["id"], json!(tag), "tags as objects");
    assert_eq!(jane["tags"][0]["name"], "Vip");
    assert_eq!(jane["created_by"]["email"], "c-admin@example.com");
    assert_eq!(jane["account"], json!(account));
    assert_eq!(
        jane["accounts"],
        json!([{"id": account, "name": "Vip Inc"}])
    );
    assert_eq!(jane["org"]["id"], json!(admin.org_id));
    assert!(jane["org"].get("api_key").is_none());
    for k in [
        "task_count",
        "opportunity_count",
        "case_count",
        "event_count",
    ] {
        assert_eq!(jane[k], 0, "{k}");
    }
    assert_eq!(res.body["users"][0]["user__email"], "c-admin@example.com");
}

#[tokio::test]
async fn contacts_validation_and_unique_email() {
    let app = TestApp::new().await;
    let admin = app.admin("cv@example.com").await;
    let res = app
        .post(
            "/api/contacts/",
            Some(&admin.access),
            &json!({"first_name": "", "email": "nope", "phone": "abc", "linkedin_url": "x",
                    "country": "ZZ", "do_not_call": "maybe", "account": "bad", "tags": ["x"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], true);
    for f in [
        "first_name",
        "last_name",
        "email",
        "phone",
        "linkedin_url",
        "country",
        "do_not_call",
        "account",
        "tags",
    ] {
        assert!(res.body["errors"][f].is_array(), "{f}: {}", res.text);
    }
    let id = create(
        &app,
        &admin,
        frontend_body("Ann", Some("Ann@X.io"), &[], None),
    )
    .await;
    let res = app
        .post(
            "/api/contacts/",
            Some(&admin.access),
            &frontend_body("Other", Some("ann@x.IO"), &[], None),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body["errors"]["email"][0],
        "Contact already exists with this email"
    );
    // The frontend's edit re-sends the unchanged e-mail (trap): not a clash with itself; the
    // letter case may change.
    let mut body = frontend_body("Ann", Some("ann@x.io"), &[], None);
    body.as_object_mut().unwrap().remove("account");
    let res = app
        .patch(&format!("/api/contacts/{id}/"), Some(&admin.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Contact Updated Successfully");
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT count(*) FROM contacts WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn contacts_user_sees_and_edits_own_and_assigned_only() {
    let app = TestApp::new().await;
    let admin = app.admin("cu-admin@example.com").await;
    let user = app
        .member(admin.org_id, "cu-user@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "cu-other@example.com", "USER")
        .await;
    let admins = create(&app, &admin, frontend_body("Hidden", None, &[], None)).await;
    let assigned = create(
        &app,
        &admin,
        json!({"first_name": "Assigned", "last_name": "X", "assigned_to": [user.profile_id]}),
    )
    .await;
    // A USER's own contact has no assignee (the frontend has no field): they may still edit it.
    let own = create(&app, &user, frontend_body("Own", None, &[], None)).await;

    let res = app.get("/api/contacts/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mut ids: Vec<String> = res.body["contact_obj_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![assigned.to_string(), own.to_string()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(res.body["contacts_count"], 2);

    let res = app
        .patch(
            &format!("/api/contacts/{own}/"),
            Some(&user.access),
            &json!({"first_name": "Mine"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for path in [
        format!("/api/contacts/{admins}/"),
        format!("/api/contacts/{own}/"),
    ] {
        let res = app
            .patch(&path, Some(&other.access), &json!({"first_name": "Z"}))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
        let res = app.get(&path, Some(&other.access)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    }
    // Delete: admin or creator only (an assignee may not).
    let res = app
        .delete(&format!("/api/contacts/{assigned}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    let res = app
        .delete(&format!("/api/contacts/{own}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Contact Deleted Successfully.");
    let res = app
        .delete(&format!("/api/contacts/{assigned}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn contacts_other_orgs_ids_are_404_in_path_and_400_in_body() {
    let app = TestApp::new().await;
    let admin = app.admin("co-a@example.com").await;
    let stranger = app.admin("co-b@example.com").await;
    let (their_tag, their_account) = tag_and_account(&app, &stranger, "Theirs").await;
    let theirs = create(&app, &stranger, frontend_body("Them", None, &[], None)).await;
    let mine = create(&app, &admin, frontend_body("Me", None, &[], None)).await;

    let path = format!("/api/contacts/{theirs}/");
    assert_eq!(
        app.get(&path, Some(&admin.access)).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .patch(&path, Some(&admin.access), &json!({"first_name": "Hijack"}))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&path, Some(&admin.access)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/contacts/not-a-uuid/", Some(&admin.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let my_path = format!("/api/contacts/{mine}/");
    for body in [
        json!({"tags": [their_tag]}),
        json!({"account": their_account}),
        json!({"assigned_to": [stranger.profile_id]}),
        json!({"assigned_to": [stranger.user_id]}),
        json!({"teams": [Uuid::new_v4()]}),
    ] {
        let res = app.patch(&my_path, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        let field = body.as_object().unwrap().keys().next().unwrap().clone();
        assert!(res.body["errors"][&field].is_array(), "{}", res.text);
    }
    let first: String = sqlx::query_scalar("SELECT first_name FROM contacts WHERE id = $1")
        .bind(theirs)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(first, "Them");
    for table in ["contacts_tags", "contacts_assigned_to", "contacts_teams"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE contact_id = $1"
        )))
        .bind(mine)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT count(*) FROM contacts WHERE id = $1 AND account_id IS NULL",
            mine
        )
        .await,
        1
    );
}

#[tokio::test]
async fn contacts_filters_ordering_and_pagination() {
    let app = TestApp::new().await;
    let admin = app.admin("cf@example.com").await;
    let (tag, account) = tag_and_account(&app, &admin, "Hot").await;
    for (i, name) in ["Alice", "Bob", "Carol", "Dave", "Eve"].iter().enumerate() {
        let tags = if i % 2 == 0 { vec![tag] } else { vec![] };
        let acc = (i == 1).then_some(account);
        create(
            &app,
            &admin,
            frontend_body(name, Some(&format!("{name}@mail.io")), &tags, acc),
        )
        .await;
    }
    let names = |res: &crm::testkit::TestResponse| -> Vec<String> {
        res.body["contact_obj_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["first_name"].as_str().unwrap().to_string())
            .collect()
    };
    let get = |q: &str| {
        let path = format!("/api/contacts/?{q}");
        let token = admin.access.clone();
        let app = &app;
        async move { app.get(&path, Some(&token)).await }
    };
    let res = get("ordering=first_name&limit=2&offset=2").await;
    assert_eq!(names(&res), ["Carol", "Dave"]);
    assert_eq!(res.body["offset"], 4);
    assert_eq!(res.body["page_number"], json!([2]));
    let res = get("ordering=-first_name&limit=2&offset=4").await;
    assert_eq!(names(&res), ["Alice"]);
    assert_eq!(res.body["offset"], Value::Null);
    let res = get(&format!("tags={tag}&ordering=first_name")).await;
    assert_eq!(names(&res), ["Alice", "Carol", "Eve"]);
    assert_eq!(res.body["contacts_count"], 3);
    let res = get("search=BOB").await;
    assert_eq!(names(&res), ["Bob"]);
    let res = get(&format!("account={account}")).await;
    assert_eq!(names(&res), ["Bob"]);
    let res = get("name=car&city=par").await;
    assert_eq!(names(&res), ["Carol"]);
    // Bare dates: `__lte` includes that whole day.
    let today = chrono::Utc::now().date_naive();
    let res = get(&format!("created_at__gte={today}&created_at__lte={today}")).await;
    assert_eq!(res.body["contacts_count"], 5);
    // Malformed values are a 400 naming the key, never a 500.
    for (q, key) in [
        ("created_at__gte=notadate", "created_at__gte"),
        ("tags=xyz", "tags"),
        ("assigned_to=1,2", "assigned_to"),
        ("account=x", "account"),
        ("is_active=maybe", "is_active"),
    ] {
        let res = get(q).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}: {}", res.text);
        assert!(res.body[key].is_array(), "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn contacts_frontend_traps() {
    let app = TestApp::new().await;
    let admin = app.admin("ct@example.com").await;
    let (tag, _) = tag_and_account(&app, &admin, "Round").await;
    let id = create(&app, &admin, frontend_body("Tim", None, &[tag], None)).await;
    let list = app.get("/api/contacts/", Some(&admin.access)).await;
    let row = list.body["contact_obj_list"][0].clone();
    // The inline edit maps tags with `t.id || t`: the list's tag objects come back as ids.
    let tags: Vec<Value> = row["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    let body = json!({
        "first_name": row["first_name"], "last_name": row["last_name"], "email": row["email"],
        "phone": row["phone"], "organization": row["organization"], "title": row["title"],
        "department": row["department"], "linkedin_url": row["linkedin_url"],
        "address_line": row["address_line"], "city": row["city"], "state": row["state"],
        "postcode": row["postcode"], "country": row["country"], "description": row["description"],
        "do_not_call": true, "tags": tags, "org": admin.org_id, "created_by": "ignored",
    });
    let res = app
        .patch(&format!("/api/contacts/{id}/"), Some(&admin.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Whole tag objects re-sent are read by their ids too.
    let res = app
        .patch(
            &format!("/api/contacts/{id}/"),
            Some(&admin.access),
            &json!({"tags": row["tags"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT count(*) FROM contacts_tags WHERE contact_id = $1",
            id
        )
        .await,
        1
    );
    // A member's user id in `assigned_to` is their profile (issue 9 item 1, as for leads).
    let res = app
        .patch(
            &format!("/api/contacts/{id}/"),
            Some(&admin.access),
            &json!({"assigned_to": [admin.user_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let p: Uuid =
        sqlx::query_scalar("SELECT profile_id FROM contacts_assigned_to WHERE contact_id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(p, admin.profile_id);
    // PUT requires the names and empties absent lists.
    let res = app
        .put(
            &format!("/api/contacts/{id}/"),
            Some(&admin.access),
            &json!({"email": "tim@x.io"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let res = app
        .put(
            &format!("/api/contacts/{id}/"),
            Some(&admin.access),
            &json!({"first_name": "Tim", "last_name": "Doe"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT count(*) FROM contacts_tags WHERE contact_id = $1",
            id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn contacts_detail_comments_assignment_mail_and_delete_cascades() {
    let app = TestApp::new().await;
    let admin = app.admin("cd@example.com").await;
    let user = app
        .member(admin.org_id, "cd-user@example.com", "USER")
        .await;
    let (_, account) = tag_and_account(&app, &admin, "Det").await;
    let id = create(
        &app,
        &admin,
        json!({"first_name": "Dee", "last_name": "Tail", "city": "Rome", "account": account,
               "assigned_to": [user.profile_id]}),
    )
    .await;
    // The assignment e-mail is queued in the create's transaction.
    let to: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'to' FROM jobs WHERE kind = 'email' AND payload->>'template' = 'assignment'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(to, vec!["cd-user@example.com".to_string()]);
    let res = app
        .post(
            &format!("/api/contacts/{id}/"),
            Some(&admin.access),
            &json!({"comment": "Called her"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/contacts/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in [
        "contact_obj",
        "address_obj",
        "countries",
        "comments",
        "attachments",
        "assigned_data",
        "tasks",
        "users_mention",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    assert_eq!(res.body["contact_obj"]["id"], json!(id));
    assert_eq!(res.body["address_obj"]["city"], "Rome");
    assert_eq!(res.body["comments"][0]["comment"], "Called her");
    assert_eq!(res.body["assigned_data"][0]["id"], json!(user.user_id));
    // Upstream's comment route for contacts works too.
    let res = app
        .get(&format!("/api/contacts/comment/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    // Delete: links removed, FKs elsewhere nulled, comments gone, activity recorded.
    let res = app
        .delete(&format!("/api/contacts/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for sql in [
        "SELECT count(*) FROM contacts WHERE id = $1",
        "SELECT count(*) FROM contacts_assigned_to WHERE contact_id = $1",
        "SELECT count(*) FROM accounts_contacts WHERE contact_id = $1",
        "SELECT count(*) FROM comment WHERE object_id = $1",
    ] {
        assert_eq!(scalar_i64(&app, sql, id).await, 0, "{sql}");
    }
    assert_eq!(
        scalar_i64(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND entity_type = 'Contact'",
            id
        )
        .await,
        3
    );
}

#[tokio::test]
async fn contacts_list_is_cached_until_a_write() {
    let app = TestApp::new().await;
    let admin = app.admin("cs@example.com").await;
    let (tag, account) = tag_and_account(&app, &admin, "Stmt").await;
    for i in 0..3 {
        create(
            &app,
            &admin,
            frontend_body(&format!("N{i}"), None, &[tag], Some(account)),
        )
        .await;
    }
    let first = app.get("/api/contacts/", Some(&admin.access)).await;
    assert_eq!(first.status, StatusCode::OK);
    let second = app.get("/api/contacts/", Some(&admin.access)).await;
    assert_eq!(first.text, second.text, "served from the cache");
    // A write to a watched table invalidates the cached page.
    create(&app, &admin, frontend_body("New", None, &[], None)).await;
    let third = app.get("/api/contacts/", Some(&admin.access)).await;
    assert_eq!(third.body["contacts_count"], 4);
}
