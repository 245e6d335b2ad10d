//! `GET /api/dashboard/`: keys the frontend reads, aggregates, capped lists, member scoping.

use axum::http::StatusCode;
use crm::testkit::TestApp;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

async fn exec(db: &PgPool, sql: &str, org: Uuid, creator: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .bind(org)
        .bind(creator)
        .execute(db)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn dashboard_keys_aggregates_caps_and_scoping() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    let db = &app.db.admin;
    let (org, a) = (admin.org_id, admin.user_id);

    // 12 open leads (3 hot), 2 converted; one lead assigned to the member.
    for i in 0..12 {
        let rating = if i < 3 { "'HOT'" } else { "NULL" };
        exec(db, &format!(
            "INSERT INTO lead (created_at, updated_at, id, first_name, last_name, status, rating, company_name, is_active, org_id, created_by_id)
             VALUES (now() - interval '{i} minutes', now(), $1, 'F{i}', 'L', 'assigned', {rating}, 'Co', true, $2, $3)"), org, a).await;
    }
    for _ in 0..2 {
        exec(db, "INSERT INTO lead (created_at, updated_at, id, status, is_active, org_id, created_by_id)
                  VALUES (now(), now(), $1, 'converted', true, $2, $3)", org, a).await;
    }
    let mine = exec(db, "INSERT INTO lead (created_at, updated_at, id, first_name, status, next_follow_up, is_active, org_id, created_by_id)
                         VALUES (now(), now(), $1, 'Mine', 'in process', CURRENT_DATE, true, $2, $3)", org, a).await;
    sqlx::query("INSERT INTO lead_assigned_to (lead_id, profile_id) VALUES ($1, $2)")
        .bind(mine)
        .bind(user.profile_id)
        .execute(db)
        .await
        .unwrap();
    // Opportunities: two open in the org currency, one won this month, one in another currency.
    let acc = exec(
        db,
        "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id, created_by_id)
                        VALUES (now(), now(), $1, 'Acme', true, $2, $3)",
        org,
        a,
    )
    .await;
    for (stage, amount, prob, cur) in [
        ("PROSPECTING", 1000, 10, "'USD'"),
        ("NEGOTIATION", 500, 50, "NULL"),
        ("CLOSED_WON", 300, 100, "'USD'"),
        ("PROPOSAL", 9999, 50, "'EUR'"),
    ] {
        let o = exec(db, &format!(
            "INSERT INTO opportunity (created_at, updated_at, id, name, stage, currency, amount, probability, is_active, org_id,
                                      created_by_id, amount_source, account_id)
             VALUES (now(), now(), $1, 'Deal', '{stage}', {cur}, {amount}, {prob}, true, $2, $3, 'MANUAL', NULL)"), org, a).await;
        sqlx::query("UPDATE opportunity SET account_id = $2 WHERE id = $1")
            .bind(o)
            .bind(acc)
            .execute(db)
            .await
            .unwrap();
    }
    // Tasks: one overdue, one due today (assigned to the member), one done.
    exec(db, "INSERT INTO task (created_at, updated_at, id, title, status, priority, due_date, org_id, created_by_id)
              VALUES (now(), now(), $1, 'Late', 'New', 'High', CURRENT_DATE - 2, $2, $3)", org, a).await;
    let today = exec(db, "INSERT INTO task (created_at, updated_at, id, title, status, priority, due_date, org_id, created_by_id)
                          VALUES (now(), now(), $1, 'Today', 'In Progress', 'Low', CURRENT_DATE, $2, $3)", org, a).await;
    sqlx::query("INSERT INTO task_assigned_to (task_id, profile_id) VALUES ($1, $2)")
        .bind(today)
        .bind(user.profile_id)
        .execute(db)
        .await
        .unwrap();
    exec(db, "INSERT INTO task (created_at, updated_at, id, title, status, priority, due_date, org_id, created_by_id)
              VALUES (now(), now(), $1, 'Done', 'Completed', 'Low', CURRENT_DATE, $2, $3)", org, a).await;
    exec(db, "INSERT INTO contacts (created_at, updated_at, id, first_name, last_name, do_not_call, is_active, org_id, created_by_id)
              VALUES (now(), now(), $1, 'C', 'D', false, true, $2, $3)", org, a).await;
    // Another org's data never shows.
    let other = app.admin("other@example.com").await;
    exec(
        db,
        "INSERT INTO lead (created_at, updated_at, id, status, is_active, org_id, created_by_id)
              VALUES (now(), now(), $1, 'assigned', true, $2, $3)",
        other.org_id,
        other.user_id,
    )
    .await;

    let res = app.get("/api/dashboard/", Some(&admin.access)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    for k in [
        "accounts_count",
        "contacts_count",
        "leads_count",
        "opportunities_count",
        "accounts",
        "contacts",
        "leads",
        "opportunities",
        "urgent_counts",
        "pipeline_by_stage",
        "revenue_metrics",
        "hot_leads",
        "tasks",
        "activities",
    ] {
        assert!(b.get(k).is_some(), "missing {k}");
    }
    assert_eq!(b["leads_count"], 13);
    assert_eq!(b["accounts_count"], 1);
    assert_eq!(b["contacts_count"], 1);
    assert_eq!(b["opportunities_count"], 4);
    assert_eq!(b["leads"].as_array().unwrap().len(), 10, "lists are capped");
    let lead = &b["leads"][0];
    for k in [
        "id",
        "first_name",
        "last_name",
        "company",
        "status",
        "created_on",
    ] {
        assert!(lead.get(k).is_some(), "lead.{k}");
    }
    assert_eq!(b["leads"][1]["company"]["name"], "Co");
    let opp = &b["opportunities"][0];
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
        assert!(opp.get(k).is_some(), "opportunity.{k}");
    }
    assert_eq!(opp["account"]["name"], "Acme");
    assert_eq!(b["urgent_counts"]["overdue_tasks"], 1);
    assert_eq!(b["urgent_counts"]["tasks_due_today"], 1);
    assert_eq!(b["urgent_counts"]["followups_today"], 1);
    assert_eq!(b["urgent_counts"]["hot_leads"], 3);
    assert_eq!(b["pipeline_by_stage"]["PROSPECTING"]["count"], 1);
    assert_eq!(b["pipeline_by_stage"]["PROSPECTING"]["value"], 1000.0);
    assert_eq!(
        b["pipeline_by_stage"]["PROSPECTING"]["label"],
        "Prospecting"
    );
    assert_eq!(b["pipeline_by_stage"]["PROPOSAL"]["count"], 1);
    assert_eq!(
        b["pipeline_by_stage"]["PROPOSAL"]["value"], 0.0,
        "other currency not summed"
    );
    assert_eq!(b["pipeline_by_stage"]["CLOSED_LOST"]["count"], 0);
    let rm = &b["revenue_metrics"];
    assert_eq!(rm["pipeline_value"], 1500.0);
    assert_eq!(rm["weighted_pipeline"], 350.0);
    assert_eq!(rm["won_this_month"], 300.0);
    assert_eq!(rm["conversion_rate"], 13.3);
    assert_eq!(rm["currency"], "USD");
    assert_eq!(rm["other_currency_count"], 1);
    assert_eq!(b["hot_leads"].as_array().unwrap().len(), 3);
    for k in [
        "id",
        "first_name",
        "last_name",
        "company",
        "rating",
        "next_follow_up",
        "last_contacted",
    ] {
        assert!(b["hot_leads"][0].get(k).is_some(), "hot_leads.{k}");
    }
    let tasks = b["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["title"], "Late", "ordered by due date");
    for k in [
        "id",
        "title",
        "status",
        "priority",
        "due_date",
        "assigned_to",
    ] {
        assert!(tasks[0].get(k).is_some(), "task.{k}");
    }
    assert_eq!(tasks[1]["assigned_to"][0], user.user_id.to_string());

    // A member sees what is assigned to them or theirs.
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    let b = &res.body;
    assert_eq!(b["leads_count"], 1);
    assert_eq!(b["leads"][0]["first_name"], "Mine");
    assert_eq!(b["opportunities_count"], 0);
    assert_eq!(b["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(b["urgent_counts"]["tasks_due_today"], 1);
    assert_eq!(b["urgent_counts"]["overdue_tasks"], 0);
    assert_eq!(b["revenue_metrics"]["pipeline_value"], 0.0);
    assert_eq!(b["activities"], Value::Array(vec![]));
}

/// Inserts an activity row `minutes` ago.
async fn activity(
    db: &PgPool,
    org: Uuid,
    by: Uuid,
    entity_type: &str,
    entity: Uuid,
    name: &str,
    minutes: i64,
) {
    sqlx::query(
        "INSERT INTO activity (created_at, updated_at, id, action, entity_type, entity_id, entity_name,
                               description, org_id, user_id)
         VALUES (now() - make_interval(mins => $1::int), now(), $2, 'UPDATE', $3, $4, $5, '', $6, $7)",
    )
    .bind(minutes as i32)
    .bind(Uuid::new_v4())
    .bind(entity_type)
    .bind(entity)
    .bind(name)
    .bind(org)
    .bind(by)
    .execute(db)
    .await
    .unwrap();
}

fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["entity_name"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// Issue 9 item 11: a member's activity feed and dashboard show activities on records they may
/// open (each record's own rule), plus their own actions; nothing else, whatever the org's
/// history in front of them.
#[tokio::test]
async fn activities_show_a_member_only_records_they_may_open() {
    let app = TestApp::new().await;
    let admin = app.admin("admin@example.com").await;
    let user = app.member(admin.org_id, "user@example.com", "USER").await;
    let db = &app.db.admin;
    let (org, a, ap) = (admin.org_id, admin.user_id, admin.profile_id);
    let lead = |title: &str| {
        format!(
            "INSERT INTO lead (created_at, updated_at, id, title, status, is_active, org_id, created_by_id)
             VALUES (now(), now(), $1, '{title}', 'assigned', true, $2, $3)"
        )
    };
    let secret = exec(db, &lead("Secret lead"), org, a).await;
    let assigned = exec(db, &lead("Assigned lead"), org, a).await;
    let by_team = exec(db, &lead("Team lead"), org, a).await;
    let own = exec(db, &lead("Own lead"), org, user.user_id).await;
    let team = exec(
        db,
        "INSERT INTO teams (created_at, updated_at, id, name, description, org_id, created_by_id)
         VALUES (now(), now(), $1, 'Crew', '', $2, $3)",
        org,
        a,
    )
    .await;
    let other_team = exec(
        db,
        "INSERT INTO teams (created_at, updated_at, id, name, description, org_id, created_by_id)
         VALUES (now(), now(), $1, 'Others', '', $2, $3)",
        org,
        a,
    )
    .await;
    let account = |name: &str| {
        format!(
            "INSERT INTO accounts (created_at, updated_at, id, name, is_active, org_id, created_by_id)
             VALUES (now(), now(), $1, '{name}', true, $2, $3)"
        )
    };
    let secret_acc = exec(db, &account("Secret account"), org, a).await;
    let team_acc = exec(db, &account("Team account"), org, a).await;
    let doc = |title: &str| {
        format!(
            "INSERT INTO document (created_at, updated_at, id, title, document_file, status, org_id, created_by_id)
             VALUES (now(), now(), $1, '{title}', 'docs/x/a.pdf', 'active', $2, $3)"
        )
    };
    let secret_doc = exec(db, &doc("Secret doc"), org, a).await;
    let shared_doc = exec(db, &doc("Shared doc"), org, a).await;
    for sql in [
        format!(
            "INSERT INTO lead_assigned_to (lead_id, profile_id) VALUES ('{assigned}', '{}')",
            user.profile_id
        ),
        format!(
            "INSERT INTO teams_users (teams_id, profile_id) VALUES ('{team}', '{}')",
            user.profile_id
        ),
        format!("INSERT INTO lead_teams (lead_id, teams_id) VALUES ('{by_team}', '{team}')"),
        format!(
            "INSERT INTO accounts_teams (account_id, teams_id) VALUES ('{team_acc}', '{team}')"
        ),
        format!(
            "INSERT INTO document_shared_to (document_id, profile_id) VALUES ('{shared_doc}', '{}')",
            user.profile_id
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(db)
            .await
            .unwrap();
    }
    let gone = Uuid::new_v4();
    let items = [
        ("Lead", secret, "Secret lead", ap),
        ("Lead", assigned, "Assigned lead", ap),
        ("Lead", by_team, "Team lead", ap),
        ("Lead", own, "Own lead", ap),
        ("Lead", gone, "Deleted by me", user.profile_id),
        ("Lead", gone, "Deleted by admin", ap),
        ("Team", team, "Crew", ap),
        ("Team", other_team, "Others", ap),
        ("Account", secret_acc, "Secret account", ap),
        ("Account", team_acc, "Team account", ap),
        ("Document", secret_doc, "Secret doc", ap),
        ("Document", shared_doc, "Shared doc", ap),
        ("Event", Uuid::new_v4(), "Secret event", ap),
    ];
    for (i, (ty, id, name, by)) in items.iter().enumerate() {
        activity(db, org, *by, ty, *id, name, 1000 + i as i64).await;
    }
    let visible = [
        "Assigned lead",
        "Crew",
        "Deleted by me",
        "Own lead",
        "Shared doc",
        "Team account",
        "Team lead",
    ];

    let feed = |token: String, q: &'static str| {
        let app = &app;
        async move {
            let res = app
                .get(&format!("/api/activities/?limit=50{q}"), Some(&token))
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
            names(&res.body["activities"])
        }
    };
    assert_eq!(feed(user.access.clone(), "").await, visible);
    assert_eq!(feed(admin.access.clone(), "").await.len(), items.len());
    assert_eq!(
        feed(user.access.clone(), "&entity_type=Lead").await,
        ["Assigned lead", "Deleted by me", "Own lead", "Team lead"]
    );
    assert_eq!(
        feed(user.access.clone(), "&entity_type=Event").await,
        Vec::<String>::new()
    );
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(names(&res.body["activities"]), visible);
    // The dashboard's lead list follows the leads' rule too (teams included).
    let mut leads: Vec<&str> = res.body["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    leads.sort();
    assert_eq!(leads, ["Assigned lead", "Own lead", "Team lead"]);
    assert_eq!(res.body["leads_count"], 3);

    // Newer history the member may not see, more than the rows tested one by one: their
    // entries are still found, and only theirs.
    sqlx::query(
        "INSERT INTO activity (created_at, updated_at, id, action, entity_type, entity_id, entity_name,
                               description, org_id, user_id)
         SELECT now() - make_interval(secs => g), now(), gen_random_uuid(), 'UPDATE', 'Lead', $1,
                'Secret lead', '', $2, $3
         FROM generate_series(1, 300) g",
    )
    .bind(secret)
    .bind(org)
    .bind(ap)
    .execute(db)
    .await
    .unwrap();
    assert_eq!(feed(user.access.clone(), "").await, visible);
    let res = app.get("/api/dashboard/", Some(&user.access)).await;
    assert_eq!(names(&res.body["activities"]), visible);
    let res = app.get("/api/dashboard/", Some(&admin.access)).await;
    assert_eq!(
        names(&res.body["activities"]),
        vec!["Secret lead".to_string(); 10]
    );
    // Newest first, for both paths.
    let res = app
        .get("/api/activities/?limit=3", Some(&user.access))
        .await;
    let got: Vec<&str> = res.body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["entity_name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["Assigned lead", "Team lead", "Own lead"]);
}
