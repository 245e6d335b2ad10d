//! Opportunities: list envelope, keys and filters, stage rules, line items (the spec's verified
//! vectors), USER vs ADMIN, other orgs' ids, the frontend's traps, the dashboard and the
//! accounts pages over real opportunities. Test names say which upstream bug each one pins down.

use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the frontend's opportunities page reads of each opportunity (frontend-api.md), plus
/// upstream's OpportunitySerializer keys.
const OPPORTUNITY_KEYS: &[&str] = &[
    "id",
    "name",
    "account",
    "stage",
    "opportunity_type",
    "currency",
    "amount",
    "amount_source",
    "probability",
    "closed_on",
    "lead_source",
    "contacts",
    "line_items",
    "line_items_total",
    "assigned_to",
    "teams",
    "closed_by",
    "tags",
    "description",
    "created_by",
    "created_at",
    "updated_at",
    "is_active",
    "org",
    "created_on_arrow",
    "task_count",
    "event_count",
];

const LINE_ITEM_KEYS: &[&str] = &[
    "id",
    "product",
    "name",
    "description",
    "quantity",
    "unit_price",
    "discount_type",
    "discount_value",
    "discount_amount",
    "subtotal",
    "total",
    "order",
    "formatted_unit_price",
    "formatted_total",
    "created_at",
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

async fn scalar(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

/// A row of a small org-scoped table, straight into the database; returns its id.
async fn fixture(app: &TestApp, kind: &str, org: Uuid, label: &str) -> Uuid {
    let id = Uuid::new_v4();
    let sql = match kind {
        "tag" => "INSERT INTO tags (created_at, updated_at, id, org_id, name, slug, color, description, is_active)
                  VALUES (now(), now(), $1, $2, $3, lower($3), 'red', '', true)",
        "team" => "INSERT INTO teams (created_at, updated_at, id, org_id, name, description)
                   VALUES (now(), now(), $1, $2, $3, '')",
        "account" => "INSERT INTO accounts (created_at, updated_at, id, org_id, name, is_active)
                      VALUES (now(), now(), $1, $2, $3, true)",
        "product" => "INSERT INTO product (created_at, updated_at, id, org_id, name, price, is_active, currency)
                      VALUES (now(), now(), $1, $2, $3, 19.99, true, 'USD')",
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
    let res = app
        .post("/api/opportunities/", Some(&who.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Opportunity Created Successfully");
    res.body["id"].as_str().unwrap().parse().unwrap()
}

async fn list(app: &TestApp, who: &TestUser, query: &str) -> Value {
    let res = app
        .get(&format!("/api/opportunities/?{query}"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// The frontend's create body (opportunities page, frontend-payloads.md §4): every key present,
/// `amount` a number (0 when empty), `probability` 50 by default, empties as null or "".
fn frontend_body(name: &str, account: Option<Uuid>, tags: &[Uuid], assigned: &[Uuid]) -> Value {
    json!({
        "name": name, "amount": 0, "probability": 50, "stage": "PROSPECTING",
        "opportunity_type": null, "currency": null, "lead_source": null, "closed_on": null,
        "description": "", "account": account, "contacts": [], "assigned_to": assigned,
        "teams": [], "tags": tags,
    })
}

async fn opp(app: &TestApp, who: &TestUser, id: Uuid) -> Value {
    let res = app
        .get(&format!("/api/opportunities/{id}/"), Some(&who.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["opportunity_obj"].clone()
}

#[tokio::test]
async fn opportunities_list_has_the_keys_the_frontend_reads() {
    let app = TestApp::new().await;
    let admin = app.admin("ol@example.com").await;
    let tag = fixture(&app, "tag", admin.org_id, "Hot").await;
    let account = fixture(&app, "account", admin.org_id, "Acme").await;
    let contact = fixture(&app, "contact", admin.org_id, "Cora").await;
    let team = fixture(&app, "team", admin.org_id, "Sales").await;
    let mut body = frontend_body("Big deal", Some(account), &[tag], &[admin.profile_id]);
    body["contacts"] = json!([contact]);
    body["teams"] = json!([team]);
    body["amount"] = json!("1234.5");
    body["currency"] = json!("EUR");
    body["lead_source"] = json!("EMAIL");
    body["opportunity_type"] = json!("NEW_BUSINESS");
    let id = create(&app, &admin, body).await;
    for i in 0..2 {
        create(
            &app,
            &admin,
            frontend_body(&format!("Small {i}"), None, &[], &[]),
        )
        .await;
    }
    let v = list(&app, &admin, "").await;
    for k in [
        "per_page",
        "page_number",
        "opportunities_count",
        "offset",
        "opportunities",
        "accounts_list",
        "contacts_list",
        "tags",
        "stage",
        "lead_source",
        "currency",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["opportunities_count"], 3);
    assert_eq!(v["page_number"], json!([1]));
    assert_eq!(v["offset"], Value::Null);
    let o = v["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == json!(id))
        .unwrap()
        .clone();
    assert_eq!(keys(&o), sorted(OPPORTUNITY_KEYS));
    assert_eq!(o["amount"], "1234.50");
    assert_eq!(o["probability"], 50);
    assert_eq!(o["amount_source"], "MANUAL");
    assert_eq!(o["account"]["id"], json!(account));
    assert_eq!(o["account"]["name"], "Acme");
    assert_eq!(o["assigned_to"][0]["id"], json!(admin.profile_id));
    assert_eq!(
        o["assigned_to"][0]["user_details"]["email"],
        "ol@example.com"
    );
    assert_eq!(o["teams"][0]["name"], "Sales");
    assert_eq!(o["contacts"][0]["first_name"], "Cora");
    assert_eq!(o["contacts"][0]["email"], "cora@example.net");
    assert_eq!(o["tags"][0]["slug"], "hot");
    assert_eq!(o["created_by"]["email"], "ol@example.com");
    assert_eq!(o["line_items"], json!([]));
    assert_eq!(o["line_items_total"], 0);
    assert_eq!(o["closed_by"], Value::Null);
    assert_eq!(o["task_count"], 0);
    assert_eq!(o["created_on_arrow"], "0\u{a0}minutes ago");
    assert_eq!(o["org"]["id"], json!(admin.org_id));
    assert!(
        o["org"].get("api_key").is_none(),
        "no API key in nested orgs"
    );
    assert_eq!(v["accounts_list"], json!([{"id": account, "name": "Acme"}]));
    assert_eq!(
        v["contacts_list"],
        json!([{"id": contact, "first_name": "Cora", "last_name": "Contact", "email": "cora@example.net"}])
    );
    assert_eq!(v["tags"][0]["id"], json!(tag));
    assert_eq!(v["stage"][4], json!(["CLOSED_WON", "Closed Won"]));
    assert_eq!(v["lead_source"][2], json!(["EMAIL", " EMAIL"]));

    // The frontend sends limit/offset twice: the last of each wins.
    let v = list(&app, &admin, "limit=10&offset=0&limit=1&offset=1").await;
    assert_eq!(v["opportunities"].as_array().unwrap().len(), 1);
    assert_eq!(v["offset"], 2);
    assert_eq!(v["page_number"], json!([2]));
    let v = list(&app, &admin, "limit=10&offset=0&limit=2&offset=2").await;
    assert_eq!(v["opportunities"].as_array().unwrap().len(), 1);
    assert_eq!(v["offset"], Value::Null);
    let v = list(&app, &admin, "limit=1&offset=50").await;
    assert_eq!(v["opportunities"], json!([]));
    assert_eq!(v["offset"], 0);
}

#[tokio::test]
async fn opportunities_stage_rules_probability_closed_by_and_closed_fields() {
    let app = TestApp::new().await;
    let admin = app.admin("os@example.com").await;
    // Auto-probability: 0 or null takes the stage's default.
    let mut body = frontend_body("Neg", None, &[], &[]);
    body["probability"] = json!(0);
    body["stage"] = json!("NEGOTIATION");
    let id = create(&app, &admin, body).await;
    assert_eq!(opp(&app, &admin, id).await["probability"], 75);
    let id2 = create(
        &app,
        &admin,
        json!({"name": "Defaults", "probability": null}),
    )
    .await;
    let o = opp(&app, &admin, id2).await;
    assert_eq!(
        (o["stage"].clone(), o["probability"].clone()),
        (json!("PROSPECTING"), json!(10))
    );
    // A non-zero probability is not recomputed when the stage changes.
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Neg", "stage": "PROPOSAL"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(opp(&app, &admin, id).await["probability"], 75);

    // Closed stages need closed_on, CLOSED_WON an amount (upstream's clean(), never run): 400
    // naming the field, nothing written.
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Neg", "stage": "CLOSED_WON", "closed_on": null}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["closed_on"].is_array(), "{}", res.text);
    assert!(res.body["errors"]["amount"].is_array(), "{}", res.text);
    assert_eq!(opp(&app, &admin, id).await["stage"], "PROPOSAL");
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Neg", "stage": "CLOSED_LOST", "closed_on": "2026-12-01"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let o = opp(&app, &admin, id).await;
    assert_eq!(o["closed_by"]["id"], json!(admin.profile_id));
    assert_eq!(o["closed_on"], "2026-12-01");
    // CLOSED_WON with amount 0 (what the frontend sends for "empty") is refused on `amount`.
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Neg", "stage": "CLOSED_WON", "amount": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(keys(&res.body["errors"]), vec!["amount".to_string()]);
    // Closed on create: closed_by is stored (upstream set it in memory and lost it).
    let mut body = frontend_body("Won", None, &[], &[]);
    body["stage"] = json!("CLOSED_WON");
    body["amount"] = json!(500);
    body["closed_on"] = json!("2026-11-30");
    body["probability"] = json!(0);
    let won = create(&app, &admin, body).await;
    let o = opp(&app, &admin, won).await;
    assert_eq!(o["closed_by"]["id"], json!(admin.profile_id));
    assert_eq!(o["probability"], 100);
    // Back to an open stage: closed_by is cleared.
    let res = app
        .patch(
            &format!("/api/opportunities/{won}/"),
            Some(&admin.access),
            &json!({"name": "Won", "stage": "NEGOTIATION"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(opp(&app, &admin, won).await["closed_by"], Value::Null);
    // An explicit 0 stays only at CLOSED_LOST.
    let mut body = frontend_body("Lost", None, &[], &[]);
    body["stage"] = json!("CLOSED_LOST");
    body["closed_on"] = json!("2026-11-30");
    body["probability"] = json!(0);
    let lost = create(&app, &admin, body).await;
    assert_eq!(opp(&app, &admin, lost).await["probability"], 0);
    // PUT clears an absent closed_on, as upstream: a closed stage then needs it again.
    let res = app
        .put(
            &format!("/api/opportunities/{lost}/"),
            Some(&admin.access),
            &json!({"name": "Lost"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["closed_on"].is_array());
}

#[tokio::test]
async fn opportunities_validation_negative_amount_is_400_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("ov@example.com").await;
    let id = create(&app, &admin, frontend_body("Unique", None, &[], &[])).await;
    let bad = [
        (json!({"name": ""}), "name"),
        (json!({"amount": -1}), "amount"),
        (json!({"amount": "1.234"}), "amount"),
        (json!({"amount": "12345678901"}), "amount"),
        (json!({"probability": 101}), "probability"),
        (json!({"probability": -1}), "probability"),
        (json!({"lead_source": "call"}), "lead_source"),
        (json!({"stage": "WON"}), "stage"),
        (json!({"stage": null}), "stage"),
        (json!({"currency": "XXX"}), "currency"),
        (json!({"opportunity_type": "BIG"}), "opportunity_type"),
        (json!({"closed_on": "30/11/2026"}), "closed_on"),
        (json!({"account": "not-a-uuid"}), "account"),
        (json!({"tags": "x"}), "tags"),
        (json!({"assigned_to": [Uuid::new_v4()]}), "assigned_to"),
    ];
    for (patch, field) in bad {
        let mut body = frontend_body("Other", None, &[], &[]);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app
            .post("/api/opportunities/", Some(&admin.access), &body)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {}", res.text);
        assert!(
            res.body["errors"][field].is_array(),
            "{field}: {}",
            res.text
        );
    }
    // Name unique per org, case-insensitively; the row itself does not clash (the drawer
    // re-sends the name on every save).
    let res = app
        .post(
            "/api/opportunities/",
            Some(&admin.access),
            &frontend_body("UNIQUE", None, &[], &[]),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["name"],
        json!(["Opportunity already exists with this name"])
    );
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Unique", "stage": "PROSPECTING", "amount": "10.5"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .put(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"stage": "PROPOSAL"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["name"].is_array());
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM opportunity WHERE org_id = $1",
            admin.org_id
        )
        .await,
        1,
        "nothing written by the refused requests"
    );
    // Malformed filter values are 400 on the key (upstream: 500).
    for q in [
        "amount__gte=abc",
        "closed_on__gte=notadate",
        "created_at__lte=yesterday",
        "account=xyz",
        "tags=nope",
        "is_active=maybe",
    ] {
        let res = app
            .get(&format!("/api/opportunities/?{q}"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}: {}", res.text);
        let key = q.split('=').next().unwrap();
        assert!(res.body[key].is_array(), "{q}: {}", res.text);
    }
}

#[tokio::test]
async fn opportunities_filters_tags_filter_upstream_500_and_ordering() {
    let app = TestApp::new().await;
    let admin = app.admin("of@example.com").await;
    let user = app
        .member(admin.org_id, "of-user@example.com", "USER")
        .await;
    let tag = fixture(&app, "tag", admin.org_id, "Vip").await;
    let account = fixture(&app, "account", admin.org_id, "Filt").await;
    let rows = [
        ("Alpha", "PROSPECTING", "100", None, "CALL"),
        ("Beta", "CLOSED_WON", "2500", Some("2026-10-01"), "EMAIL"),
        (
            "Gamma",
            "CLOSED_LOST",
            "50",
            Some("2026-12-15"),
            "EXISTING CUSTOMER",
        ),
    ];
    for (name, stage, amount, closed, source) in rows {
        let mut body = frontend_body(name, None, &[], &[]);
        body["stage"] = json!(stage);
        body["amount"] = json!(amount);
        body["closed_on"] = json!(closed);
        body["lead_source"] = json!(source);
        if name == "Alpha" {
            body["tags"] = json!([tag]);
            body["account"] = json!(account);
            body["assigned_to"] = json!([user.profile_id]);
        }
        create(&app, &admin, body).await;
    }
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("stage=CLOSED".into(), vec!["Beta", "Gamma"]),
        ("stage=CLOSED_WON".into(), vec!["Beta"]),
        ("search=alp".into(), vec!["Alpha"]),
        ("name=amm".into(), vec!["Gamma"]),
        (format!("tags={tag}"), vec!["Alpha"]),
        (format!("account={account}"), vec!["Alpha"]),
        (format!("assigned_to={}", user.profile_id), vec!["Alpha"]),
        (
            "amount__gte=100&amount__lte=2500".into(),
            vec!["Alpha", "Beta"],
        ),
        (
            "closed_on__gte=2026-10-01&closed_on__lte=2026-11-30".into(),
            vec!["Beta"],
        ),
        ("lead_source=existing".into(), vec!["Gamma"]),
        (
            "created_at__gte=2000-01-01".into(),
            vec!["Alpha", "Beta", "Gamma"],
        ),
        ("created_at__lte=2000-01-01".into(), vec![]),
    ];
    for (q, want) in &cases {
        let v = list(&app, &admin, q).await;
        assert_eq!(names(&v), *want, "{q}");
        assert_eq!(v["opportunities_count"], want.len(), "{q}");
    }
    let v = list(&app, &admin, "ordering=-amount").await;
    let order: Vec<&str> = v["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["Beta", "Alpha", "Gamma"]);
}

#[tokio::test]
async fn opportunities_user_sees_edits_own_and_assigned_only_detail_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("ou@example.com").await;
    let user = app
        .member(admin.org_id, "ou-user@example.com", "USER")
        .await;
    let other = app
        .member(admin.org_id, "ou-other@example.com", "USER")
        .await;
    let mine = create(&app, &user, frontend_body("Mine", None, &[], &[])).await;
    let assigned = create(
        &app,
        &admin,
        frontend_body("Assigned", None, &[], &[user.profile_id]),
    )
    .await;
    let hidden = create(&app, &admin, frontend_body("Hidden", None, &[], &[])).await;
    // Reached through a team.
    let team = fixture(&app, "team", admin.org_id, "Team").await;
    sqlx::query("INSERT INTO teams_users (teams_id, profile_id) VALUES ($1, $2)")
        .bind(team)
        .bind(user.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let mut body = frontend_body("Teamed", None, &[], &[]);
    body["teams"] = json!([team]);
    create(&app, &admin, body).await;
    // Accounts and contacts lookups follow the same rule.
    let acc_hidden = fixture(&app, "account", admin.org_id, "Hidden Acc").await;
    let v = list(&app, &user, "").await;
    assert_eq!(names(&v), ["Assigned", "Mine", "Teamed"]);
    assert_eq!(v["opportunities_count"], 3);
    assert!(
        !v["accounts_list"]
            .to_string()
            .contains(&acc_hidden.to_string()),
        "a USER's accounts_list holds only their accounts"
    );
    assert_eq!(names(&list(&app, &admin, "").await).len(), 4);
    assert_eq!(names(&list(&app, &other, "").await).len(), 0);

    // Detail: upstream 500s for every non-admin who may see it; here 200, and 403 otherwise.
    for id in [mine, assigned] {
        let res = app
            .get(&format!("/api/opportunities/{id}/"), Some(&user.access))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        for k in [
            "opportunity_obj",
            "comments",
            "attachments",
            "contacts",
            "users",
            "stage",
            "lead_source",
            "currency",
            "comment_permission",
            "users_mention",
        ] {
            assert!(res.body.get(k).is_some(), "missing {k}");
        }
    }
    let res = app
        .get(&format!("/api/opportunities/{hidden}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // Writes: PATCH and PUT need the same visibility.
    let res = app
        .patch(
            &format!("/api/opportunities/{hidden}/"),
            Some(&user.access),
            &json!({"name": "Taken"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .put(
            &format!("/api/opportunities/{hidden}/"),
            Some(&user.access),
            &json!({"name": "Taken"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .patch(
            &format!("/api/opportunities/{assigned}/"),
            Some(&user.access),
            &json!({"name": "Assigned", "stage": "PROPOSAL"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Line items: the same rule, upstream's 403 body.
    let res = app
        .get(
            &format!("/api/opportunities/{hidden}/line-items/"),
            Some(&user.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "message": "You do not have permission to access this opportunity"})
    );
    // Delete: admins or the creator (an assignee may not).
    let res = app
        .delete(
            &format!("/api/opportunities/{assigned}/"),
            Some(&user.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .delete(&format!("/api/opportunities/{mine}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Opportunity Deleted Successfully.");
}

#[tokio::test]
async fn opportunities_other_orgs_ids_are_404_in_path_and_400_in_body() {
    let app = TestApp::new().await;
    let a = app.admin("oa@example.com").await;
    let b = app.admin("ob@example.com").await;
    let b_opp = create(&app, &b, frontend_body("B deal", None, &[], &[])).await;
    let b_product = fixture(&app, "product", b.org_id, "B product").await;
    let b_account = fixture(&app, "account", b.org_id, "B acc").await;
    let b_contact = fixture(&app, "contact", b.org_id, "Bcon").await;
    let b_tag = fixture(&app, "tag", b.org_id, "Btag").await;
    let b_team = fixture(&app, "team", b.org_id, "Bteam").await;
    let a_opp = create(&app, &a, frontend_body("A deal", None, &[], &[])).await;
    for res in [
        app.get(&format!("/api/opportunities/{b_opp}/"), Some(&a.access))
            .await,
        app.patch(
            &format!("/api/opportunities/{b_opp}/"),
            Some(&a.access),
            &json!({"name": "x"}),
        )
        .await,
        app.delete(&format!("/api/opportunities/{b_opp}/"), Some(&a.access))
            .await,
        app.get("/api/opportunities/not-a-uuid/", Some(&a.access))
            .await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let res = app
        .post(
            &format!("/api/opportunities/{b_opp}/line-items/"),
            Some(&a.access),
            &json!({"quantity": 1, "unit_price": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"error": true, "message": "Opportunity not found"})
    );
    for (field, id) in [
        ("account", json!(b_account)),
        ("contacts", json!([b_contact])),
        ("tags", json!([b_tag])),
        ("teams", json!([b_team])),
        ("assigned_to", json!([b.profile_id])),
    ] {
        let res = app
            .patch(
                &format!("/api/opportunities/{a_opp}/"),
                Some(&a.access),
                &json!({ field: id }),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {}", res.text);
        assert!(res.body["errors"][field].is_array(), "{field}");
    }
    let res = app
        .post(
            &format!("/api/opportunities/{a_opp}/line-items/"),
            Some(&a.access),
            &json!({"product_id": b_product, "quantity": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["product_id"].is_array());
    // Nothing changed on either side.
    let o = opp(&app, &a, a_opp).await;
    assert_eq!(o["account"], Value::Null);
    assert_eq!(o["line_items"], json!([]));
    assert_eq!(opp(&app, &b, b_opp).await["name"], "B deal");
}

#[tokio::test]
async fn opportunities_frontend_traps_inactive_assignees_archived_tags_user_ids() {
    let app = TestApp::new().await;
    let admin = app.admin("ot@example.com").await;
    let user = app
        .member(admin.org_id, "ot-user@example.com", "USER")
        .await;
    let tag = fixture(&app, "tag", admin.org_id, "Old").await;
    let id = create(
        &app,
        &admin,
        frontend_body("Trap", None, &[tag], &[user.profile_id]),
    )
    .await;
    // The tag is archived and the assignee deactivated; the drawer re-sends both on every save
    // (with unknown keys and loaded values): accepted and kept.
    sqlx::query("UPDATE tags SET is_active = false WHERE id = $1")
        .bind(tag)
        .execute(&app.db.admin)
        .await
        .unwrap();
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(user.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let o = opp(&app, &admin, id).await;
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Trap", "stage": o["stage"], "amount": 0, "probability": 50,
                    "contacts": [], "assigned_to": [user.profile_id], "teams": [], "tags": [tag],
                    "description": "edited", "org": admin.org_id, "amount_source": "CALCULATED",
                    "created_on_arrow": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let o = opp(&app, &admin, id).await;
    assert_eq!(o["tags"][0]["id"], json!(tag));
    assert_eq!(o["assigned_to"][0]["id"], json!(user.profile_id));
    assert_eq!(o["description"], "edited");
    assert_eq!(
        o["amount_source"], "MANUAL",
        "amount_source is not writable"
    );
    // Inline edits: the field + name + stage; a cleared date cell is null, numbers as strings.
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"name": "Trap", "stage": "PROSPECTING", "closed_on": null, "amount": "99.90",
                    "opportunity_type": null}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(opp(&app, &admin, id).await["amount"], "99.90");
    // A member's user id where a profile id belongs is taken as their profile.
    let admin2 = app
        .member(admin.org_id, "ot-admin2@example.com", "ADMIN")
        .await;
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"assigned_to": [admin2.user_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        opp(&app, &admin, id).await["assigned_to"][0]["id"],
        json!(admin2.profile_id)
    );
    // Dates go back exactly as the list gave them (YYYY-MM-DD).
    let mut body = frontend_body("Dated", None, &[], &[]);
    body["closed_on"] = json!("2027-02-06");
    let dated = create(&app, &admin, body).await;
    let v = list(&app, &admin, "search=Dated").await;
    assert_eq!(v["opportunities"][0]["closed_on"], "2027-02-06");
    let res = app
        .patch(
            &format!("/api/opportunities/{dated}/"),
            Some(&admin.access),
            &json!({"name": "Dated", "stage": "PROSPECTING", "closed_on": v["opportunities"][0]["closed_on"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// The spec's verified vectors (crm.md §5.2) through the API, the opportunity's amount in the
/// same transaction, and upstream's negative-total 500 as a 400 with nothing written.
#[tokio::test]
async fn opportunities_line_items_vectors_and_negative_total_is_400_upstream_500() {
    let app = TestApp::new().await;
    let admin = app.admin("oli@example.com").await;
    let product = fixture(&app, "product", admin.org_id, "Widget").await;
    let mut body = frontend_body("Items", None, &[], &[]);
    body["amount"] = json!(777);
    let id = create(&app, &admin, body).await;
    let base = format!("/api/opportunities/{id}/line-items/");
    // qty 3 × product price 19.99 -> 59.97; blank name and discount type (the frontend's body)
    // take the product's name.
    let res = app
        .post(
            &base,
            Some(&admin.access),
            &json!({"product_id": product, "name": "", "description": "", "quantity": 3,
                    "unit_price": 0, "discount_type": "", "discount_value": 0, "order": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Line item created successfully");
    let li = &res.body["line_item"];
    assert_eq!(keys(li), sorted(LINE_ITEM_KEYS));
    assert_eq!(li["name"], "Widget");
    assert_eq!(li["unit_price"], "19.99");
    assert_eq!(li["quantity"], "3.00");
    assert_eq!(li["subtotal"], "59.97");
    assert_eq!(li["total"], "59.97");
    assert_eq!(li["product"]["name"], "Widget");
    assert_eq!(li["formatted_total"], "USD 59.97");
    assert_eq!(res.body["opportunity_amount"], json!(59.97));
    let first = li["id"].as_str().unwrap().to_string();
    // qty 2 × 100 with 10 % -> discount 20.00, total 180.00.
    let res = app
        .post(
            &base,
            Some(&admin.access),
            &json!({"name": "Service", "quantity": "2", "unit_price": "100", "discount_type": "PERCENTAGE",
                    "discount_value": 10}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["line_item"]["discount_amount"], "20.00");
    assert_eq!(res.body["line_item"]["total"], "180.00");
    assert_eq!(res.body["opportunity_amount"], json!(239.97));
    // qty 1.5 × 33.33 FIXED 5 -> subtotal 50.00 (49.995 rounded half away from zero), total 45.00.
    let res = app
        .post(
            &base,
            Some(&admin.access),
            &json!({"name": "Half", "quantity": 1.5, "unit_price": 33.33, "discount_type": "FIXED",
                    "discount_value": 5}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["line_item"]["subtotal"], "50.00");
    assert_eq!(res.body["line_item"]["total"], "45.00");
    let half = res.body["line_item"]["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["opportunity_amount"], json!(284.97));
    // qty 1 × 10 FIXED 50: upstream writes a -40.00 item, then 500s. Here 400 on the discount,
    // nothing written, the amount unchanged.
    let res = app
        .post(
            &base,
            Some(&admin.access),
            &json!({"name": "Neg", "quantity": 1, "unit_price": 10, "discount_type": "FIXED",
                    "discount_value": 50}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["discount_value"].is_array());
    for (body, field) in [
        (json!({"quantity": -1}), "quantity"),
        (json!({"unit_price": "abc"}), "unit_price"),
        (json!({"discount_type": "PERCENT"}), "discount_type"),
        (
            json!({"discount_type": "PERCENTAGE", "discount_value": 150}),
            "discount_value",
        ),
        (json!({"quantity": null}), "quantity"),
        (json!({"order": -1}), "order"),
        (json!({"product_id": Uuid::new_v4()}), "product_id"),
        (
            json!({"quantity": "99999999", "unit_price": "9999999999"}),
            "quantity",
        ),
    ] {
        let res = app.post(&base, Some(&admin.access), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}: {}", res.text);
        assert!(
            res.body["errors"][field].is_array(),
            "{field}: {}",
            res.text
        );
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM opportunity_line_item WHERE opportunity_id = $1",
            id
        )
        .await,
        3
    );
    let o = opp(&app, &admin, id).await;
    assert_eq!(o["amount"], "284.97");
    assert_eq!(o["amount_source"], "CALCULATED");
    assert_eq!(o["line_items_total"], json!(284.97));
    assert_eq!(o["line_items"].as_array().unwrap().len(), 3);

    // PUT is partial: only the quantity changes, totals and the amount follow.
    let res = app
        .put(
            &format!("{base}{first}/"),
            Some(&admin.access),
            &json!({"quantity": 1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Line item updated successfully");
    assert_eq!(res.body["line_item"]["total"], "19.99");
    assert_eq!(res.body["line_item"]["name"], "Widget");
    assert_eq!(res.body["opportunity_amount"], json!(244.99));
    // A discount above the subtotal on update: 400, the stored item unchanged.
    let res = app
        .put(
            &format!("{base}{first}/"),
            Some(&admin.access),
            &json!({"discount_value": 20}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    let res = app
        .get(&format!("{base}{first}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["total"], "19.99");
    assert_eq!(res.body["discount_value"], "0.00");
    // Thousands separators in the formatted values.
    let res = app
        .put(
            &format!("{base}{half}/"),
            Some(&admin.access),
            &json!({"unit_price": "1234.5", "quantity": 1, "discount_value": 0}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["line_item"]["formatted_unit_price"],
        "USD 1,234.50"
    );
    // The list page.
    let res = app.get(&base, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["line_items"].as_array().unwrap().len(), 3);
    assert_eq!(res.body["products"][0]["name"], "Widget");
    assert_eq!(res.body["opportunity_amount_source"], "CALCULATED");
    assert_eq!(res.body["opportunity_amount"], json!(1434.49));
    // Unknown or malformed line item ids: upstream's 404 body.
    for path in [format!("{base}{}/", Uuid::new_v4()), format!("{base}nope/")] {
        let res = app.get(&path, Some(&admin.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(
            res.body,
            json!({"error": true, "message": "Line item not found"})
        );
    }
    // DELETE answers with a JSON body (the frontend reads opportunity_amount); the last one
    // puts a calculated amount back to 0 and MANUAL.
    let ids: Vec<String> = res.body["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    let mut last = Value::Null;
    for li in &ids {
        let res = app
            .delete(&format!("{base}{li}/"), Some(&admin.access))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.body["message"], "Line item deleted successfully");
        assert!(res.body["opportunity_amount"].is_number());
        last = res.body["opportunity_amount"].clone();
    }
    assert_eq!(last, json!(0.0));
    let o = opp(&app, &admin, id).await;
    assert_eq!(
        (o["amount"].clone(), o["amount_source"].clone()),
        (json!("0.00"), json!("MANUAL"))
    );
    let res = app
        .delete(&format!("{base}{}/", ids[0]), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn opportunities_detail_comments_assignment_mail_cache_and_delete_cascades() {
    let app = TestApp::new().await;
    let admin = app.admin("od@example.com").await;
    let user = app
        .member(admin.org_id, "od-user@example.com", "USER")
        .await;
    let id = create(
        &app,
        &admin,
        frontend_body("Detail", None, &[], &[user.profile_id, admin.profile_id]),
    )
    .await;
    // One assignment e-mail, to the other assignee, queued in the create's transaction.
    let to: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'to' FROM jobs WHERE kind = 'email' AND payload->>'template' = 'assignment'",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(to, vec!["od-user@example.com".to_string()]);
    let res = app
        .post(
            &format!("/api/opportunities/{id}/"),
            Some(&user.access),
            &json!({"comment": "Spoke to them"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["comments"][0]["comment"], "Spoke to them");
    assert_eq!(res.body["comment_permission"], false);
    let res = app
        .get(
            &format!("/api/opportunities/comment/{id}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["comments_count"], 1);

    // The list is cached until a write; a line item write invalidates it.
    let first = app.get("/api/opportunities/", Some(&admin.access)).await;
    let second = app.get("/api/opportunities/", Some(&admin.access)).await;
    assert_eq!(first.text, second.text);
    let res = app
        .post(
            &format!("/api/opportunities/{id}/line-items/"),
            Some(&admin.access),
            &json!({"name": "Seat", "quantity": 2, "unit_price": 10}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let v = list(&app, &admin, "").await;
    assert_eq!(v["opportunities"][0]["line_items"][0]["total"], "20.00");
    assert_eq!(v["opportunities"][0]["amount"], "20.00");

    // A task points at it: deleting keeps the task, unlinked.
    let task = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO task (created_at, updated_at, id, title, status, priority, org_id, opportunity_id)
         VALUES (now(), now(), $1, 'Call', 'New', 'Medium', $2, $3)",
    )
    .bind(task)
    .bind(admin.org_id)
    .bind(id)
    .execute(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(opp(&app, &admin, id).await["task_count"], 1);
    let res = app
        .delete(&format!("/api/opportunities/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    for sql in [
        "SELECT count(*) FROM opportunity WHERE id = $1",
        "SELECT count(*) FROM opportunity_line_item WHERE opportunity_id = $1",
        "SELECT count(*) FROM opportunity_assigned_to WHERE opportunity_id = $1",
        "SELECT count(*) FROM comment WHERE object_id = $1",
        "SELECT count(*) FROM task WHERE opportunity_id = $1",
    ] {
        assert_eq!(scalar(&app, sql, id).await, 0, "{sql}");
    }
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM task WHERE id = $1", task).await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM activity WHERE entity_id = $1 AND entity_type = 'Opportunity'",
            id
        )
        .await,
        4,
        "create, the comment, the line item's update of the amount, delete"
    );
    assert_eq!(list(&app, &admin, "").await["opportunities_count"], 0);
}

/// The dashboard's pipeline and revenue figures over opportunities written through the API.
#[tokio::test]
async fn dashboard_pipeline_and_revenue_read_real_opportunities() {
    let app = TestApp::new().await;
    let admin = app.admin("odb@example.com").await;
    let user = app
        .member(admin.org_id, "odb-user@example.com", "USER")
        .await;
    let account = fixture(&app, "account", admin.org_id, "Dash Co").await;
    let rows = [
        ("P1", "PROSPECTING", "1000", 0, None, None),
        ("P2", "PROPOSAL", "2000.50", 40, None, None),
        ("N1", "NEGOTIATION", "400", 0, None, Some("EUR")),
        ("W1", "CLOSED_WON", "5000", 0, Some("2026-11-02"), None),
        ("L1", "CLOSED_LOST", "300", 0, Some("2026-11-02"), None),
    ];
    for (name, stage, amount, prob, closed, cur) in rows {
        let mut body = frontend_body(name, Some(account), &[], &[]);
        body["stage"] = json!(stage);
        body["amount"] = json!(amount);
        body["probability"] = json!(prob);
        body["closed_on"] = json!(closed);
        body["currency"] = json!(cur);
        if name == "P1" {
            body["assigned_to"] = json!([user.profile_id]);
        }
        create(&app, &admin, body).await;
    }
    let res = app.get("/api/dashboard/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let p = &res.body["pipeline_by_stage"];
    assert_eq!(
        p["PROSPECTING"],
        json!({"count": 1, "value": 1000.0, "label": "Prospecting"})
    );
    assert_eq!(p["PROPOSAL"]["value"], json!(2000.5));
    // Another currency is counted but not summed.
    assert_eq!(
        p["NEGOTIATION"],
        json!({"count": 1, "value": 0.0, "label": "Negotiation"})
    );
    assert_eq!(p["CLOSED_WON"]["value"], json!(5000.0));
    assert_eq!(p["QUALIFICATION"]["count"], 0);
    let r = &res.body["revenue_metrics"];
    assert_eq!(r["pipeline_value"], json!(3000.5));
    // 1000 × 10 % (stage default) + 2000.50 × 40 %.
    assert_eq!(r["weighted_pipeline"], json!(900.2));
    assert_eq!(r["won_this_month"], json!(5000.0));
    assert_eq!(r["other_currency_count"], 1);
    assert_eq!(res.body["opportunities_count"], 5);
    let o = &res.body["opportunities"][0];
    for k in [
        "id",
        "name",
        "amount",
        "currency",
        "stage",
        "probability",
        "created_on",
        "closed_on",
        "account",
    ] {
        assert!(o.get(k).is_some(), "dashboard opportunity misses {k}");
    }
    assert_eq!(o["account"]["name"], "Dash Co");
    // A USER's figures cover what they may see.
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(res.body["opportunities_count"], 1);
    assert_eq!(res.body["revenue_metrics"]["pipeline_value"], json!(1000.0));
}

/// The accounts list and detail show the account's real opportunities in the shapes the
/// frontend (`opportunities[]{stage,amount}`) and upstream (`opportunity_list`) give.
#[tokio::test]
async fn accounts_pages_render_the_accounts_real_opportunities() {
    let app = TestApp::new().await;
    let admin = app.admin("oac@example.com").await;
    let res = app
        .post(
            "/api/accounts/",
            Some(&admin.access),
            &json!({"name": "Acct With Deals"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let account: Uuid = res.body["id"].as_str().unwrap().parse().unwrap();
    let mut body = frontend_body("Deal A", Some(account), &[], &[]);
    body["amount"] = json!("1500.25");
    body["stage"] = json!("PROPOSAL");
    let a = create(&app, &admin, body).await;
    let b = create(
        &app,
        &admin,
        frontend_body("Deal B", Some(account), &[], &[]),
    )
    .await;
    let res = app.get("/api/accounts/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let row = &res.body["active_accounts"]["open_accounts"][0];
    let ops = row["opportunities"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    let deal_a = ops.iter().find(|o| o["id"] == json!(a)).unwrap();
    assert_eq!(deal_a["stage"], "PROPOSAL");
    assert_eq!(deal_a["amount"], "1500.25");
    let deal_b = ops.iter().find(|o| o["id"] == json!(b)).unwrap();
    assert_eq!(deal_b["amount"], "0", "upstream's \"0\" for a zero amount");
    let res = app
        .get(&format!("/api/accounts/{account}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let list = res.body["opportunity_list"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let deal_a = list.iter().find(|o| o["id"] == json!(a)).unwrap();
    assert_eq!(deal_a["name"], "Deal A");
    assert_eq!(deal_a["amount"], "1500.25");
    assert_eq!(deal_a["probability"], 50);
    // Deleting the account removes its opportunities and their line items.
    let res = app
        .post(
            &format!("/api/opportunities/{a}/line-items/"),
            Some(&admin.access),
            &json!({"name": "Item", "quantity": 1, "unit_price": 5}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .delete(&format!("/api/accounts/{account}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM opportunity WHERE account_id = $1",
            account
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM opportunity_line_item WHERE opportunity_id = $1",
            a
        )
        .await,
        0
    );
}

#[tokio::test]
async fn opportunities_frontend_stage_change_to_closed_closes_it_today() {
    // The frontend's stage select PATCHes only `stage`: closing must not be a 400.
    let app = TestApp::new().await;
    let admin = app.admin("o-stage@example.com").await;
    let id = create(
        &app,
        &admin,
        json!({"name": "Drag me", "stage": "PROPOSAL", "amount": "120.00"}),
    )
    .await;
    let res = app
        .patch(
            &format!("/api/opportunities/{id}/"),
            Some(&admin.access),
            &json!({"stage": "CLOSED_WON"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let o = opp(&app, &admin, id).await;
    assert_eq!(o["stage"], "CLOSED_WON");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(o["closed_on"], json!(today), "{o}");
}
