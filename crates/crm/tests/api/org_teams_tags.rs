//! Teams, tags and API settings.

use axum::http::StatusCode;
use crm::testkit::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn teams_crud_without_org_field() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;

    // The frontend's create body: no `org`.
    let res = app
        .post("/api/teams/", Some(&admin.access),
              &json!({"name": "Sales", "description": "Sellers", "assign_users": true, "users": [user.profile_id]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["message"], "Team Created Successfully");
    let id = res.body["id"].as_str().unwrap().to_string();
    app.post(
        "/api/teams/",
        Some(&admin.access),
        &json!({"name": "Support"}),
    )
    .await;

    let res = app.get("/api/teams/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["teams_count"], 2);
    assert_eq!(res.body["per_page"], 10);
    assert_eq!(res.body["page_number"], json!([1]));
    assert_eq!(res.body["offset"], Value::Null);
    let sales = res.body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Sales")
        .unwrap()
        .clone();
    for k in [
        "id",
        "name",
        "description",
        "users",
        "created_at",
        "created_by",
    ] {
        assert!(sales.get(k).is_some(), "missing {k}");
    }
    assert_eq!(
        sales["users"][0]["user_details"]["email"],
        "user@example.com"
    );
    assert_eq!(sales["created_by"]["email"], "admin@example.com");
    let res = app
        .get("/api/teams/?team_name=sal", Some(&admin.access))
        .await;
    assert_eq!(res.body["teams_count"], 1);
    let res = app
        .get(
            &format!("/api/teams/?assigned_users={}", user.profile_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.body["teams_count"], 1);
    let res = app.get("/api/teams/?limit=1", Some(&admin.access)).await;
    assert_eq!(res.body["offset"], 1);

    // Duplicate name (any case), missing name.
    let res = app
        .post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"name": "SALES"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"name": ["Team already exists with this name"]}})
    );
    let res = app
        .post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"description": "x"}),
        )
        .await;
    assert_eq!(res.body["errors"]["name"][0], "This field is required.");

    // PUT takes members from `assign_users`.
    let res = app
        .put(
            &format!("/api/teams/{id}/"),
            Some(&admin.access),
            &json!({"name": "Sales EU", "description": "d", "assign_users": [admin.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .get(&format!("/api/teams/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["team"]["name"], "Sales EU");
    assert_eq!(
        res.body["team"]["users"][0]["id"],
        admin.profile_id.to_string()
    );
    let res = app
        .patch(
            &format!("/api/teams/{id}/"),
            Some(&admin.access),
            &json!({"description": "new"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .get(&format!("/api/teams/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["team"]["description"], "new");
    assert_eq!(
        res.body["team"]["users"].as_array().unwrap().len(),
        1,
        "PATCH keeps members"
    );

    // USERs: 403.
    let res = app.get("/api/teams/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "You don't have permission to perform this action."})
    );

    // DELETE answers JSON and records activity.
    let res = app
        .delete(&format!("/api/teams/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Team Deleted Successfully"})
    );
    assert_eq!(
        app.get(&format!("/api/teams/{id}/"), Some(&admin.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Team activities: admins see them all (members only those of teams they are in).
    let acts = app
        .get("/api/activities/?entity_type=Team", Some(&admin.access))
        .await;
    let actions: Vec<&str> = acts.body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"CREATE") && actions.contains(&"UPDATE") && actions.contains(&"DELETE"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn teams_refuse_other_orgs_members_and_ids() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let outsider = app.admin("outsider@example.com").await;
    let before = count(&app, "SELECT count(*) FROM teams").await;
    let res = app
        .post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"name": "Mixed", "users": [outsider.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"name": "Bad", "users": ["nope"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        count(&app, "SELECT count(*) FROM teams").await,
        before,
        "nothing written"
    );

    let res = app
        .post(
            "/api/teams/",
            Some(&outsider.access),
            &json!({"name": "Theirs"}),
        )
        .await;
    let theirs = res.body["id"].as_str().unwrap().to_string();
    for res in [
        app.get(&format!("/api/teams/{theirs}/"), Some(&admin.access))
            .await,
        app.put(
            &format!("/api/teams/{theirs}/"),
            Some(&admin.access),
            &json!({"name": "Mine"}),
        )
        .await,
        app.delete(&format!("/api/teams/{theirs}/"), Some(&admin.access))
            .await,
        app.get("/api/teams/zzz/", Some(&admin.access)).await,
    ] {
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    let (name,): (String,) = sqlx::query_as("SELECT name FROM teams WHERE id = $1")
        .bind(Uuid::parse_str(&theirs).unwrap())
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(name, "Theirs");
}

#[tokio::test]
async fn tags_soft_delete_restore_and_slug_per_org() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;

    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": " Partner Referral ", "color": "green", "description": "d"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "Tag Created Successfully");
    let tag = res.body["tag"].clone();
    assert_eq!(tag["slug"], "partner-referral");
    assert_eq!(tag["color"], "green");
    for k in [
        "id",
        "name",
        "slug",
        "color",
        "description",
        "is_active",
        "created_at",
    ] {
        assert!(tag.get(k).is_some(), "missing {k}");
    }
    let id = tag["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": "Zeta", "color": "neon"}),
        )
        .await;
    assert_eq!(res.body["tag"]["color"], "blue", "invalid color falls back");

    // Members read; the list is ordered by name.
    let res = app.get("/api/tags/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["tags_count"], 2);
    assert_eq!(res.body["tags"][0]["name"], "Partner Referral");
    assert_eq!(
        app.get("/api/tags/?name=zet", Some(&user.access))
            .await
            .body["tags_count"],
        1
    );

    // Duplicates and validation.
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": "partner  referral"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"name": ["A tag with this name already exists."]}})
    );
    let res = app
        .post("/api/tags/", Some(&admin.access), &json!({"name": ""}))
        .await;
    assert_eq!(
        res.body,
        json!({"error": true, "errors": {"name": ["This field is required."]}})
    );
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": "x".repeat(51)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // USERs cannot write.
    let res = app
        .post("/api/tags/", Some(&user.access), &json!({"name": "Mine"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "Only admins can create tags"})
    );
    assert_eq!(
        app.delete(&format!("/api/tags/{id}/"), Some(&user.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Archive, hidden unless asked, restore.
    let res = app
        .delete(&format!("/api/tags/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(
        res.body,
        json!({"error": false, "message": "Tag archived successfully"})
    );
    assert_eq!(
        app.get("/api/tags/", Some(&user.access)).await.body["tags_count"],
        1
    );
    let res = app
        .get("/api/tags/?include_archived=TRUE", Some(&user.access))
        .await;
    assert_eq!(res.body["tags_count"], 2);
    let res = app
        .post(
            &format!("/api/tags/{id}/restore/"),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["tag"]["is_active"], true);
    // Creating an archived tag's name reactivates it.
    app.delete(&format!("/api/tags/{id}/"), Some(&admin.access))
        .await;
    let res = app
        .post(
            "/api/tags/",
            Some(&admin.access),
            &json!({"name": "Partner Referral", "color": "red"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["message"], "Tag reactivated successfully");
    assert_eq!(res.body["tag"]["id"], id.as_str());
    assert_eq!(res.body["tag"]["color"], "red");

    // Rename; a clash with another tag's slug is refused.
    let res = app
        .put(
            &format!("/api/tags/{id}/"),
            Some(&admin.access),
            &json!({"name": "zeta"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .put(
            &format!("/api/tags/{id}/"),
            Some(&admin.access),
            &json!({"name": "Referral", "color": "teal"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["tag"]["slug"], "referral");
    assert_eq!(res.body["tag"]["description"], "d");

    // Another org: the same name is free; our ids are unknown there.
    let outsider = app.admin("outsider@example.com").await;
    let res = app
        .post(
            "/api/tags/",
            Some(&outsider.access),
            &json!({"name": "Referral"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res = app
        .get(&format!("/api/tags/{id}/"), Some(&outsider.access))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body, json!({"error": true, "errors": "Tag not found."}));
    let res = app
        .put(
            &format!("/api/tags/{id}/"),
            Some(&outsider.access),
            &json!({"name": "Stolen"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&format!("/api/tags/{id}/"), Some(&outsider.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .get(&format!("/api/tags/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["tag"]["name"], "Referral");
    assert_eq!(res.body["tag"]["is_active"], true);
}

#[tokio::test]
async fn api_settings_admin_only_and_never_nest_the_org_key() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    let outsider = app.admin("outsider@example.com").await;

    let res = app
        .post("/api/api-settings/", Some(&admin.access),
              &json!({"title": "Site", "website": "https://example.com", "lead_assigned_to": [user.profile_id],
                      "tags": ["Web", "Inbound"]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "API key added sucessfully");
    let id = res.body["id"].as_str().unwrap().to_string();

    let res = app.get("/api/api-settings/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["error"], false);
    let s = &res.body["api_settings"][0];
    for k in [
        "title",
        "apikey",
        "website",
        "created_at",
        "created_by",
        "lead_assigned_to",
        "tags",
        "org",
    ] {
        assert!(s.get(k).is_some(), "missing {k}");
    }
    assert_eq!(s["apikey"].as_str().unwrap().len(), 64);
    assert!(
        s["org"].get("api_key").is_none(),
        "the org key is never nested"
    );
    assert_eq!(s["lead_assigned_to"][0]["id"], user.profile_id.to_string());
    let tag_names: Vec<&str> = s["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tag_names.len(), 2);
    assert_eq!(res.body["users"].as_array().unwrap().len(), 2);
    let (tags,): (i64,) = sqlx::query_as("SELECT count(*) FROM tags WHERE org_id = $1")
        .bind(admin.org_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(tags, 2, "tags created in the org");

    let res = app
        .get(&format!("/api/api-settings/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["domain"]["title"], "Site");

    // Validation (nothing written), foreign profiles (404, nothing written).
    let before = count(&app, "SELECT count(*) FROM \"apiSettings\"").await;
    for (body, field, msg) in [
        (json!({}), "title", "This field is required."),
        (
            json!({"title": "t", "website": "ftp://example.com"}),
            "website",
            "Please provide valid schema",
        ),
        (
            json!({"title": "t", "website": "http://example.com/path"}),
            "website",
            "Please provide a valid URL with schema and without trailing slash - Example: http://google.com",
        ),
    ] {
        let res = app
            .post("/api/api-settings/", Some(&admin.access), &body)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.body["errors"][field][0], msg);
    }
    let res = app
        .post(
            "/api/api-settings/",
            Some(&admin.access),
            &json!({"title": "t", "lead_assigned_to": [outsider.profile_id]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&app, "SELECT count(*) FROM \"apiSettings\"").await,
        before
    );

    // PUT replaces links; PATCH edits title/website only.
    let res = app
        .put(
            &format!("/api/api-settings/{id}/"),
            Some(&admin.access),
            &json!({"title": "Site 2", "tags": ["Web"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(
            &format!("/api/api-settings/{id}/"),
            Some(&admin.access),
            &json!({"website": null}),
        )
        .await;
    assert_eq!(res.body["message"], "API setting Updated successfully");
    let res = app
        .get(&format!("/api/api-settings/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(res.body["domain"]["title"], "Site 2");
    assert_eq!(res.body["domain"]["website"], Value::Null);
    assert_eq!(res.body["domain"]["tags"].as_array().unwrap().len(), 1);
    assert_eq!(
        res.body["domain"]["lead_assigned_to"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // USER: 403; other org: 404.
    assert_eq!(
        app.get("/api/api-settings/", Some(&user.access))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/api-settings/{id}/"), Some(&outsider.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/api-settings/{id}/"), Some(&outsider.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let res = app
        .delete(&format!("/api/api-settings/{id}/"), Some(&admin.access))
        .await;
    assert_eq!(
        res.body,
        json!({"error": false, "message": "API setting deleted sucessfully"})
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM \"apiSettings\"").await,
        before - 1
    );
}
