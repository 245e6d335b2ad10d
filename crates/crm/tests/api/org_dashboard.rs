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
