use axum::http::StatusCode;
use crm::testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn list_and_create_orgs() {
    let app = TestApp::new().await;
    let admin = app.admin("o@example.com").await;
    let res = app.get("/api/org/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["error"], false);
    assert_eq!(res.body["status"], 200);
    let first = &res.body["profile_org_list"][0];
    for k in [
        "role",
        "alternate_phone",
        "has_sales_access",
        "has_marketing_access",
        "is_organization_admin",
        "org",
    ] {
        assert!(first.get(k).is_some(), "missing {k}");
    }
    assert!(first["org"]["api_key"].is_string(), "admins see the key");

    // Create with a token that has no org (the frontend's /org/new page).
    let plain = app.state.jwt.issue_pair(admin.user_id, None, 0).access;
    let res = app
        .post("/api/org/", Some(&plain), &json!({"name": "Second Org"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "New Org is Created.");
    assert_eq!(res.body["status"], 201);
    let new_id = res.body["org"]["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["id"], res.body["org"]["id"]);
    // The creator is its ADMIN and can switch into it.
    let res = app
        .post(
            "/api/auth/switch-org/",
            Some(&plain),
            &json!({"org_id": new_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["profile"]["role"], "ADMIN");

    for (body, msg) in [
        (json!({}), "This field is required."),
        (
            json!({"name": "Bad@Name"}),
            "organization name should not contain any special characters",
        ),
        (
            json!({"name": "Second Org"}),
            "Organization already exists with this name",
        ),
        (
            json!({"name": "x".repeat(101)}),
            "Ensure this field has no more than 100 characters.",
        ),
    ] {
        let res = app.post("/api/org/", Some(&plain), &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body, json!({"error": true, "errors": {"name": [msg]}}));
    }
    // Another user may use the same name: names are not a cross-tenant oracle.
    let other = app.admin("x@example.com").await;
    let res = app
        .post(
            "/api/org/",
            Some(&other.access),
            &json!({"name": "Second Org"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn org_detail_and_update_permissions() {
    let app = TestApp::new().await;
    let admin = app.admin("od@example.com").await;
    let user = app.member(admin.org_id, "u@example.com", "USER").await;
    let path = format!("/api/org/{}/", admin.org_id);
    let res = app.get(&path, Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["error"], false);
    assert!(
        res.body["org"].get("api_key").is_none(),
        "USER does not see the key"
    );
    let res = app.get(&path, Some(&admin.access)).await;
    assert!(res.body["org"]["api_key"].is_string());
    let res = app
        .patch(&path, Some(&user.access), &json!({"name": "Nope"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "Only organization admins can update organization details"})
    );
    let res = app
        .put(&path, Some(&admin.access), &json!({"name": "Renamed Co"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["message"], "Organization updated successfully");
    assert_eq!(res.body["org"]["name"], "Renamed Co");
    let res = app
        .patch(&path, Some(&admin.access), &json!({"name": "Bad!"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app.delete(&path, Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        res.body,
        json!({"detail": "Method \"DELETE\" not allowed."})
    );
    let res = app.get("/api/org/not-a-uuid/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn org_settings_read_and_update() {
    let app = TestApp::new().await;
    let admin = app.admin("s@example.com").await;
    let user = app.member(admin.org_id, "su@example.com", "USER").await;
    let res = app.get("/api/org/settings/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    for k in [
        "id",
        "name",
        "company_name",
        "logo",
        "logo_url",
        "address_line",
        "city",
        "state",
        "postcode",
        "country",
        "phone",
        "email",
        "website",
        "tax_id",
        "default_currency",
        "default_country",
        "currency_symbol",
    ] {
        assert!(res.body.get(k).is_some(), "missing {k}");
    }
    let res = app
        .patch(
            "/api/org/settings/",
            Some(&user.access),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(
        (res.status, res.body.clone()),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "Only admins can update organization settings"})
        )
    );
    let res = app
        .patch("/api/org/settings/", Some(&admin.access), &json!({"default_currency": "EUR", "default_country": "de", "city": "Berlin", "website": "https://acme.example", "domain": "ignored"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["default_currency"], "EUR");
    assert_eq!(res.body["currency_symbol"], "€");
    assert_eq!(res.body["default_country"], "DE");
    assert_eq!(res.body["city"], "Berlin");
    let res = app
        .patch("/api/org/settings/", Some(&admin.access), &json!({"default_currency": "XXX", "email": "nope", "website": "not a url", "default_country": "ZZ", "city": "Paris"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["default_currency"],
        json!(["\"XXX\" is not a valid choice."])
    );
    assert_eq!(res.body["email"], json!(["Enter a valid email address."]));
    assert_eq!(res.body["website"], json!(["Enter a valid URL."]));
    assert_eq!(
        res.body["default_country"],
        json!(["\"ZZ\" is not a valid choice."])
    );
    let res = app.get("/api/org/settings/", Some(&admin.access)).await;
    assert_eq!(res.body["city"], "Berlin", "nothing written on a 400");
    // New tokens carry the new currency.
    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": admin.refresh}),
        )
        .await;
    let access = res.body["access"].as_str().unwrap();
    let res = app.get("/api/auth/me/", Some(access)).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn profile_get_and_patch_phone() {
    let app = TestApp::new().await;
    let admin = app.admin("pp@example.com").await;
    let user = app.member(admin.org_id, "pu@example.com", "USER").await;
    let res = app.get("/api/profile/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let obj = &res.body["user_obj"];
    for k in [
        "id",
        "user_details",
        "role",
        "address",
        "has_marketing_access",
        "has_sales_access",
        "phone",
        "date_of_joining",
        "is_active",
        "created_at",
    ] {
        assert!(obj.get(k).is_some(), "missing {k}");
    }
    for k in ["email", "id", "is_active", "profile_pic", "last_login"] {
        assert!(
            obj["user_details"].get(k).is_some(),
            "missing user_details.{k}"
        );
    }
    assert_eq!(obj["id"], user.profile_id.to_string());
    let res = app
        .patch(
            "/api/profile/",
            Some(&user.access),
            &json!({"phone": "+12025551234", "name": "ignored"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Profile updated successfully");
    assert_eq!(res.body["user_obj"]["phone"], "+12025551234");
    // Same phone for another member of the org: a 400, not upstream's 500.
    let res = app
        .patch(
            "/api/profile/",
            Some(&admin.access),
            &json!({"phone": "+12025551234"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["phone"].is_array());
    let res = app
        .patch(
            "/api/profile/",
            Some(&admin.access),
            &json!({"phone": "1".repeat(21)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}
