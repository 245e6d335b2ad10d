//! Invoices: envelopes and keys, money (spec §5.8 vectors through the API), validation 400s
//! naming the field, per-org gap-free numbering under concurrency, payments and the status
//! lifecycle, history, USER vs ADMIN, other orgs' ids. Test names say which upstream finding
//! (spec invoices §0) each one pins down.

use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

/// An account and a contact of it in `org`, inserted as the owner.
pub(crate) async fn party(app: &TestApp, org: Uuid, label: &str) -> (Uuid, Uuid) {
    let (account, contact) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO accounts (created_at, updated_at, id, org_id, name, email, is_active)
         VALUES (now(), now(), $1, $2, $3, lower($3) || '@example.net', true)",
    )
    .bind(account)
    .bind(org)
    .bind(label)
    .execute(&app.db.admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO contacts (created_at, updated_at, id, org_id, first_name, last_name, email, do_not_call,
                               is_active, account_id)
         VALUES (now(), now(), $1, $2, $3, 'Buyer', lower($3) || '.buyer@example.net', false, true, $4)",
    )
    .bind(contact)
    .bind(org)
    .bind(label)
    .bind(account)
    .execute(&app.db.admin)
    .await
    .unwrap();
    (account, contact)
}

fn base(account: Uuid, contact: Uuid) -> Value {
    json!({"invoice_title": "Consulting", "account_id": account, "contact_id": contact,
           "client_name": "Kim Buyer", "client_email": "kim@example.net", "issue_date": "2026-02-28"})
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

pub(crate) async fn create(app: &TestApp, who: &TestUser, body: &Value) -> Value {
    let res = app.post("/api/invoices/", Some(&who.access), body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["message"], "Invoice created successfully");
    res.body["invoice"].clone()
}

async fn get(app: &TestApp, who: &TestUser, id: &Value) -> Value {
    let res = app
        .get(
            &format!("/api/invoices/{}/", id.as_str().unwrap()),
            Some(&who.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

fn money(v: &Value) -> [String; 4] {
    ["subtotal", "discount_amount", "tax_amount", "total_amount"]
        .map(|k| v[k].as_str().unwrap_or("?").to_string())
}

#[tokio::test]
async fn invoices_create_detail_list_shapes_and_numbers() {
    let app = TestApp::new().await;
    let admin = app.admin("inv-a@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Acme").await;
    let inv = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"line_items": [{"name": "Work", "description": "Hours", "quantity": "2", "unit_price": 50}]}),
        ),
    )
    .await;
    let number = inv["invoice_number"].as_str().unwrap();
    let today = chrono::Utc::now().date_naive().format("%Y%m%d").to_string();
    assert_eq!(number, format!("INV-{today}-0001"));
    assert_eq!(inv["status"], "Draft");
    assert_eq!(inv["public_token"].as_str().unwrap().len(), 43);
    assert_eq!(
        inv["public_url"],
        format!("/portal/invoice/{}", inv["public_token"].as_str().unwrap())
    );
    // NET_30 from the issue date.
    assert_eq!(inv["due_date"], "2026-03-30");
    assert_eq!(inv["currency"], "USD");
    assert_eq!(inv["account"]["id"], json!(account));
    assert_eq!(inv["contact"]["id"], json!(contact));
    assert_eq!(inv["line_items"][0]["total"], "100.00");
    assert_eq!(inv["line_items"][0]["formatted_total"], "USD 100.00");
    assert_eq!(inv["amount_due"], "100.00");
    assert_eq!(inv["created_by"]["email"], "inv-a@example.com");
    // Finding 14: no org API key anywhere in the payload.
    assert!(!inv.to_string().contains("api_key"));

    let d = get(&app, &admin, &inv["id"]).await;
    for k in ["invoice", "attachments", "comments", "history"] {
        assert!(d.get(k).is_some(), "{k}");
    }
    assert_eq!(d["invoice"]["total_amount"], "100.00");
    assert_eq!(d["history"][0]["details"], "Invoice created.");
    assert_eq!(d["history"][0]["updated_by"]["id"], json!(admin.profile_id));

    create(
        &app,
        &admin,
        &with(base(account, contact), json!({"invoice_title": "Second"})),
    )
    .await;
    let res = app.get("/api/invoices/?limit=1", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["count"], 2);
    assert_eq!(b["previous"], Value::Null);
    assert!(
        b["next"]
            .as_str()
            .unwrap()
            .ends_with("/api/invoices/?limit=1&offset=1")
    );
    let row = &b["results"][0];
    let mut keys: Vec<&str> = row
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    let mut want = vec![
        "id",
        "invoice_number",
        "invoice_title",
        "status",
        "account",
        "account_name",
        "contact",
        "contact_name",
        "client_name",
        "client_email",
        "issue_date",
        "due_date",
        "total_amount",
        "amount_due",
        "amount_paid",
        "currency",
        "is_overdue",
        "line_items_count",
        "created_at",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(row["invoice_title"], "Second");
    assert_eq!(row["account_name"], "Acme");
    assert_eq!(row["contact_name"], "Acme Buyer");
    // Filters: status, search, dates with a single underscore; malformed values are 400s.
    let q = |s: &str| {
        let path = format!("/api/invoices/?{s}");
        let (app, token) = (&app, admin.access.clone());
        async move { app.get(&path, Some(&token)).await }
    };
    assert_eq!(q("search=consult").await.body["count"], 1);
    assert_eq!(q("status=Paid").await.body["count"], 0);
    assert_eq!(q("issue_date_gte=2026-03-01").await.body["count"], 0);
    assert_eq!(
        q("ordering=total_amount").await.body["results"][0]["invoice_title"],
        "Second"
    );
    assert_eq!(
        q("sort=-total_amount").await.body["results"][0]["invoice_title"],
        "Consulting"
    );
    // Finding 24: malformed filters were 500s.
    let res = q("account=nope").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["account"].is_array(), "{}", res.text);
    assert_eq!(
        q("due_date_lte=31-12-2026").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn invoices_money_vectors_through_the_api() {
    let app = TestApp::new().await;
    let admin = app.admin("inv-m@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Money").await;
    // Vector A (finding 1 fixed: line discounts and taxes reach the header).
    let a = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"discount_type": "PERCENTAGE", "discount_value": "10", "tax_rate": "8.25",
                   "shipping_amount": "5.00", "line_items": [
                       {"quantity": "3", "unit_price": "33.33", "discount_type": "PERCENTAGE",
                        "discount_value": "15", "tax_rate": "10"},
                       {"quantity": "1.5", "unit_price": "10.05"}]}),
        ),
    )
    .await;
    let l = &a["line_items"];
    assert_eq!(
        [
            &l[0]["subtotal"],
            &l[0]["discount_amount"],
            &l[0]["tax_amount"],
            &l[0]["total"]
        ],
        ["99.99", "15.00", "8.50", "93.49"]
    );
    assert_eq!(l[1]["subtotal"], "15.08");
    assert_eq!(money(&a), ["115.07", "25.01", "15.93", "110.99"]);
    assert_eq!(a["amount_due"], "110.99");
    // Finding 2: the write response and later reads agree.
    let d = get(&app, &admin, &a["id"]).await;
    assert_eq!(money(&d["invoice"]), money(&a));

    // Vector B: line-item CRUD recalculates the header.
    let b = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"discount_type": "FIXED", "discount_value": 5, "tax_rate": 10,
                   "shipping_amount": "2.50", "line_items": [{"quantity": 2, "unit_price": 50}]}),
        ),
    )
    .await;
    assert_eq!(money(&b), ["100.00", "5.00", "9.50", "107.00"]);
    let id = b["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/invoices/{id}/line-items/"),
            Some(&admin.access),
            &json!({"quantity": 1, "unit_price": 10}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Line item added");
    let line = res.body["line_item"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        money(&get(&app, &admin, &b["id"]).await["invoice"]),
        ["110.00", "5.00", "10.50", "118.00"]
    );
    let res = app
        .patch(
            &format!("/api/invoices/{id}/line-items/{line}/"),
            Some(&admin.access),
            &json!({"unit_price": "20"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["line_item"]["quantity"], "1.00");
    assert_eq!(
        money(&get(&app, &admin, &b["id"]).await["invoice"]),
        ["120.00", "5.00", "11.50", "129.00"]
    );
    let res = app
        .delete(
            &format!("/api/invoices/{id}/line-items/{line}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        money(&get(&app, &admin, &b["id"]).await["invoice"]),
        ["100.00", "5.00", "9.50", "107.00"]
    );
    let lines = app
        .get(
            &format!("/api/invoices/{id}/line-items/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(lines.body.as_array().unwrap().len(), 1);

    // Vector C: rounding half away from zero, once per column, same in the response (upstream
    // answered 1.02 then stored 1.03).
    let c = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"tax_rate": "10", "line_items": [{"quantity": 1, "unit_price": "10.25"}]}),
        ),
    )
    .await;
    assert_eq!(c["tax_amount"], "1.03");
    assert_eq!(c["total_amount"], "11.28");
    // Vector D.
    let dd = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"line_items": [{"quantity": "0.5", "unit_price": "0.05"}]}),
        ),
    )
    .await;
    assert_eq!(dd["line_items"][0]["subtotal"], "0.03");
    assert_eq!(dd["subtotal"], "0.03");

    // PUT with line_items replaces them all; [] clears. Here the header's FIXED 5 would then
    // exceed the subtotal: refused, nothing written.
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"line_items": []}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(
        res.body["errors"]["discount_value"].is_array(),
        "{}",
        res.text
    );
    assert_eq!(
        money(&get(&app, &admin, &b["id"]).await["invoice"]),
        ["100.00", "5.00", "9.50", "107.00"]
    );
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"line_items": [], "discount_value": "0"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Invoice updated successfully");
    assert_eq!(
        money(&res.body["invoice"]),
        ["0.00", "0.00", "0.00", "2.50"]
    );
    assert_eq!(res.body["invoice"]["line_items"], json!([]));
}

#[tokio::test]
async fn invoices_reject_nonsense_money_with_the_field_finding_3() {
    let app = TestApp::new().await;
    let admin = app.admin("inv-v@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Valid").await;
    let bad = |extra: Value| with(base(account, contact), extra);
    let cases = [
        (
            json!({"line_items": [{"quantity": "-1", "unit_price": 5}]}),
            "line_items",
            Some("quantity"),
        ),
        (
            json!({"line_items": [{"quantity": 1, "unit_price": "-5"}]}),
            "line_items",
            Some("unit_price"),
        ),
        (
            json!({"line_items": [{"quantity": 1, "unit_price": 5, "discount_type": "PERCENTAGE", "discount_value": 101}]}),
            "line_items",
            Some("discount_value"),
        ),
        (
            json!({"line_items": [{"quantity": 1, "unit_price": 5, "discount_type": "FIXED", "discount_value": 6}]}),
            "line_items",
            Some("discount_value"),
        ),
        (
            json!({"discount_type": "PERCENTAGE", "discount_value": "100.01"}),
            "discount_value",
            None,
        ),
        (
            json!({"discount_type": "FIXED", "discount_value": "5", "line_items": [{"quantity": 1, "unit_price": 4}]}),
            "discount_value",
            None,
        ),
        (json!({"shipping_amount": "-1"}), "shipping_amount", None),
        (json!({"tax_rate": "1.234"}), "tax_rate", None),
        (json!({"status": "Paid"}), "status", None),
        (json!({"discount_type": "BOGUS"}), "discount_type", None),
        (
            json!({"client_email": "not-an-email"}),
            "client_email",
            None,
        ),
        (json!({"issue_date": null}), "issue_date", None),
        (json!({"due_date": "31/12/2026"}), "due_date", None),
    ];
    for (extra, field, line_field) in cases {
        let res = app
            .post("/api/invoices/", Some(&admin.access), &bad(extra.clone()))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{extra}: {}", res.text);
        assert_eq!(res.body["error"], true);
        let e = &res.body["errors"][field];
        match line_field {
            Some(f) => assert!(e[0][f].is_array(), "{extra}: {}", res.text),
            None => assert!(e.is_array(), "{extra}: {}", res.text),
        }
    }
    // Missing ids are required; nothing was written by any of the above.
    let res = app
        .post(
            "/api/invoices/",
            Some(&admin.access),
            &json!({"invoice_title": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["account_id"][0],
        "This field is required."
    );
    assert_eq!(
        res.body["errors"]["contact_id"][0],
        "This field is required."
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM invoice")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // A contact of another account is refused.
    let (other_account, _) = party(&app, admin.org_id, "Other").await;
    let res = app
        .post(
            "/api/invoices/",
            Some(&admin.access),
            &base(other_account, contact),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["contact_id"][0],
        "Contact does not belong to the selected account"
    );
    // Frontend trap: numbers as strings, discount_type "" and discount_value "0", blank title.
    let inv = create(
        &app,
        &admin,
        &with(base(account, contact), json!({"invoice_title": "", "discount_type": "", "discount_value": "0",
              "tax_rate": 18, "line_items": [{"name": "A", "description": "", "quantity": 1, "unit_price": 100, "order": 0}]})),
    )
    .await;
    assert_eq!(inv["total_amount"], "118.00");
}

#[tokio::test]
async fn invoices_numbers_per_org_gap_free_under_concurrency_finding_4() {
    let app = TestApp::with_config(|c| c.db_max_connections = 8).await;
    let a = app.admin("num-a@example.com").await;
    let b = app.admin("num-b@example.com").await;
    let pa = party(&app, a.org_id, "OrgA").await;
    let pb = party(&app, b.org_id, "OrgB").await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (who, (acc, con)) = if i % 2 == 0 { (&a, pa) } else { (&b, pb) };
        let body = with(base(acc, con), json!({"invoice_title": format!("T{i}")}));
        let token = who.access.clone();
        let app = &app;
        tasks.push(async move {
            let res = app.post("/api/invoices/", Some(&token), &body).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
            res.body["invoice"]["invoice_number"]
                .as_str()
                .unwrap()
                .to_string()
        });
    }
    let numbers = futures_util::future::join_all(tasks).await;
    let today = chrono::Utc::now().date_naive().format("%Y%m%d").to_string();
    for org in [a.org_id, b.org_id] {
        let mut got: Vec<String> =
            sqlx::query_scalar("SELECT invoice_number FROM invoice WHERE org_id = $1")
                .bind(org)
                .fetch_all(&app.db.admin)
                .await
                .unwrap();
        got.sort();
        let want: Vec<String> = (1..=50).map(|n| format!("INV-{today}-{n:04}")).collect();
        assert_eq!(got, want);
    }
    assert_eq!(numbers.len(), 100);
    // Both orgs hold INV-...-0001: uniqueness is per org.
    let both: i64 =
        sqlx::query_scalar("SELECT count(*) FROM invoice WHERE invoice_number LIKE '%-0001'")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(both, 2);
}

#[tokio::test]
async fn invoices_payments_drive_the_status_findings_5_and_vector_g() {
    let app = TestApp::new().await;
    let admin = app.admin("pay@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Pay").await;
    let inv = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"status": "Sent", "issue_date": chrono::Utc::now().date_naive().to_string(),
                   "line_items": [{"quantity": 1, "unit_price": 100}]}),
        ),
    )
    .await;
    assert!(inv["sent_at"].is_string());
    let id = inv["id"].as_str().unwrap().to_string();
    let pay = |body: Value| {
        let id = id.clone();
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.post(
                &format!("/api/invoices/{id}/payments/"),
                Some(&token),
                &body,
            )
            .await
        }
    };
    // Finding 3: negative, zero, missing and overpaying amounts are 400s on `amount`.
    for body in [
        json!({"amount": "-5", "payment_date": "2026-03-01", "payment_method": "CASH"}),
        json!({"amount": "0", "payment_date": "2026-03-01", "payment_method": "CASH"}),
        json!({"amount": "100.01", "payment_date": "2026-03-01", "payment_method": "CASH"}),
        json!({"payment_date": "2026-03-01", "payment_method": "CASH"}),
    ] {
        let res = pay(body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.body["errors"]["amount"].is_array(), "{}", res.text);
    }
    let res =
        pay(json!({"amount": "30", "payment_date": "2026-03-01", "payment_method": "WIRE"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["payment_method"].is_array());

    let res =
        pay(json!({"amount": "30", "payment_date": "2026-03-01", "payment_method": "CASH"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Payment recorded");
    assert_eq!(res.body["payment"]["amount"], "30.00");
    assert_eq!(res.body["invoice"]["status"], "Partially_Paid");
    assert_eq!(res.body["invoice"]["amount_paid"], "30.00");
    assert_eq!(res.body["invoice"]["amount_due"], "70.00");
    let p1 = res.body["payment"]["id"].as_str().unwrap().to_string();

    // Finding 5: status is not freely writable (upstream: PUT "Paid" without payments).
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"status": "Paid"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["status"].is_array());
    // Re-sending the current status (the frontend's full PUT) is fine.
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"status": "Partially_Paid", "notes": "n"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Lowering the total below what was paid is refused.
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"line_items": [{"quantity": 1, "unit_price": 20}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["total_amount"].is_array());

    // mark-paid without a body pays the balance.
    let res = app
        .post(
            &format!("/api/invoices/{id}/mark-paid/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Payment recorded successfully");
    let i = &res.body["invoice"];
    assert_eq!(i["status"], "Paid");
    assert_eq!(i["amount_paid"], "100.00");
    assert_eq!(i["amount_due"], "0.00");
    assert!(i["paid_at"].is_string());
    assert_eq!(i["payments"].as_array().unwrap().len(), 2);
    assert_eq!(i["payments"][0]["payment_method"], "OTHER");
    // Overpayment (upstream: Paid with amount_due -10.00).
    let res = app
        .post(
            &format!("/api/invoices/{id}/mark-paid/"),
            Some(&admin.access),
            &json!({"amount": "10"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert!(res.body["errors"]["amount"].is_array());
    let res = app
        .post(
            &format!("/api/invoices/{id}/cancel/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["message"], "Cannot cancel a paid invoice");

    // Deleting payments moves the invoice back (upstream: stuck in Partially_Paid, paid_at kept).
    let payments = app
        .get(
            &format!("/api/invoices/{id}/payments/"),
            Some(&admin.access),
        )
        .await;
    let all = payments.body.as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    let p2 = all.iter().find(|p| p["id"] != json!(p1)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .delete(
            &format!("/api/invoices/{id}/payments/{p2}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let i = get(&app, &admin, &json!(id)).await["invoice"].clone();
    assert_eq!(
        (i["status"].as_str(), i["amount_due"].as_str()),
        (Some("Partially_Paid"), Some("70.00"))
    );
    assert!(i["paid_at"].is_null());
    let res = app
        .delete(
            &format!("/api/invoices/{id}/payments/{p1}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let d = get(&app, &admin, &json!(id)).await;
    let i = &d["invoice"];
    assert_eq!(i["status"], "Sent");
    assert_eq!(i["amount_paid"], "0.00");
    assert_eq!(i["amount_due"], "100.00");
    // Finding 9: every change has a history row with who and what.
    let h = d["history"].as_array().unwrap();
    assert!(h.len() >= 6, "{h:?}");
    assert!(
        h.iter()
            .all(|r| r["updated_by"]["id"] == json!(admin.profile_id))
    );
    assert!(
        h[0]["details"]
            .as_str()
            .unwrap()
            .contains("Payment of 30.00 deleted")
    );
    assert!(
        h.iter()
            .any(|r| r["details"].as_str().unwrap().contains("notes:"))
    );

    // Cancelled invoices cannot be paid (upstream: paying revived them as Paid).
    let res = app
        .post(
            &format!("/api/invoices/{id}/cancel/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["invoice"]["status"], "Cancelled");
    let res = app
        .post(
            &format!("/api/invoices/{id}/cancel/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.body["message"], "Invoice is already cancelled");
    let res =
        pay(json!({"amount": "1", "payment_date": "2026-03-01", "payment_method": "CASH"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["message"], "A cancelled invoice cannot be paid");
    let res = app
        .put(
            &format!("/api/invoices/{id}/"),
            Some(&admin.access),
            &json!({"status": "Draft"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invoices_send_duplicate_and_delete() {
    let app = TestApp::new().await;
    let admin = app.admin("act@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Act").await;
    let inv = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"po_number": "PO-1", "line_items": [{"quantity": 2, "unit_price": 10}]}),
        ),
    )
    .await;
    let id = inv["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/invoices/{id}/send/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Invoice sent successfully"})
    );
    let i = get(&app, &admin, &inv["id"]).await["invoice"].clone();
    assert_eq!(i["status"], "Sent");
    assert!(i["sent_at"].is_string());

    let res = app
        .post(
            &format!("/api/invoices/{id}/duplicate/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let c = &res.body["invoice"];
    assert_eq!(c["invoice_title"], "Copy of Consulting");
    assert_eq!(c["status"], "Draft");
    assert_ne!(c["invoice_number"], inv["invoice_number"]);
    assert_ne!(c["public_token"], inv["public_token"]);
    assert_eq!(c["po_number"], Value::Null);
    assert_eq!(c["total_amount"], "20.00");
    assert_eq!(c["issue_date"], chrono::Utc::now().date_naive().to_string());

    let user = app.member(admin.org_id, "act-u@example.com", "USER").await;
    let res = app
        .delete(&format!("/api/invoices/{id}/"), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .delete(&format!("/api/invoices/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/invoices/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"error": true, "message": "Invoice not found"})
    );
}

#[tokio::test]
async fn invoices_user_sees_what_they_created_or_are_assigned_finding_6() {
    let app = TestApp::new().await;
    let admin = app.admin("vis-a@example.com").await;
    let user = app.member(admin.org_id, "vis-u@example.com", "USER").await;
    let other = app.member(admin.org_id, "vis-o@example.com", "USER").await;
    let (account, contact) = party(&app, admin.org_id, "Vis").await;
    // Created by the USER: upstream answered 403 to its own creator.
    let mine = create(&app, &user, &base(account, contact)).await;
    let res = app
        .get(
            &format!("/api/invoices/{}/", mine["id"].as_str().unwrap()),
            Some(&user.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Assigned to the other USER by the admin (finding 7: assigned_to is writable).
    let theirs = create(
        &app,
        &admin,
        &with(
            base(account, contact),
            json!({"assigned_to": [other.profile_id]}),
        ),
    )
    .await;
    assert_eq!(theirs["assigned_to"][0]["id"], json!(other.profile_id));
    let list = |who: &TestUser| {
        let token = who.access.clone();
        let app = &app;
        async move { app.get("/api/invoices/", Some(&token)).await.body }
    };
    assert_eq!(list(&admin).await["count"], 2);
    assert_eq!(list(&user).await["count"], 1);
    assert_eq!(list(&other).await["count"], 1);
    let tid = theirs["id"].as_str().unwrap();
    for path in [
        format!("/api/invoices/{tid}/"),
        format!("/api/invoices/{tid}/payments/"),
    ] {
        let res = app.get(&path, Some(&user.access)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(res.body["message"], "Permission denied");
    }
    // Upstream: send/mark-paid/line items had no object check at all.
    let res = app
        .post(
            &format!("/api/invoices/{tid}/mark-paid/"),
            Some(&user.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .get(&format!("/api/invoices/{tid}/"), Some(&other.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn invoices_other_orgs_ids_finding_15() {
    let app = TestApp::new().await;
    let a = app.admin("x-a@example.com").await;
    let b = app.admin("x-b@example.com").await;
    let (acc_a, con_a) = party(&app, a.org_id, "A").await;
    let (acc_b, con_b) = party(&app, b.org_id, "B").await;
    let inv_b = create(&app, &b, &base(acc_b, con_b)).await;
    let bid = inv_b["id"].as_str().unwrap();
    for path in [
        format!("/api/invoices/{bid}/"),
        format!("/api/invoices/{bid}/payments/"),
        format!("/api/invoices/{bid}/line-items/"),
        format!("/api/invoices/{bid}/history/"),
    ] {
        let res = app.get(&path, Some(&a.access)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    let res = app
        .post(
            &format!("/api/invoices/{bid}/mark-paid/"),
            Some(&a.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // B's ids in A's body: 400 on the field.
    let res = app
        .post("/api/invoices/", Some(&a.access), &base(acc_b, con_a))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["account_id"][0],
        "Account not found or does not belong to your organization"
    );
    let res = app
        .post("/api/invoices/", Some(&a.access), &base(acc_a, con_b))
        .await;
    assert_eq!(
        res.body["errors"]["contact_id"][0],
        "Contact not found or does not belong to your organization"
    );
    let res = app
        .post(
            "/api/invoices/",
            Some(&a.access),
            &with(
                base(acc_a, con_a),
                json!({"assigned_to": [b.profile_id], "template_id": Uuid::new_v4()}),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["assigned_to"].is_array());
    assert!(res.body["errors"]["template_id"].is_array());
    let d = get(&app, &b, &inv_b["id"]).await;
    assert_eq!(d["invoice"]["status"], "Draft");
    assert_eq!(d["history"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invoices_nightly_job_marks_overdue_per_org_findings_17_18() {
    use crm::jobs::{Job, Worker, WorkerOptions, queue};
    let app = TestApp::new().await;
    let admin = app.admin("night@example.com").await;
    let other = app.admin("night-b@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Night").await;
    let (b_account, b_contact) = party(&app, other.org_id, "NightB").await;
    let past = json!({"status": "Sent", "issue_date": "2026-01-01", "due_date": "2026-01-31"});
    let late = create(&app, &admin, &with(base(account, contact), past.clone())).await;
    let draft = create(
        &app,
        &admin,
        &with(base(account, contact), json!({"issue_date": "2026-01-01"})),
    )
    .await;
    let b_late = create(&app, &other, &with(base(b_account, b_contact), past)).await;
    let est = app
        .post(
            "/api/invoices/estimates/",
            Some(&admin.access),
            &json!({"title": "Old quote", "issue_date": "2026-01-01", "expiry_date": "2026-01-15"}),
        )
        .await;
    assert_eq!(est.status, StatusCode::CREATED, "{}", est.text);
    // The job runs in one org's context (upstream's ran without one and saw nothing).
    let mut conn = app.db.app.acquire().await.unwrap();
    for _ in 0..2 {
        // Twice: a retried or repeated run changes nothing more.
        queue::insert(&mut conn, Some(admin.org_id), &Job::InvoicesNightly, None)
            .await
            .unwrap();
    }
    drop(conn);
    let mailer =
        crm::mail::Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173").unwrap();
    let opts = WorkerOptions {
        poll_interval: std::time::Duration::from_millis(50),
        ..WorkerOptions::default()
    };
    let w = Worker::new(app.db.app.clone(), opts, mailer);
    assert_eq!(w.drain().await.unwrap(), 2);
    let d = get(&app, &admin, &late["id"]).await;
    assert_eq!(d["invoice"]["status"], "Overdue");
    assert_eq!(d["invoice"]["created_by"]["email"], "night@example.com");
    let overdue_rows = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["details"].as_str().unwrap_or("").contains("Overdue"))
        .count();
    assert_eq!(overdue_rows, 1);
    assert_eq!(
        get(&app, &admin, &draft["id"]).await["invoice"]["status"],
        "Draft"
    );
    assert_eq!(
        get(&app, &other, &b_late["id"]).await["invoice"]["status"],
        "Sent"
    );
    let e = app
        .get(
            &format!(
                "/api/invoices/estimates/{}/",
                est.body["estimate"]["id"].as_str().unwrap()
            ),
            Some(&admin.access),
        )
        .await;
    assert_eq!(e.body["estimate"]["status"], "Expired");
}
