use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

const LEAD_KEYS: &[&str] = &[
    "id",
    "title",
    "salutation",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "website",
    "linkedin_url",
    "status",
    "source",
    "industry",
    "rating",
    "opportunity_amount",
    "currency",
    "probability",
    "close_date",
    "address_line",
    "city",
    "state",
    "postcode",
    "country",
    "assigned_to",
    "teams",
    "last_contacted",
    "next_follow_up",
    "description",
    "contacts",
    "tags",
    "created_by",
    "created_at",
    "is_active",
    "company_name",
    "updated_at",
];

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Uuid {
    let res = app.post("/api/leads/", Some(&who.access), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn count(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

async fn tag(app: &TestApp, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO tags (created_at, updated_at, id, name, slug, org_id, color, description, is_active)
         VALUES (now(), now(), $1, $2, lower($2), $3, 'blue', '', true)",
    )
    .bind(id)
    .bind(name)
    .bind(org)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

async fn team(app: &TestApp, org: Uuid, members: &[Uuid]) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO teams (created_at, updated_at, id, name, description, org_id) VALUES (now(), now(), $1, 'Sales', '', $2)",
    )
    .bind(id)
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

async fn contact(app: &TestApp, org: Uuid, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, email, do_not_call, is_active, org_id)
         VALUES (now(), now(), $1, 'Kim', 'Lee', $2, false, true, $3)",
    )
    .bind(id)
    .bind(email)
    .bind(org)
    .execute(&app.db.admin)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn leads_create_list_detail_shapes() {
    let app = TestApp::new().await;
    let admin = app.admin("la@example.com").await;
    let user = app.member(admin.org_id, "lu@example.com", "USER").await;
    let t = tag(&app, admin.org_id, "Hot").await;
    let tm = team(&app, admin.org_id, &[user.profile_id]).await;
    let c = contact(&app, admin.org_id, "kim@example.com").await;
    let id = create(
        &app,
        &admin,
        json!({"title": "Lab lead", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
               "status": "assigned", "source": "call", "company_name": "Analytical Engines",
               "opportunity_amount": "1234.5", "probability": 40, "close_date": "2027-01-14",
               "assigned_to": [user.profile_id], "tags": [t], "teams": [tm], "contacts": [c],
               "org": admin.org_id}),
    )
    .await;
    create(&app, &admin, json!({})).await; // nothing is required
    create(&app, &admin, json!({"title": "Lost", "status": "closed"})).await;

    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["page_number"], json!([1]));
    assert_eq!(b["open_leads"]["leads_count"], 2);
    assert_eq!(b["open_leads"]["offset"], Value::Null);
    assert_eq!(b["close_leads"]["leads_count"], 1);
    assert_eq!(b["close_leads"]["close_leads"][0]["title"], "Lost");
    for k in [
        "contacts",
        "status",
        "source",
        "tags",
        "users",
        "countries",
        "industries",
    ] {
        assert!(b[k].is_array(), "missing {k}");
    }
    assert_eq!(b["status"][0], json!(["assigned", "Assigned"]));
    assert_eq!(b["contacts"][0], json!({"id": c, "first_name": "Kim"}));
    assert_eq!(b["users"].as_array().unwrap().len(), 2);
    assert!(b["users"][0].get("user__email").is_some());
    // Newest first.
    let lead = &b["open_leads"]["open_leads"][1];
    assert_eq!(lead["id"], id.to_string());
    let mut keys: Vec<&str> = lead
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = LEAD_KEYS.to_vec();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
    // Upstream's key order is kept in the raw body.
    let at = |k: &str| res.text.find(&format!("\"{k}\"")).unwrap();
    assert!(at("salutation") < at("first_name") && at("assigned_to") < at("last_contacted"));
    assert_eq!(lead["opportunity_amount"], "1234.50");
    assert_eq!(lead["probability"], 40);
    assert_eq!(lead["close_date"], "2027-01-14");
    assert_eq!(
        lead["assigned_to"][0]["user_details"]["email"],
        "lu@example.com"
    );
    assert_eq!(lead["tags"][0]["name"], "Hot");
    assert_eq!(
        lead["teams"][0]["users"][0]["id"],
        user.profile_id.to_string()
    );
    assert_eq!(lead["contacts"][0]["email"], "kim@example.com");
    assert!(lead["contacts"][0]["org"].get("api_key").is_none());
    assert_eq!(lead["created_by"]["email"], "la@example.com");
    assert!(lead["created_at"].as_str().unwrap().ends_with('Z'));

    let res = app
        .get(&format!("/api/leads/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for k in [
        "lead_obj",
        "attachments",
        "comments",
        "users_mention",
        "assigned_data",
        "users",
        "users_excluding_team",
        "source",
        "status",
        "teams",
        "countries",
    ] {
        assert!(res.body.get(k).is_some(), "detail misses {k}");
    }
    assert_eq!(res.body["lead_obj"]["title"], "Lab lead");
    // The list renders nested objects set-wise, the detail with the PL/pgSQL builders: the same
    // lead, every nested level included (the contact's own assignees, teams and tags too).
    assert_eq!(res.body["lead_obj"], *lead);
    for (q, w) in [
        (
            "INSERT INTO contacts_assigned_to (contact_id, profile_id) VALUES ($1, $2)",
            user.profile_id,
        ),
        (
            "INSERT INTO contacts_assigned_to (contact_id, profile_id) VALUES ($1, $2)",
            admin.profile_id,
        ),
        (
            "INSERT INTO contacts_teams (contact_id, teams_id) VALUES ($1, $2)",
            tm,
        ),
        (
            "INSERT INTO contacts_tags (contact_id, tags_id) VALUES ($1, $2)",
            t,
        ),
    ] {
        sqlx::query(q)
            .bind(c)
            .bind(w)
            .execute(&app.db.admin)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO lead_assigned_to (lead_id, profile_id) VALUES ($1, $2)")
        .bind(id)
        .bind(admin.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let list = app.get("/api/leads/", Some(&admin.access)).await;
    let listed = &list.body["open_leads"]["open_leads"][1];
    assert_eq!(listed["assigned_to"].as_array().unwrap().len(), 2);
    assert_eq!(
        listed["contacts"][0]["assigned_to"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(listed["contacts"][0]["teams"][0]["id"], tm.to_string());
    assert_eq!(listed["contacts"][0]["tags"], json!([t]));
    let detail = app
        .get(&format!("/api/leads/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(detail.body["lead_obj"], *listed);
    assert_eq!(
        res.body["assigned_data"],
        json!([{"id": user.profile_id, "name": "lu@example.com"}])
    );
    // The team member is excluded from users_excluding_team.
    assert_eq!(res.body["users"].as_array().unwrap().len(), 2);
    assert_eq!(
        res.body["users_excluding_team"].as_array().unwrap().len(),
        1
    );

    // Detail ids: not a UUID, unknown, another org's.
    let other = app.admin("other@example.com").await;
    let foreign = create(&app, &other, json!({"title": "theirs"})).await;
    for path in [
        "/api/leads/not-a-uuid/".to_string(),
        format!("/api/leads/{}/", Uuid::new_v4()),
        format!("/api/leads/{foreign}/"),
    ] {
        let res = app.get(&path, Some(&admin.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body, json!({"detail": "Not found."}));
    }
    // Activity was recorded.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND action = 'CREATE'",
            id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn leads_validation_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("lv@example.com").await;
    let other = app.admin("lv2@example.com").await;
    let foreign_tag = tag(&app, other.org_id, "Theirs").await;
    create(&app, &admin, json!({"email": "Taken@Example.com"})).await;
    let cases = [
        (
            json!({"status": "nonsense", "email": "not-an-email"}),
            vec!["status", "email"],
        ),
        (json!({"email": "taken@example.COM"}), vec!["email"]),
        (
            json!({"opportunity_amount": "-5"}),
            vec!["opportunity_amount"],
        ),
        (
            json!({"opportunity_amount": "1.234"}),
            vec!["opportunity_amount"],
        ),
        (json!({"probability": 101}), vec!["probability"]),
        (json!({"probability": -3}), vec!["probability"]),
        (
            json!({"rating": "TEPID", "source": "fax", "industry": "x", "currency": "XXX", "country": "ZZ"}),
            vec!["rating", "source", "industry", "currency", "country"],
        ),
        (
            json!({"close_date": "14/01/2027", "first_name": ""}),
            vec!["close_date", "first_name"],
        ),
        (json!({"tags": [foreign_tag]}), vec!["tags"]),
        (json!({"assigned_to": ["nope"]}), vec!["assigned_to"]),
        (
            json!({"assigned_to": [Uuid::new_v4()], "teams": [Uuid::new_v4()], "contacts": [Uuid::new_v4()]}),
            vec!["assigned_to", "teams", "contacts"],
        ),
        (json!({"status": "converted"}), vec!["email"]),
        (json!({"phone": "call me maybe"}), vec!["phone"]),
    ];
    for (body, fields) in cases {
        let res = app.post("/api/leads/", Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert_eq!(res.body["error"], true);
        let errors = res.body["errors"].as_object().unwrap();
        for f in &fields {
            assert!(
                errors.contains_key(*f),
                "{body}: expected error on {f}: {}",
                res.text
            );
        }
        assert_eq!(errors.len(), fields.len(), "{body}: {}", res.text);
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
    let res = app
        .post(
            "/api/leads/",
            Some(&admin.access),
            &json!({"tags": [foreign_tag]}),
        )
        .await;
    assert_eq!(
        res.body["errors"]["tags"][0],
        format!("Invalid pk \"{foreign_tag}\" - object does not exist.")
    );
}

#[tokio::test]
async fn leads_user_sees_and_edits_only_own_assigned_or_team() {
    let app = TestApp::new().await;
    let admin = app.admin("pa@example.com").await;
    let u1 = app.member(admin.org_id, "u1@example.com", "USER").await;
    let u2 = app.member(admin.org_id, "u2@example.com", "USER").await;
    let tm = team(&app, admin.org_id, &[u2.profile_id]).await;
    let own = create(&app, &u1, json!({"title": "u1 own"})).await;
    let assigned = create(
        &app,
        &admin,
        json!({"title": "to u1", "assigned_to": [u1.profile_id]}),
    )
    .await;
    let via_team = create(&app, &admin, json!({"title": "team", "teams": [tm]})).await;
    let hidden = create(&app, &admin, json!({"title": "admin only"})).await;

    let titles = |res: &crm::testkit::TestResponse| -> Vec<String> {
        res.body["open_leads"]["open_leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["title"].as_str().unwrap().to_string())
            .collect()
    };
    let res = app.get("/api/leads/", Some(&u1.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(titles(&res), vec!["to u1", "u1 own"]);
    assert_eq!(res.body["open_leads"]["leads_count"], 2);
    let res = app.get("/api/leads/", Some(&u2.access)).await;
    assert_eq!(titles(&res), vec!["team"]);
    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.body["open_leads"]["leads_count"], 4);

    for id in [own, assigned] {
        let res = app
            .get(&format!("/api/leads/{id}/"), Some(&u1.access))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let res = app
            .patch(
                &format!("/api/leads/{id}/"),
                Some(&u1.access),
                &json!({"rating": "HOT"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(
            res.body,
            json!({"error": false, "message": "Lead updated Successfully"})
        );
    }
    let res = app
        .put(
            &format!("/api/leads/{via_team}/"),
            Some(&u2.access),
            &json!({"title": "team v2", "teams": [tm]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    // PUT has the same check as PATCH; neither changes anything.
    for res in [
        app.put(
            &format!("/api/leads/{hidden}/"),
            Some(&u1.access),
            &json!({"title": "mine now"}),
        )
        .await,
        app.patch(
            &format!("/api/leads/{hidden}/"),
            Some(&u1.access),
            &json!({"title": "mine now"}),
        )
        .await,
        app.get(&format!("/api/leads/{hidden}/"), Some(&u1.access))
            .await,
    ] {
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
        assert_eq!(
            res.body,
            json!({"error": true, "errors": "You do not have Permission to perform this action"})
        );
    }
    let title: String = sqlx::query_scalar("SELECT title FROM lead WHERE id = $1")
        .bind(hidden)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(title, "admin only");

    // Delete: admin or creator only.
    let res = app
        .delete(&format!("/api/leads/{assigned}/"), Some(&u1.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "you don't have permission to delete this lead"})
    );
    // Links are removed with the lead (the foreign keys are deferred, so leftovers would fail).
    let t = tag(&app, admin.org_id, "Gone").await;
    let c = contact(&app, admin.org_id, "gone@example.com").await;
    let body = json!({"assigned_to": [u1.profile_id], "tags": [t], "teams": [tm], "contacts": [c]});
    let res = app
        .patch(&format!("/api/leads/{own}/"), Some(&u1.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .delete(&format!("/api/leads/{own}/"), Some(&u1.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Lead deleted Successfully"})
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead_tags WHERE lead_id = $1",
            own
        )
        .await,
        0
    );
    let res = app
        .delete(&format!("/api/leads/{hidden}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND action = 'DELETE'",
            hidden
        )
        .await,
        1
    );
    let res = app
        .get(&format!("/api/leads/{hidden}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn leads_other_org_ids_are_404_and_unchanged() {
    let app = TestApp::new().await;
    let a = app.admin("oa@example.com").await;
    let b = app.admin("ob@example.com").await;
    let theirs = create(&app, &b, json!({"title": "B's"})).await;
    let path = format!("/api/leads/{theirs}/");
    for res in [
        app.patch(&path, Some(&a.access), &json!({"title": "hacked"}))
            .await,
        app.put(&path, Some(&a.access), &json!({"title": "hacked"}))
            .await,
        app.patch(&path, Some(&a.access), &json!({"status": "converted"}))
            .await,
        app.delete(&path, Some(&a.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let title: String = sqlx::query_scalar("SELECT title FROM lead WHERE id = $1")
        .bind(theirs)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(title, "B's");
    let res = app.get("/api/leads/", Some(&a.access)).await;
    assert_eq!(res.body["open_leads"]["leads_count"], 0);
    // Another org's assignee cannot be linked.
    let mine = create(&app, &a, json!({"title": "A's"})).await;
    let res = app
        .patch(
            &format!("/api/leads/{mine}/"),
            Some(&a.access),
            &json!({"assigned_to": [b.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead_assigned_to WHERE lead_id = $1",
            mine
        )
        .await,
        0
    );
}

#[tokio::test]
async fn leads_pagination_filters_and_ordering() {
    let app = TestApp::new().await;
    let admin = app.admin("pf@example.com").await;
    let u = app.member(admin.org_id, "pu@example.com", "USER").await;
    let t = tag(&app, admin.org_id, "VIP").await;
    for i in 0..12 {
        let mut body = json!({"title": format!("Lead {i:02}"), "first_name": format!("N{i:02}"),
                              "status": if i % 2 == 0 { "assigned" } else { "in process" },
                              "city": if i < 3 { "Paris" } else { "Rome" }});
        if i == 5 {
            body["tags"] = json!([t]);
            body["assigned_to"] = json!([u.profile_id]);
        }
        create(&app, &admin, body).await;
    }
    let get = |q: &str| {
        let q = q.to_string();
        let app = &app;
        let token = admin.access.clone();
        async move { app.get(&format!("/api/leads/?{q}"), Some(&token)).await }
    };
    let res = get("limit=5&offset=0&limit=5&offset=10").await; // last value wins
    assert_eq!(res.body["page_number"], json!([3]));
    assert_eq!(
        res.body["open_leads"]["open_leads"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(res.body["open_leads"]["offset"], Value::Null);
    let res = get("limit=5").await;
    assert_eq!(res.body["open_leads"]["offset"], 5);
    assert_eq!(res.body["open_leads"]["open_leads"][0]["title"], "Lead 11");
    let res = get("ordering=first_name&limit=3").await;
    assert_eq!(res.body["open_leads"]["open_leads"][0]["first_name"], "N00");
    let res = get("ordering=-title,bogus&limit=1").await;
    assert_eq!(res.body["open_leads"]["open_leads"][0]["title"], "Lead 11");
    let res = get("offset=50").await;
    assert_eq!(res.body["open_leads"]["offset"], 0);

    for (q, n) in [
        ("city=par", 3),
        ("status=in%20process", 6),
        ("search=lead%2007", 1),
        (&format!("tags={t}") as &str, 1),
        (
            &format!(
                "assigned_to={}&assigned_to={}",
                Uuid::new_v4(),
                u.profile_id
            ),
            1,
        ),
        ("created_at__gte=2000-01-01&created_at__lte=2999-01-01", 12),
        ("created_at__gte=2999-01-01", 0),
        ("status=converted", 0),
    ] {
        let res = get(q).await;
        assert_eq!(res.status, StatusCode::OK, "{q}: {}", res.text);
        assert_eq!(res.body["open_leads"]["leads_count"], n, "{q}");
    }
    for q in [
        "tags=nope",
        "assigned_to=1",
        "created_at__gte=yesterday",
        "close_date__lte=2027-13-01",
    ] {
        let res = get(q).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn leads_conversion_creates_account_contact_opportunity_once() {
    let app = TestApp::new().await;
    let admin = app.admin("cv@example.com").await;
    let user = app.member(admin.org_id, "cvu@example.com", "USER").await;
    let t = tag(&app, admin.org_id, "Won").await;
    let id = create(
        &app,
        &admin,
        json!({"title": "Deal", "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.mil",
               "company_name": "Navy", "opportunity_amount": "5000", "source": "compaign",
               "assigned_to": [user.profile_id], "tags": [t]}),
    )
    .await;
    let path = format!("/api/leads/{id}/");
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "converted"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Lead Converted Successfully");
    let account: Uuid = res.body["account_id"].as_str().unwrap().parse().unwrap();
    let contact: Uuid = res.body["contact_id"].as_str().unwrap().parse().unwrap();
    let opp: Uuid = res.body["opportunity_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (name,): (String,) = sqlx::query_as("SELECT name FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(name, "Navy");
    let (cacc,): (Option<Uuid>,) = sqlx::query_as("SELECT account_id FROM contacts WHERE id = $1")
        .bind(contact)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(cacc, Some(account));
    let (oname, stage, source, prob): (String, String, Option<String>, Option<i32>) =
        sqlx::query_as(
            "SELECT name, stage, lead_source, probability FROM opportunity WHERE id = $1",
        )
        .bind(opp)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(
        (oname.as_str(), stage.as_str()),
        ("Navy - Grace Hopper", "QUALIFICATION")
    );
    assert_eq!(source.as_deref(), Some("CAMPAIGN"));
    assert_eq!(prob, Some(25));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM accounts_assigned_to WHERE account_id = $1",
            account
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM opportunity_tags WHERE opportunity_id = $1",
            opp
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM accounts_contacts WHERE account_id = $1",
            account
        )
        .await,
        1
    );
    // Converted leads leave the list; converting twice is a clear 400 that changes nothing.
    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.body["open_leads"]["leads_count"], 0);
    let res = app
        .patch(&path, Some(&admin.access), &json!({"status": "converted"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["status"].is_array());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM accounts WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );

    // Into an existing account name (case-insensitive): 400, nothing written.
    let id2 = create(
        &app,
        &admin,
        json!({"company_name": "NAVY", "first_name": "Ann"}),
    )
    .await;
    let res = app
        .patch(
            &format!("/api/leads/{id2}/"),
            Some(&admin.access),
            &json!({"status": "converted"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["company_name"].is_array());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM accounts WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1
    );
    let (status,): (Option<String>,) = sqlx::query_as("SELECT status FROM lead WHERE id = $1")
        .bind(id2)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(status, None);

    // No company: the account is named after the person, never "X None"; no e-mail, no contact.
    let res = app
        .post(
            "/api/leads/",
            Some(&admin.access),
            &json!({"first_name": "Solo", "status": "converted", "email": null}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["contact_id"], Value::Null);
    let account: Uuid = res.body["account_id"].as_str().unwrap().parse().unwrap();
    let (name,): (String,) = sqlx::query_as("SELECT name FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(name, "Solo");
}

#[tokio::test]
async fn leads_conversion_failure_midway_writes_nothing() {
    let app = TestApp::new().await;
    let admin = app.admin("cf@example.com").await;
    let id = create(
        &app,
        &admin,
        json!({"first_name": "Mid", "last_name": "Way", "email": "mid@way.io", "company_name": "Midway"}),
    )
    .await;
    // Account and contact are created, then the opportunity insert fails.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_opp() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = 'check_violation'; END $$;
         CREATE TRIGGER fail_opp BEFORE INSERT ON opportunity FOR EACH ROW EXECUTE FUNCTION fail_opp();",
    )
    .execute(&app.db.admin)
    .await
    .unwrap();
    let res = app
        .patch(
            &format!("/api/leads/{id}/"),
            Some(&admin.access),
            &json!({"status": "converted", "title": "edited"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for table in ["accounts", "contacts", "opportunity"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&app.db.admin)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    let (status, title): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT status, title FROM lead WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!((status, title), (None, None));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND action = 'UPDATE'",
            id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn leads_counts_follow_writes() {
    let app = TestApp::new().await;
    let admin = app.admin("cn@example.com").await;
    let a = create(&app, &admin, json!({"status": "assigned"})).await;
    create(&app, &admin, json!({"status": "closed"})).await;
    let get_counts = || async {
        let res = app.get("/api/leads/", Some(&admin.access)).await;
        (
            res.body["open_leads"]["leads_count"].clone(),
            res.body["close_leads"]["leads_count"].clone(),
        )
    };
    assert_eq!(get_counts().await, (json!(1), json!(1)));
    app.patch(
        &format!("/api/leads/{a}/"),
        Some(&admin.access),
        &json!({"status": "closed"}),
    )
    .await;
    assert_eq!(get_counts().await, (json!(0), json!(2)));
    app.delete(&format!("/api/leads/{a}/"), Some(&admin.access))
        .await;
    assert_eq!(get_counts().await, (json!(0), json!(1)));
}

fn multipart(path: &str, token: &str, csv: &str) -> Request<Body> {
    multipart_file(path, token, "leads.csv", "text/csv", csv.as_bytes())
}

fn multipart_file(
    path: &str,
    token: &str,
    file_name: &str,
    content_type: &str,
    data: &[u8],
) -> Request<Body> {
    let boundary = "XbOuNdArYx";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"leads_file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method("POST")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn leads_import_reports_bad_rows_and_export_streams_csv() {
    let app = TestApp::new().await;
    let admin = app.admin("im@example.com").await;
    create(
        &app,
        &admin,
        json!({"title": "Existing", "email": "dup@example.com"}),
    )
    .await;
    let csv = "Title,First_Name,email,probability,status,ignored\n\
               Good one,Ann,ann@example.com,50,assigned,x\n\
               ,NoTitle,,,,\n\
               Bad prob,Bob,bob@example.com,150,,\n\
               Dup,Dee,dup@example.com,,,\n\
               \n\
               Good two,Cy,,,closed,\n\
               Twice,Ann2,ANN@example.com,,,\n";
    let res = app
        .send(multipart("/api/leads/upload/", &admin.access, csv))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["created"], 2);
    assert_eq!(res.body["failed"], 4);
    let rows: Vec<i64> = res.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, vec![3, 4, 5, 8]);
    assert!(res.body["rows"][1]["errors"]["probability"].is_array());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        3
    );

    let res = app
        .send(multipart("/api/leads/upload/", &admin.access, "title\n\n"))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "All the leads in the file are invalid."
    );
    let res = app
        .send(multipart("/api/leads/upload/", &admin.access, "name\nx\n"))
        .await;
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "Missing headers: title"
    );

    let res = app
        .get("/api/leads/export/?status=assigned", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = res.text.lines().collect();
    assert!(lines[0].starts_with("id,title,salutation,first_name"));
    assert_eq!(lines.len(), 2, "{}", res.text);
    assert!(lines[1].contains("Good one"));
    let res = app.get("/api/leads/export/", Some(&admin.access)).await;
    assert_eq!(res.text.lines().count(), 4);
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn import_refused(res: &crm::testkit::TestResponse, msg: &str) {
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"leads_file": [msg]}, "rows": []})
    );
}

/// A workbook with one sheet of strings (row 1 the header).
fn xlsx_of(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

/// `xlsx` with the part `name` replaced by `edit(part)`.
fn xlsx_with_part(xlsx: &[u8], name: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut found = false;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        let part_name = part.name().unwrap().to_string();
        let mut data = Vec::new();
        part.read_to_end(&mut data).unwrap();
        if part_name == name {
            found = true;
            data = edit(String::from_utf8(data).unwrap()).into_bytes();
        }
        out.start_file(part_name, opts).unwrap();
        out.write_all(&data).unwrap();
    }
    assert!(found, "no part {name}");
    out.finish().unwrap().into_inner()
}

/// `xlsx` whose central directory declares `size` unpacked bytes for the part `name`.
fn xlsx_declaring(xlsx: &[u8], name: &str, size: u32) -> Vec<u8> {
    let mut out = xlsx.to_vec();
    let mut at = 0;
    let mut patched = false;
    while let Some(i) = out[at..].windows(4).position(|w| w == b"PK\x01\x02") {
        let h = at + i;
        let name_len = u16::from_le_bytes([out[h + 28], out[h + 29]]) as usize;
        if &out[h + 46..h + 46 + name_len] == name.as_bytes() {
            out[h + 24..h + 28].copy_from_slice(&size.to_le_bytes());
            patched = true;
        }
        at = h + 4;
    }
    assert!(patched, "no entry {name}");
    out
}

#[tokio::test]
async fn leads_import_xlsx_creates_valid_rows_and_reports_bad_ones() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let app = TestApp::new().await;
    let admin = app.admin("ix@example.com").await;
    create(
        &app,
        &admin,
        json!({"title": "Existing", "email": "dup@example.com"}),
    )
    .await;

    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    for (c, h) in [
        "Title",
        "First_Name",
        "Email",
        "Probability",
        "Status",
        "Opportunity_Amount",
        "Close_Date",
        "Is_Active",
        "Notes",
    ]
    .into_iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    // Row 2: every kind of cell, numbers and a date as Excel stores them.
    sheet.write_string(1, 0, "  XLSX one  ").unwrap();
    sheet.write_string(1, 1, "Ann").unwrap();
    sheet.write_string(1, 2, "ann@example.com").unwrap();
    sheet.write_number(1, 3, 20).unwrap();
    sheet.write_string(1, 4, "assigned").unwrap();
    sheet.write_number(1, 5, 1234.5).unwrap();
    let close = ExcelDateTime::from_ymd(2027, 3, 15).unwrap();
    sheet
        .write_datetime_with_format(1, 6, &close, &date)
        .unwrap();
    sheet.write_boolean(1, 7, false).unwrap();
    sheet.write_string(1, 8, "ignored column").unwrap();
    // Row 3: a bad enum.
    sheet.write_string(2, 0, "Bad status").unwrap();
    sheet.write_string(2, 4, "nonsense").unwrap();
    // Row 4: no title.
    sheet.write_string(3, 1, "NoTitle").unwrap();
    // Row 5 is blank. Row 6: a negative amount.
    sheet.write_string(5, 0, "Negative").unwrap();
    sheet.write_number(5, 5, -5).unwrap();
    // Row 7: valid, the date as text, an integral amount.
    sheet.write_string(6, 0, "XLSX two").unwrap();
    sheet.write_number(6, 3, 35).unwrap();
    sheet.write_string(6, 6, "2027-04-01").unwrap();
    sheet.write_number(6, 5, 1000).unwrap();
    // Row 8: a fractional probability. Row 9: an e-mail the org already has.
    sheet.write_string(7, 0, "Bad prob").unwrap();
    sheet.write_number(7, 3, 20.5).unwrap();
    sheet.write_string(8, 0, "Dup").unwrap();
    sheet.write_string(8, 2, "DUP@example.com").unwrap();
    // Only the first worksheet is read.
    let other = book.add_worksheet();
    other.write_string(0, 0, "title").unwrap();
    other.write_string(1, 0, "From sheet two").unwrap();
    let xlsx = book.save_to_buffer().unwrap();

    // Recognised by content: neither the name nor the type says XLSX.
    let res = app
        .send(multipart_file(
            "/api/leads/upload/",
            &admin.access,
            "export.bin",
            "application/octet-stream",
            &xlsx,
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["created"], 2, "{}", res.text);
    assert_eq!(res.body["failed"], 5, "{}", res.text);
    let rows: Vec<(i64, Vec<String>)> = res.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let fields = r["errors"].as_object().unwrap().keys().cloned().collect();
            (r["row"].as_i64().unwrap(), fields)
        })
        .collect();
    let expected: Vec<(i64, Vec<String>)> = [
        (3, "status"),
        (4, "title"),
        (6, "opportunity_amount"),
        (8, "probability"),
        (9, "email"),
    ]
    .into_iter()
    .map(|(r, f)| (r, vec![f.to_string()]))
    .collect();
    assert_eq!(rows, expected, "{}", res.text);

    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let leads = res.body["open_leads"]["open_leads"].as_array().unwrap();
    assert_eq!(leads.len(), 3, "{}", res.text);
    let by_title = |t: &str| {
        leads
            .iter()
            .find(|l| l["title"] == t)
            .unwrap_or_else(|| panic!("no lead {t}: {}", res.text))
    };
    let one = by_title("XLSX one");
    assert_eq!(one["first_name"], "Ann");
    assert_eq!(one["email"], "ann@example.com");
    assert_eq!(one["probability"], 20);
    assert_eq!(one["status"], "assigned");
    assert_eq!(one["opportunity_amount"], "1234.50");
    assert_eq!(one["close_date"], "2027-03-15");
    assert_eq!(one["is_active"], false);
    let two = by_title("XLSX two");
    assert_eq!(two["probability"], 35);
    assert_eq!(two["opportunity_amount"], "1000.00");
    assert_eq!(two["close_date"], "2027-04-01");
    assert!(leads.iter().all(|l| l["title"] != "From sheet two"));
}

#[tokio::test]
async fn leads_import_rejects_unreadable_xlsx() {
    let app = TestApp::new().await;
    let admin = app.admin("bad@example.com").await;
    let post = |name: &str, data: Vec<u8>| {
        multipart_file("/api/leads/upload/", &admin.access, name, XLSX_TYPE, &data)
    };
    // Zip magic, then garbage.
    let mut corrupt = b"PK\x03\x04".to_vec();
    corrupt.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
    import_refused(
        &app.send(post("leads.xlsx", corrupt)).await,
        "Not a valid XLSX file",
    );
    // Said to be XLSX, but CSV.
    let res = app.send(post("leads.xlsx", b"title\nx\n".to_vec())).await;
    import_refused(&res, "Not a valid XLSX file");
    // A real workbook, its sheet empty.
    let res = app.send(post("leads.xlsx", xlsx_of(&[]))).await;
    import_refused(&res, "Not a valid XLSX file");
    // Cut short.
    let whole = xlsx_of(&[&["title"], &["a"]]);
    let res = app
        .send(post("leads.xlsx", whole[..whole.len() / 2].to_vec()))
        .await;
    import_refused(&res, "Not a valid XLSX file");
    // Same shared checks as CSV.
    let res = app
        .send(post("leads.xlsx", xlsx_of(&[&["name"], &["x"]])))
        .await;
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "Missing headers: title"
    );
    let res = app.send(post("leads.xlsx", xlsx_of(&[&["title"]]))).await;
    assert_eq!(
        res.body["errors"]["leads_file"][0],
        "All the leads in the file are invalid."
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
}

#[tokio::test]
async fn leads_import_xlsx_limits() {
    let app = TestApp::new().await;
    let admin = app.admin("lim@example.com").await;
    let post = |data: Vec<u8>| {
        multipart_file(
            "/api/leads/upload/",
            &admin.access,
            "leads.xlsx",
            XLSX_TYPE,
            &data,
        )
    };
    let base = xlsx_of(&[&["title"], &["a"], &["b"]]);
    // calamine reserves the declared shared-string count up front: refused before it reads.
    let bomb = xlsx_with_part(&base, "xl/sharedStrings.xml", |xml| {
        let at = xml.find("uniqueCount=\"").unwrap() + "uniqueCount=\"".len();
        let end = at + xml[at..].find('"').unwrap();
        format!("{}100000000000{}", &xml[..at], &xml[end..])
    });
    import_refused(
        &app.send(post(bomb)).await,
        "The XLSX file has too many distinct texts (at most 2000000).",
    );
    // A part declaring more than the unpacked limit.
    let big = xlsx_declaring(&base, "xl/worksheets/sheet1.xml", 200 * 1024 * 1024);
    import_refused(
        &app.send(post(big)).await,
        "The XLSX file is too large uncompressed (at most 100 MiB).",
    );
    // A part inflating past the size it declares.
    let lying = xlsx_declaring(&base, "xl/worksheets/sheet1.xml", 10);
    import_refused(&app.send(post(lying)).await, "Not a valid XLSX file");
    // At most 100,000 rows, XLSX or CSV (a blank row does not count).
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "title").unwrap();
    for r in 1..=100_001u32 {
        sheet.write_number(r + 1, 0, r).unwrap();
    }
    let res = app.send(post(book.save_to_buffer().unwrap())).await;
    import_refused(&res, "Too many rows: a file may hold at most 100000 leads.");
    let csv = format!("title\n\n{}", "x\n".repeat(100_001));
    let res = app
        .send(multipart("/api/leads/upload/", &admin.access, &csv))
        .await;
    import_refused(&res, "Too many rows: a file may hold at most 100000 leads.");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead WHERE org_id = $1",
            admin.org_id
        )
        .await,
        0
    );
}

#[tokio::test]
async fn leads_web_to_lead_by_api_key() {
    let app = TestApp::new().await;
    let admin = app.admin("wl@example.com").await;
    let user = app.member(admin.org_id, "wlu@example.com", "USER").await;
    let t = tag(&app, admin.org_id, "Web").await;
    let setting = Uuid::new_v4();
    let key = "a".repeat(64);
    sqlx::query(
        "INSERT INTO \"apiSettings\" (created_at, updated_at, id, title, apikey, website, created_by_id, org_id)
         VALUES (now(), now(), $1, 'site', $2, 'https://example.com', $3, $4)",
    )
    .bind(setting)
    .bind(&key)
    .bind(admin.user_id)
    .bind(admin.org_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO \"apiSettings_lead_assigned_to\" (apisettings_id, profile_id) VALUES ($1, $2)",
    )
    .bind(setting)
    .bind(user.profile_id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    sqlx::query("INSERT INTO \"apiSettings_tags\" (apisettings_id, tags_id) VALUES ($1, $2)")
        .bind(setting)
        .bind(t)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let path = "/api/leads/create-from-site/";
    let res = app
        .post(path, None, &json!({"apikey": key, "email": "web@visitor.io", "first_name": "Web", "title": "Dr", "message": "Call me"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Lead Created sucessfully."})
    );
    let (source, status, salutation, description, created_by): (String, String, String, String, Uuid) = sqlx::query_as(
        "SELECT source, status, salutation, description, created_by_id FROM lead WHERE email = 'web@visitor.io'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        (
            source.as_str(),
            status.as_str(),
            salutation.as_str(),
            description.as_str()
        ),
        ("website", "assigned", "Dr", "Call me")
    );
    assert_eq!(created_by, admin.user_id);
    let res = app.get("/api/leads/", Some(&user.access)).await;
    assert_eq!(
        res.body["open_leads"]["open_leads"][0]["tags"][0]["name"],
        "Web"
    );

    let res = app
        .post(
            path,
            None,
            &json!({"apikey": "b".repeat(64), "email": "x@y.io"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body["message"],
        "You don't have permission, please contact the admin!."
    );
    let res = app
        .post(path, None, &json!({"apikey": key, "phone": "12"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["message"], "Invalid data");
    assert!(res.body["errors"]["email"].is_array());
    assert!(res.body["errors"]["phone"].is_array());
    let res = app
        .post(
            path,
            None,
            &json!({"apikey": key, "email": "WEB@visitor.io"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "duplicate e-mail");
    // Rate limited per key and address.
    let mut last = StatusCode::OK;
    for i in 0..25 {
        last = app
            .post(
                path,
                None,
                &json!({"apikey": key, "email": format!("r{i}@visitor.io")}),
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn leads_assignment_mail_goes_to_newly_assigned_only() {
    use crm::leads::model::sync_relations;
    let app = TestApp::new().await;
    let admin = app.admin("nm@example.com").await;
    let u1 = app.member(admin.org_id, "n1@example.com", "USER").await;
    let u2 = app.member(admin.org_id, "n2@example.com", "USER").await;
    let id = create(
        &app,
        &admin,
        json!({"title": "n", "assigned_to": [u1.profile_id]}),
    )
    .await;
    // The create queued one assignment e-mail, to u1, in its transaction.
    let jobs: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT payload->>'template', payload->>'to', payload->'context'->>'path' FROM jobs WHERE kind = 'email'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(
        jobs,
        vec![(
            "assignment".into(),
            "n1@example.com".into(),
            format!("/leads/{id}")
        )]
    );
    let mut tx = crm::db::tenant::begin(&app.db.app, Some(admin.org_id), None)
        .await
        .unwrap();
    let assigned = [u1.profile_id, u2.profile_id, admin.profile_id];
    let lists = [
        ("lead_assigned_to", "profile_id", Some(&assigned[..])),
        ("lead_teams", "teams_id", None),
        ("lead_tags", "tags_id", None),
        ("lead_contacts", "contact_id", None),
    ];
    // u1 already had it and the admin assigns themself: only u2 is told.
    let to = sync_relations(&mut tx, id, admin.profile_id, lists)
        .await
        .unwrap();
    assert_eq!(to, vec!["n2@example.com".to_string()]);
    let to = sync_relations(&mut tx, id, admin.profile_id, lists)
        .await
        .unwrap();
    assert!(to.is_empty(), "nothing new the second time");
}

#[tokio::test]
async fn detail_form_post_adds_comment_and_attachment() {
    use crate::documents::send_multipart;
    use axum::http::Method;
    let app = TestApp::new().await;
    let admin = app.admin("form@example.com").await;
    let user = app
        .member(admin.org_id, "form-user@example.com", "USER")
        .await;
    let id = create(&app, &admin, json!({"first_name": "Ada", "title": "Lead"})).await;
    let path = format!("/api/leads/{id}/");
    let res = send_multipart(
        &app,
        Method::POST,
        &path,
        &admin.access,
        &[("comment", "Called, interested")],
        &[("lead_attachment", "notes.txt", b"call notes")],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["lead_obj"]["id"], id.to_string());
    assert_eq!(res.body["comments"][0]["comment"], "Called, interested");
    assert_eq!(res.body["attachments"][0]["file_name"], "notes.txt");
    // The detail's file_path is the authenticated download URL, and it serves the file.
    let url = res.body["attachments"][0]["file_path"].as_str().unwrap();
    let download = url
        .strip_prefix(&app.state.cfg.api_url)
        .expect("absolute API URL");
    let file = app.get(download, Some(&admin.access)).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.text, "call notes");
    let detail = app.get(&path, Some(&admin.access)).await;
    assert_eq!(detail.body["attachments"][0]["file_path"], url);
    // A USER who cannot see the lead adds nothing.
    let res = send_multipart(
        &app,
        Method::POST,
        &path,
        &user.access,
        &[("comment", "x")],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // The JSON body limit still holds for PUT on the same path.
    let big = json!({"first_name": "x".repeat(2 * 1024 * 1024)});
    let res = app.put(&path, Some(&admin.access), &big).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM comment WHERE object_id = $1",
            id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn deleting_a_lead_removes_its_comments_and_stored_files() {
    use crate::documents::{send_multipart, stored_files};
    use axum::http::Method;
    let app = TestApp::new().await;
    let admin = app.admin("del-files@example.com").await;
    let id = create(&app, &admin, json!({"first_name": "Bo", "title": "Lead"})).await;
    let path = format!("/api/leads/{id}/");
    let res = send_multipart(
        &app,
        Method::POST,
        &path,
        &admin.access,
        &[("comment", "note")],
        &[("lead_attachment", "a.txt", b"text")],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(stored_files(&app).len(), 1);
    let res = app.delete(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(stored_files(&app).is_empty());
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM comment WHERE object_id = $1",
            id
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM attachments WHERE object_id = $1",
            id
        )
        .await,
        0
    );
}

/// A USER's list takes one of two plans by the share of the org they see (under 5 %: probe their
/// visible ids; over: walk the org's newest-first index testing each row). Both give the same
/// pages and counts.
#[tokio::test]
async fn leads_user_list_is_the_same_whichever_plan() {
    let app = TestApp::new().await;
    let admin = app.admin("plans-admin@example.com").await;
    let user = app
        .member(admin.org_id, "plans-user@example.com", "USER")
        .await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let status = if i % 4 == 0 { "closed" } else { "assigned" };
        ids.push(
            create(
                &app,
                &admin,
                json!({"title": format!("L{i:02}"), "status": status}),
            )
            .await,
        );
    }
    create(&app, &user, json!({"title": "Mine"})).await;
    let page = |limit: usize, offset: usize| {
        let path = format!("/api/leads/?limit={limit}&offset={offset}");
        let app = &app;
        let token = user.access.clone();
        async move {
            let res = app.get(&path, Some(&token)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
            let titles = |k: &str, list: &str| -> Vec<String> {
                res.body[k][list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["title"].as_str().unwrap().to_string())
                    .collect()
            };
            (
                titles("open_leads", "open_leads"),
                titles("close_leads", "close_leads"),
                res.body["open_leads"]["leads_count"].clone(),
                res.body["close_leads"]["leads_count"].clone(),
                res.body["open_leads"]["offset"].clone(),
            )
        }
    };
    // 1 of 41 leads: the id plan.
    assert_eq!(
        page(10, 0).await,
        (
            vec!["Mine".to_string()],
            vec![],
            json!(1),
            json!(0),
            Value::Null
        )
    );
    // Assigned to 12 more (3 closed): 13 of 41, the index walk.
    for id in &ids[..12] {
        let res = app
            .patch(
                &format!("/api/leads/{id}/"),
                Some(&admin.access),
                &json!({"assigned_to": [user.profile_id]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let (open, closed, o, c, next) = page(5, 0).await;
    assert_eq!(open, ["Mine", "L11", "L10", "L09", "L07"]);
    assert_eq!(closed, ["L08", "L04", "L00"]);
    assert_eq!((o, c, next), (json!(10), json!(3), json!(5)));
    let (open, closed, ..) = page(5, 5).await;
    assert_eq!(open, ["L06", "L05", "L03", "L02", "L01"]);
    assert!(closed.is_empty());
    // A filtered list always probes the ids: same answer.
    let res = app
        .get("/api/leads/?limit=5&status=assigned", Some(&user.access))
        .await;
    assert_eq!(
        res.body["open_leads"]["leads_count"], 9,
        "Mine has no status"
    );
    assert_eq!(res.body["open_leads"]["open_leads"][0]["title"], "L11");
}

/// Issue 9 item 1: for a lead with no assignee the frontend re-sends
/// `assigned_to: [<created_by user id>]` (a user id) on every edit; it is the member's profile.
#[tokio::test]
async fn leads_assigned_to_accepts_a_members_user_id() {
    let app = TestApp::new().await;
    let admin = app.admin("uid@example.com").await;
    let member = app.member(admin.org_id, "uid-m@example.com", "USER").await;
    let id = create(&app, &admin, json!({"title": "no assignee"})).await;
    let path = format!("/api/leads/{id}/");
    let res = app
        .put(
            &path,
            Some(&admin.access),
            &json!({"title": "edited", "assigned_to": [admin.user_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &path,
            Some(&admin.access),
            &json!({"status": "in process", "assigned_to": [admin.user_id, member.user_id, member.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let assigned: Vec<Uuid> = sqlx::query_scalar(
        "SELECT profile_id FROM lead_assigned_to WHERE lead_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(assigned, vec![admin.profile_id, member.profile_id]);

    // A user of another org, an inactive member's user id, or an unknown id stays a 400 and
    // changes nothing.
    let other = app.admin("uid-other@example.com").await;
    let gone = app
        .member(admin.org_id, "uid-gone@example.com", "USER")
        .await;
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(gone.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    for bad in [
        other.user_id,
        other.profile_id,
        gone.user_id,
        Uuid::new_v4(),
    ] {
        let res = app
            .patch(&path, Some(&admin.access), &json!({"assigned_to": [bad]}))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
        assert!(res.body["errors"]["assigned_to"].is_array(), "{}", res.text);
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM lead_assigned_to WHERE lead_id = $1",
            id
        )
        .await,
        2
    );
}
