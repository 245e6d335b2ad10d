//! Estimates (the frontend's payloads: `account`/`contact` keys, `discount_type: "fixed"`,
//! PATCH accept/decline), conversion to an invoice (vector F), products.

use axum::http::StatusCode;
use crm::testkit::TestApp;
use serde_json::{Value, json};

use crate::invoices::party;

/// The estimates page's create body (numbers as strings, null ids, lowercase discount type).
fn frontend_body(title: &str) -> Value {
    json!({"title": title, "status": "Draft", "client_name": "Kim", "client_email": "kim@example.net",
           "client_phone": "", "issue_date": "2026-03-01", "expiry_date": null, "notes": "", "terms": "",
           "discount_type": "fixed", "discount_value": "0", "tax_rate": "0", "currency": "USD",
           "client_address_line": "", "client_city": "", "client_state": "", "client_postcode": "",
           "client_country": "", "account": null, "contact": null, "opportunity": null})
}

#[tokio::test]
async fn estimates_frontend_payloads_accept_decline_finding_25() {
    let app = TestApp::new().await;
    let admin = app.admin("est@example.com").await;
    let res = app
        .post(
            "/api/invoices/estimates/",
            Some(&admin.access),
            &frontend_body("Website"),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Estimate created");
    let e = &res.body["estimate"];
    let today = chrono::Utc::now().date_naive().format("%Y%m%d").to_string();
    assert_eq!(e["estimate_number"], format!("EST-{today}-0001"));
    assert_eq!(e["discount_type"], "FIXED");
    assert_eq!(e["account"], Value::Null);
    let id = e["id"].as_str().unwrap().to_string();
    // The frontend's full PUT without line items.
    let res = app
        .put(
            &format!("/api/invoices/estimates/{id}/"),
            Some(&admin.access),
            &frontend_body("Website v2"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["estimate"]["title"], "Website v2");
    // Accept from Draft by PATCH (upstream: 405).
    let res = app
        .patch(
            &format!("/api/invoices/estimates/{id}/"),
            Some(&admin.access),
            &json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["estimate"]["status"], "Accepted");
    assert!(res.body["estimate"]["accepted_at"].is_string());
    let res = app
        .patch(
            &format!("/api/invoices/estimates/{id}/"),
            Some(&admin.access),
            &json!({"status": "Declined"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["status"].is_array());

    // A second estimate: send, decline; a declined estimate cannot be converted.
    let res = app
        .post(
            "/api/invoices/estimates/",
            Some(&admin.access),
            &frontend_body("Other"),
        )
        .await;
    let id2 = res.body["estimate"]["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/invoices/estimates/{id2}/send/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/invoices/estimates/{id2}/"),
            Some(&admin.access),
            &json!({"status": "Declined"}),
        )
        .await;
    assert_eq!(res.body["estimate"]["status"], "Declined");
    let res = app
        .post(
            &format!("/api/invoices/estimates/{id2}/convert/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let res = app
        .get(
            "/api/invoices/estimates/?status=Declined",
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 1);
    assert_eq!(res.body["results"][0]["title"], "Other");
    let res = app
        .get("/api/invoices/estimates/?account=x", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Upstream: the non-admin list was a 500.
    let user = app.member(admin.org_id, "est-u@example.com", "USER").await;
    let res = app
        .get("/api/invoices/estimates/", Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 0);
    let res = app
        .get(
            &format!("/api/invoices/estimates/{id2}/"),
            Some(&user.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .delete(
            &format!("/api/invoices/estimates/{id2}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn estimates_line_items_and_convert_vector_f_finding_16() {
    let app = TestApp::new().await;
    let admin = app.admin("conv@example.com").await;
    let other = app.admin("conv-b@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Conv").await;
    let (b_account, _) = party(&app, other.org_id, "ConvB").await;
    let mut body = frontend_body("Quote");
    body["account"] = json!(account);
    body["contact"] = json!(contact);
    body["discount_type"] = json!("PERCENTAGE");
    body["discount_value"] = json!("10");
    body["tax_rate"] = json!("5");
    body["line_items"] =
        json!([{"description": "Seats", "quantity": "2", "unit_price": "50", "tax_rate": "10"}]);
    let res = app
        .post("/api/invoices/estimates/", Some(&admin.access), &body)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let e = &res.body["estimate"];
    assert_eq!(e["line_items"][0]["total"], "110.00");
    // Line taxes reach the header: 100 − 10 + (10 + 4.50).
    assert_eq!(
        [
            &e["subtotal"],
            &e["discount_amount"],
            &e["tax_amount"],
            &e["total_amount"]
        ],
        ["100.00", "10.00", "14.50", "104.50"]
    );
    let id = e["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/invoices/estimates/{id}/convert/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Estimate converted to invoice");
    let inv = &res.body["invoice"];
    assert_eq!(
        [
            &inv["subtotal"],
            &inv["discount_amount"],
            &inv["tax_amount"],
            &inv["total_amount"]
        ],
        ["100.00", "10.00", "14.50", "104.50"]
    );
    assert_eq!(inv["status"], "Draft");
    assert_eq!(inv["invoice_title"], "Quote");
    let res = app
        .post(
            &format!("/api/invoices/estimates/{id}/convert/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["message"], "Estimate already converted to invoice");
    let res = app
        .get(
            &format!("/api/invoices/estimates/{id}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.body["estimate"]["status"], "Accepted");
    assert_eq!(
        res.body["estimate"]["converted_to_invoice"]["id"],
        inv["id"]
    );
    // Another org's account in the body: 400 on the field; their estimate: 404.
    let mut bad = frontend_body("Bad");
    bad["account"] = json!(b_account);
    let res = app
        .post("/api/invoices/estimates/", Some(&admin.access), &bad)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["account_id"].is_array(), "{}", res.text);
    let res = app
        .get(
            &format!("/api/invoices/estimates/{id}/"),
            Some(&other.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn products_sku_per_org_and_empty_sku_finding_24() {
    let app = TestApp::new().await;
    let admin = app.admin("prod@example.com").await;
    let other = app.admin("prod-b@example.com").await;
    let body = |name: &str, sku: &str| {
        json!({"name": name, "description": "", "sku": sku, "price": "19.99", "currency": "",
               "category": "", "is_active": true})
    };
    for name in ["Alpha", "Beta"] {
        // Two products without SKU (upstream: 500 on the second).
        let res = app
            .post(
                "/api/invoices/products/",
                Some(&admin.access),
                &body(name, ""),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert_eq!(res.body["product"]["sku"], Value::Null);
        assert_eq!(res.body["product"]["price"], "19.99");
    }
    let res = app
        .post(
            "/api/invoices/products/",
            Some(&admin.access),
            &body("Gamma", "G-1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let gid = res.body["product"]["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/api/invoices/products/",
            Some(&admin.access),
            &body("Delta", "G-1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["sku"].is_array());
    // Same SKU in another org is fine.
    let res = app
        .post(
            "/api/invoices/products/",
            Some(&other.access),
            &body("Gamma", "G-1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .post(
            "/api/invoices/products/",
            Some(&admin.access),
            &json!({"price": "-1", "name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["errors"]["price"].is_array());
    let res = app
        .get(
            "/api/invoices/products/?is_active=true&limit=200",
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["count"], 3);
    assert_eq!(res.body["results"][0]["name"], "Alpha");
    let res = app
        .get("/api/invoices/products/?search=gam", Some(&admin.access))
        .await;
    assert_eq!(res.body["count"], 1);
    let res = app
        .get(
            &format!("/api/invoices/products/{gid}/"),
            Some(&other.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // A product of the org on a line item; another org's product is refused.
    let (account, contact) = party(&app, admin.org_id, "Prod").await;
    let inv = json!({"invoice_title": "P", "account_id": account, "contact_id": contact,
                     "line_items": [{"product": gid, "quantity": 1, "unit_price": "19.99"}]});
    let res = app.post("/api/invoices/", Some(&admin.access), &inv).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        res.body["invoice"]["line_items"][0]["product_name"],
        "Gamma"
    );
    let res = app.post("/api/invoices/", Some(&other.access), &inv).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .delete(
            &format!("/api/invoices/products/{gid}/"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/invoices/products/{gid}/"),
            Some(&admin.access),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn portal_works_without_login_by_rotatable_token_findings_11_12() {
    let app = TestApp::new().await;
    let admin = app.admin("portal@example.com").await;
    let other = app.admin("portal-b@example.com").await;
    let (account, contact) = party(&app, admin.org_id, "Portal").await;
    let inv = crate::invoices::create(
        &app,
        &admin,
        &json!({"invoice_title": "Site", "account_id": account, "contact_id": contact, "status": "Sent",
                "tax_rate": "10", "line_items": [{"name": "Work", "quantity": 1, "unit_price": "10.25"}]}),
    )
    .await;
    let token = inv["public_token"].as_str().unwrap().to_string();
    // No Authorization header at all (upstream: 500 from the org middleware).
    let res = app
        .get(&format!("/api/public/invoice/{token}/"), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["invoice_number"], inv["invoice_number"]);
    assert_eq!(b["status"], "Viewed");
    // Rounded stored values on the first view (upstream: "11.27500000").
    assert_eq!(b["tax_amount"], "1.03");
    assert_eq!(b["total_amount"], "11.28");
    assert_eq!(b["line_items"][0]["name"], "Work");
    assert_eq!(b["template"]["primary_color"], "#3B82F6");
    assert!(!res.text.contains("api_key"));
    assert!(!res.text.contains("portal@example.com"));
    // The creator is kept (upstream nulled created_by on every portal save).
    let d = app
        .get(
            &format!("/api/invoices/{}/", inv["id"].as_str().unwrap()),
            Some(&admin.access),
        )
        .await;
    assert_eq!(
        d.body["invoice"]["created_by"]["email"],
        "portal@example.com"
    );
    assert!(d.body["invoice"]["viewed_at"].is_string());
    // Another org's token holder learns nothing more: the same link works for anyone, an
    // unknown token is a 404.
    let res = app
        .get(
            "/api/public/invoice/not-a-real-token-0000000000/",
            Some(&other.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["message"], "Invoice not found or link expired");
    // Rotation: the old link stops working, the new one works; disabling and expiry.
    let path = format!("/api/invoices/{}/public-link/", inv["id"].as_str().unwrap());
    let res = app.post(&path, Some(&admin.access), &json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let new_token = res.body["public_token"].as_str().unwrap().to_string();
    assert_ne!(new_token, token);
    assert_eq!(
        app.get(&format!("/api/public/invoice/{token}/"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/public/invoice/{new_token}/"), None)
            .await
            .status,
        StatusCode::OK
    );
    let res = app
        .post(
            &path,
            Some(&admin.access),
            &json!({"rotate": false, "enabled": false}),
        )
        .await;
    assert_eq!(res.body["public_link_enabled"], false);
    assert_eq!(
        app.get(&format!("/api/public/invoice/{new_token}/"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .post(
            &path,
            Some(&admin.access),
            &json!({"rotate": false, "enabled": true, "expires_in_days": 30}),
        )
        .await;
    assert!(
        res.body["public_link_expires_at"].is_string(),
        "{}",
        res.text
    );
    assert_eq!(
        app.get(&format!("/api/public/invoice/{new_token}/"), None)
            .await
            .status,
        StatusCode::OK
    );
    sqlx::query("UPDATE invoice SET public_link_expires_at = now() - interval '1 minute'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/api/public/invoice/{new_token}/"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Other org's member cannot rotate it.
    let res = app.post(&path, Some(&other.access), &json!({})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Estimates: Draft cannot be accepted; Sent → Viewed on view; accept once.
    let res = app
        .post(
            "/api/invoices/estimates/",
            Some(&admin.access),
            &frontend_body("Q"),
        )
        .await;
    let est = res.body["estimate"].clone();
    let et = est["public_token"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/public/estimate/{et}/accept/"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["message"],
        "Estimate cannot be accepted in current state"
    );
    app.post(
        &format!(
            "/api/invoices/estimates/{}/send/",
            est["id"].as_str().unwrap()
        ),
        Some(&admin.access),
        &json!({}),
    )
    .await;
    let res = app.get(&format!("/api/public/estimate/{et}/"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["status"], "Viewed");
    let res = app
        .post(
            &format!("/api/public/estimate/{et}/accept/"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Estimate accepted successfully");
    let res = app
        .post(
            &format!("/api/public/estimate/{et}/decline/"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}
