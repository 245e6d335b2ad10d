//! Users and memberships: `/api/users/`, `/api/user/<user id>/`, `/status/`,
//! `/get-teams-and-users/`.

use axum::http::StatusCode;
use crm::testkit::{TestApp, TestUser};
use serde_json::{Value, json};
use uuid::Uuid;

const PROFILE_KEYS: &[&str] = &[
    "id",
    "user_details",
    "role",
    "is_organization_admin",
    "address",
    "has_marketing_access",
    "has_sales_access",
    "phone",
    "date_of_joining",
    "is_active",
    "created_at",
];

fn assert_profile(p: &Value) {
    for k in PROFILE_KEYS {
        assert!(p.get(*k).is_some(), "missing {k} in {p}");
    }
    for k in ["email", "id", "is_active", "profile_pic", "last_login"] {
        assert!(
            p["user_details"].get(k).is_some(),
            "missing user_details.{k}"
        );
    }
}

async fn profile_row(app: &TestApp, user: Uuid, org: Uuid) -> Option<(String, bool, bool)> {
    sqlx::query_as("SELECT role, is_organization_admin, is_active FROM profile WHERE user_id = $1 AND org_id = $2")
        .bind(user)
        .bind(org)
        .fetch_optional(&app.db.admin)
        .await
        .unwrap()
}

async fn setup() -> (TestApp, TestUser, TestUser) {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    (app, admin, user)
}

#[tokio::test]
async fn users_list_shape_filters_pagination_and_admin_gate() {
    let (app, admin, user) = setup().await;
    let third = app.member(admin.org_id, "third@example.com", "USER").await;
    app.post(
        &format!("/api/user/{}/status/", third.user_id),
        Some(&admin.access),
        &json!({"status": "Inactive"}),
    )
    .await;

    let res = app.get("/api/users/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["active_users"]["active_users_count"], 2);
    assert_eq!(b["active_users"]["offset"], Value::Null);
    assert_eq!(b["inactive_users"]["inactive_users_count"], 1);
    assert_eq!(b["admin_email"], "admin@example.com");
    assert_eq!(b["roles"], json!([["ADMIN", "ADMIN"], ["USER", "USER"]]));
    assert_eq!(
        b["status"],
        json!([["True", "Active"], ["False", "In Active"]])
    );
    for p in b["active_users"]["active_users"].as_array().unwrap() {
        assert_profile(p);
    }
    // The frontend's admin gate: an active entry for the caller with role ADMIN.
    let me = b["active_users"]["active_users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_details"]["id"] == admin.user_id.to_string())
        .unwrap();
    assert_eq!(me["role"], "ADMIN");
    assert_eq!(me["is_organization_admin"], true);

    // Filters and pagination.
    let res = app.get("/api/users/?role=USER", Some(&admin.access)).await;
    assert_eq!(res.body["active_users"]["active_users_count"], 1);
    let res = app
        .get("/api/users/?email=THIRD", Some(&admin.access))
        .await;
    assert_eq!(res.body["active_users"]["active_users_count"], 0);
    assert_eq!(res.body["inactive_users"]["inactive_users_count"], 1);
    let res = app
        .get("/api/users/?status=False", Some(&admin.access))
        .await;
    assert_eq!(res.body["active_users"]["active_users_count"], 0);
    let res = app
        .get("/api/users/?status=maybe", Some(&admin.access))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app.get("/api/users/?limit=1", Some(&admin.access)).await;
    assert_eq!(
        res.body["active_users"]["active_users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(res.body["active_users"]["offset"], 1);
    let res = app
        .get("/api/users/?limit=1&offset=1", Some(&admin.access))
        .await;
    assert_eq!(res.body["active_users"]["offset"], Value::Null);
    assert_eq!(res.body["inactive_users"]["offset"], 0);

    let res = app.get("/api/users/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "Permission Denied"})
    );
}

#[tokio::test]
async fn create_user_new_existing_elsewhere_duplicate_and_invalid() {
    let (app, admin, user) = setup().await;
    // New account with a password: can log in.
    let res = app
        .post("/api/users/", Some(&admin.access),
              &json!({"email": "new@example.com", "role": "USER", "username": "new", "password": "s3cret-pass"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["message"], "User Created Successfully");
    let login = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "new@example.com", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["current_org"]["id"], admin.org_id.to_string());

    // Someone who already has an account elsewhere is invited, not added (see auth_security).
    let other = app.admin("other-admin@example.com").await;
    let res = app
        .post("/api/users/", Some(&admin.access),
              &json!({"email": "other-admin@example.com", "role": "ADMIN", "address_line": "1 Main St", "city": "Pune"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["invited"], true);
    assert_eq!(profile_row(&app, other.user_id, admin.org_id).await, None);

    // Already a member.
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "user@example.com", "role": "USER"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let msg = res.body["errors"]["user_errors"]["email"][0]
        .as_str()
        .unwrap();
    assert!(msg.contains("already exists"), "{msg}");

    // Validation: nothing written.
    let before: (i64,) = sqlx::query_as("SELECT count(*) FROM profile")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post(
            "/api/users/",
            Some(&admin.access),
            &json!({"email": "bad", "role": "BOSS", "country": "XX"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], true);
    assert_eq!(
        res.body["errors"]["user_errors"]["email"][0],
        "Enter a valid email address."
    );
    assert_eq!(
        res.body["errors"]["profile_errors"]["role"][0],
        "\"BOSS\" is not a valid choice."
    );
    assert!(res.body["errors"]["address_errors"][0]["country"].is_array());
    let res = app
        .post("/api/users/", Some(&admin.access), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["errors"]["user_errors"]["email"][0],
        "This field is required."
    );
    assert_eq!(
        res.body["errors"]["profile_errors"]["role"][0],
        "This field is required."
    );
    let after: (i64,) = sqlx::query_as("SELECT count(*) FROM profile")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(before, after);

    // USERs cannot add members.
    let res = app
        .post(
            "/api/users/",
            Some(&user.access),
            &json!({"email": "x@example.com", "role": "USER"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(user_count(&app, "x@example.com").await, 0);
}

async fn user_count(app: &TestApp, email: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn a_user_cannot_change_their_own_role_or_admin_flag() {
    let (app, admin, user) = setup().await;
    let path = format!("/api/user/{}/", user.user_id);
    for body in [
        json!({"role": "ADMIN"}),
        json!({"is_organization_admin": true}),
        json!({"has_sales_access": true, "phone": "+1 202 555 0100"}),
    ] {
        let res = app.patch(&path, Some(&user.access), &body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
    }
    assert_eq!(
        profile_row(&app, user.user_id, admin.org_id).await,
        Some(("USER".into(), false, true))
    );
    // Own phone is fine; the same role is not a change.
    let res = app
        .patch(
            &path,
            Some(&user.access),
            &json!({"phone": "+1 202 555 0100", "role": "USER"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"error": false, "message": "User Updated Successfully"})
    );
    // Someone else's record: 403.
    let res = app
        .patch(
            &format!("/api/user/{}/", admin.user_id),
            Some(&user.access),
            &json!({"phone": "1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // The admin can promote, and it is audited.
    let res = app
        .patch(&path, Some(&admin.access), &json!({"role": "ADMIN"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        profile_row(&app, user.user_id, admin.org_id)
            .await
            .unwrap()
            .0,
        "ADMIN"
    );
    let log = app
        .get(
            "/api/audit-log/?event_type=ROLE_CHANGED",
            Some(&admin.access),
        )
        .await;
    assert_eq!(log.body["count"], 1);
    assert_eq!(log.body["results"][0]["metadata"]["to_role"], "ADMIN");
}

#[tokio::test]
async fn admin_cannot_change_login_email_of_a_user_in_other_orgs() {
    let (app, admin, user) = setup().await;
    let other = app.admin("elsewhere@example.com").await;
    app.add_membership(other.user_id, admin.org_id, "USER")
        .await;
    let res = app
        .patch(
            &format!("/api/user/{}/", other.user_id),
            Some(&admin.access),
            &json!({"email": "hijack@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], true);
    assert!(
        res.body["contact_errors"]["email"][0]
            .as_str()
            .unwrap()
            .contains("other organizations")
    );
    assert_eq!(user_count(&app, "elsewhere@example.com").await, 1);

    // A member of this org only: allowed. A taken address: refused.
    let res = app
        .patch(
            &format!("/api/user/{}/", user.user_id),
            Some(&admin.access),
            &json!({"email": "elsewhere@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .patch(
            &format!("/api/user/{}/", user.user_id),
            Some(&admin.access),
            &json!({"email": "renamed@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(user_count(&app, "renamed@example.com").await, 1);

    // PUT requires email and role; its profile errors are list-wrapped.
    let res = app
        .put(
            &format!("/api/user/{}/", user.user_id),
            Some(&admin.access),
            &json!({"phone": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["contact_errors"]["email"][0],
        "This field is required."
    );
    assert_eq!(
        res.body["profile_errors"][0]["role"][0],
        "This field is required."
    );
    let res = app
        .put(&format!("/api/user/{}/", user.user_id), Some(&admin.access),
             &json!({"email": "renamed@example.com", "role": "USER", "phone": "+44 20 7946 0000", "city": "London"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn deactivating_or_removing_a_member_revokes_their_tokens_at_once() {
    let (app, admin, user) = setup().await;
    let other = app.member(admin.org_id, "other@example.com", "USER").await;
    assert_eq!(
        app.get("/api/profile/", Some(&user.access)).await.status,
        StatusCode::OK
    );

    let res = app
        .post(
            &format!("/api/user/{}/status/", user.user_id),
            Some(&admin.access),
            &json!({"status": "Inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["inactive_profiles"].as_array().unwrap().len(), 1);
    assert_profile(&res.body["active_profiles"][0]);
    assert_eq!(
        app.get("/api/profile/", Some(&user.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_ne!(r.status, StatusCode::OK);
    // Reactivate.
    let res = app
        .post(
            &format!("/api/user/{}/status/", user.user_id),
            Some(&admin.access),
            &json!({"status": "Active"}),
        )
        .await;
    assert_eq!(res.body["inactive_profiles"].as_array().unwrap().len(), 0);
    let res = app
        .post(
            &format!("/api/user/{}/status/", user.user_id),
            Some(&admin.access),
            &json!({"status": "Gone"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": true, "errors": "Please enter Valid Status for user"})
    );
    let res = app
        .post(
            &format!("/api/user/{}/status/", admin.user_id),
            Some(&other.access),
            &json!({"status": "Inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Removal: JSON answer, tokens dead, team links gone.
    let team = app
        .post(
            "/api/teams/",
            Some(&admin.access),
            &json!({"name": "T", "users": [other.profile_id]}),
        )
        .await;
    assert_eq!(team.status, StatusCode::OK, "{}", team.text);
    let res = app
        .delete(
            &format!("/api/user/{}/", other.user_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, json!({"status": "success"}));
    assert_eq!(
        app.get("/api/profile/", Some(&other.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (links,): (i64,) = sqlx::query_as("SELECT count(*) FROM teams_users WHERE profile_id = $1")
        .bind(other.profile_id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(links, 0);
    let (_, _, still_active) = profile_row(&app, other.user_id, admin.org_id)
        .await
        .unwrap();
    assert!(!still_active, "the membership is deactivated");
    // Status and removal are audited.
    let log = app.get("/api/audit-log/", Some(&admin.access)).await;
    let events: Vec<&str> = log.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"STATUS_CHANGED") && events.contains(&"MEMBERSHIP_REVOKED"),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_deactivated_or_removed() {
    let (app, admin, user) = setup().await;
    let me = format!("/api/user/{}/", admin.user_id);
    let res = app
        .patch(
            &me,
            Some(&admin.access),
            &json!({"role": "USER", "is_organization_admin": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["errors"]
            .as_str()
            .unwrap()
            .contains("at least one admin")
    );
    let res = app
        .post(
            &format!("{me}status/"),
            Some(&admin.access),
            &json!({"status": "Inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Removing oneself is refused outright.
    assert_eq!(
        app.delete(&me, Some(&admin.access)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        profile_row(&app, admin.user_id, admin.org_id).await,
        Some(("ADMIN".into(), true, true))
    );

    // Dropping only the role keeps the admin flag: still an admin, allowed.
    let res = app
        .patch(&me, Some(&admin.access), &json!({"role": "USER"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .patch(&me, Some(&admin.access), &json!({"role": "ADMIN"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);

    // With a second admin, the first may step down.
    app.patch(
        &format!("/api/user/{}/", user.user_id),
        Some(&admin.access),
        &json!({"role": "ADMIN"}),
    )
    .await;
    let res = app
        .patch(
            &me,
            Some(&admin.access),
            &json!({"role": "USER", "is_organization_admin": false}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // ... and now the other one is the last.
    let fresh = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": user.email, "password": user.password}),
        )
        .await;
    let token = fresh.body["access_token"].as_str().unwrap();
    let res = app
        .delete(&format!("/api/user/{}/", admin.user_id), Some(token))
        .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "a non-admin member can be removed"
    );
    let res = app
        .post(
            &format!("/api/user/{}/status/", user.user_id),
            Some(token),
            &json!({"status": "Inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn another_orgs_user_ids_are_404_and_nothing_changes() {
    let (app, admin, user) = setup().await;
    let outsider = app.admin("outsider@example.com").await;
    let path = format!("/api/user/{}/", user.user_id);
    assert_eq!(
        app.get(&path, Some(&outsider.access)).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .patch(
            &path,
            Some(&outsider.access),
            &json!({"role": "ADMIN", "email": "x@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body, json!({"detail": "Not found."}));
    assert_eq!(
        app.delete(&path, Some(&outsider.access)).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .post(
            &format!("{path}status/"),
            Some(&outsider.access),
            &json!({"status": "Inactive"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        profile_row(&app, user.user_id, admin.org_id).await,
        Some(("USER".into(), false, true))
    );
    assert_eq!(user_count(&app, "user@example.com").await, 1);
    assert_eq!(
        app.get("/api/user/not-a-uuid/", Some(&admin.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn user_detail_and_teams_and_users() {
    let (app, admin, user) = setup().await;
    let res = app
        .get(&format!("/api/user/{}/", user.user_id), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["error"], false);
    for k in [
        "profile_obj",
        "opportunity_list",
        "contacts",
        "cases",
        "assigned_data",
        "comments",
        "countries",
    ] {
        assert!(res.body["data"].get(k).is_some(), "missing {k}");
    }
    assert_profile(&res.body["data"]["profile_obj"]);
    assert_eq!(
        res.body["data"]["assigned_data"][0]["user__email"],
        "admin@example.com"
    );
    let res = app
        .get(&format!("/api/user/{}/", admin.user_id), Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    app.post(
        "/api/teams/",
        Some(&admin.access),
        &json!({"name": "Sales", "users": [user.profile_id]}),
    )
    .await;
    let res = app
        .get("/api/users/get-teams-and-users/", Some(&user.access))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["teams"][0]["name"], "Sales");
    assert_eq!(
        res.body["teams"][0]["users"][0]["id"],
        user.profile_id.to_string()
    );
    let emails: Vec<&str> = res.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_details"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@example.com", "user@example.com"]);
}

#[tokio::test]
async fn concurrent_demotions_leave_one_admin() {
    let (app, admin, user) = setup().await;
    app.patch(
        &format!("/api/user/{}/", user.user_id),
        Some(&admin.access),
        &json!({"role": "ADMIN"}),
    )
    .await;
    let demote = json!({"role": "USER", "is_organization_admin": false});
    let (pa, pb) = (
        format!("/api/user/{}/", user.user_id),
        format!("/api/user/{}/", admin.user_id),
    );
    let (a, b) = tokio::join!(
        app.patch(&pa, Some(&admin.access), &demote),
        app.patch(&pb, Some(&user.access), &demote),
    );
    // One wins; the other finds either no other admin left (400) or itself demoted (403).
    let (won, lost) = if a.status == StatusCode::OK {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert_eq!(won.status, StatusCode::OK, "{} / {}", a.text, b.text);
    assert!(
        [StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN].contains(&lost.status),
        "{}",
        lost.text
    );
    let (admins,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM profile WHERE org_id = $1 AND is_active AND (role = 'ADMIN' OR is_organization_admin)",
    )
    .bind(admin.org_id)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(admins, 1);
}
