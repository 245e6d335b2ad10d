//! `GET /api/dashboard/`: counts, urgent counts, pipeline and revenue from aggregate SQL, plus
//! short lists (10 rows each) instead of upstream's dump of every record. Four queries whatever
//! the org's size. Admins see the whole org; other members see what each record's own list
//! shows them: what they created, are assigned to or reach through a team (counted once,
//! unlike upstream's join duplicates).

use super::choices::STAGES;
use axum::Json;
use serde_json::{Map, Value, json};

use super::activity;
use super::comments::{ACCOUNTS, CONTACTS, OPPORTUNITIES, TASKS};
use crate::db::Tenant;
use crate::error::ApiResult;

const LIST_LIMIT: i64 = 10;
const OPEN_STAGES: &[&str] = &["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION"];

#[utoipa::path(get, path = "/api/dashboard/", tag = "dashboard", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, description = "`accounts_count, contacts_count, leads_count, opportunities_count, accounts[], contacts[], leads[], opportunities[], urgent_counts{}, pipeline_by_stage{}, revenue_metrics{}, hot_leads[], tasks[], activities[]` (lists: 10 rows)")))]
pub async fn dashboard(mut t: Tenant) -> ApiResult<Json<Value>> {
    // Each record's own visibility rule ($2 admin, $3 user id, $4 profile id).
    let acc = ACCOUNTS.visible_cond("a", "$2", "$3", "$4");
    let con = CONTACTS.visible_cond("c", "$2", "$3", "$4");
    let lead = crate::leads::model::visible_sql("$2", "$3", "$4");
    let opp = OPPORTUNITIES.visible_cond("o", "$2", "$3", "$4");
    let task = TASKS.visible_cond("t", "$2", "$3", "$4");
    let open_lead = "COALESCE(l.status, '') NOT IN ('converted', 'closed')";
    let open_task = "t.status IN ('New', 'In Progress')";

    let counts_sql = format!(
        "SELECT
            (SELECT count(*) FROM accounts a WHERE a.org_id = $1 AND a.is_active AND {acc}),
            (SELECT count(*) FROM contacts c WHERE c.org_id = $1 AND {con}),
            (SELECT count(*) FROM lead l WHERE l.org_id = $1 AND {open_lead} AND {lead}),
            (SELECT count(*) FROM opportunity o WHERE o.org_id = $1 AND {opp}),
            (SELECT count(*) FROM task t WHERE t.org_id = $1 AND {open_task} AND t.due_date < CURRENT_DATE AND {task}),
            (SELECT count(*) FROM task t WHERE t.org_id = $1 AND {open_task} AND t.due_date = CURRENT_DATE AND {task}),
            (SELECT count(*) FROM lead l WHERE l.org_id = $1 AND {open_lead} AND l.next_follow_up = CURRENT_DATE AND {lead}),
            (SELECT count(*) FROM lead l WHERE l.org_id = $1 AND l.rating = 'HOT' AND l.status IN ('assigned', 'in process') AND {lead}),
            (SELECT count(*) FILTER (WHERE status = 'converted') FROM lead WHERE org_id = $1),
            (SELECT count(*) FROM lead WHERE org_id = $1),
            (SELECT COALESCE(NULLIF(default_currency, ''), 'USD') FROM organization WHERE id = $1)"
    );
    type Counts = (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<String>,
    );
    let c: Counts = sqlx::query_as(sqlx::AssertSqlSafe(counts_sql))
        .bind(t.org_id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_one(&mut *t.tx)
        .await?;
    let currency = c.10.clone().unwrap_or_else(|| "USD".into());

    // Per stage: count, value, weighted value, won this month, rows in another currency.
    let pipeline_sql = format!(
        "SELECT o.stage, count(*),
                COALESCE(sum(o.amount) FILTER (WHERE m), 0)::float8,
                COALESCE(sum(o.amount * COALESCE(o.probability, 0) / 100.0) FILTER (WHERE m), 0)::float8,
                COALESCE(sum(o.amount) FILTER (WHERE m AND o.updated_at >= date_trunc('month', now())), 0)::float8,
                count(*) FILTER (WHERE NOT m)
         FROM (SELECT o.*, (o.currency IS NULL OR o.currency = '' OR o.currency = $5) AS m
               FROM opportunity o WHERE o.org_id = $1 AND {opp}) o
         GROUP BY o.stage"
    );
    let stages: Vec<(String, i64, f64, f64, f64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(pipeline_sql))
            .bind(t.org_id)
            .bind(t.is_admin())
            .bind(t.user_id)
            .bind(t.profile_id)
            .bind(&currency)
            .fetch_all(&mut *t.tx)
            .await?;

    let lists_sql = format!(
        "SELECT
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT a.id, a.name, a.email, a.phone, a.industry, a.city, a.country, a.currency,
                    a.annual_revenue::text AS annual_revenue, a.is_active, a.created_at
             FROM accounts a WHERE a.org_id = $1 AND a.is_active AND {acc}
             ORDER BY a.created_at DESC LIMIT {LIST_LIMIT}) x),
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.organization, c.created_at
             FROM contacts c WHERE c.org_id = $1 AND {con}
             ORDER BY c.created_at DESC LIMIT {LIST_LIMIT}) x),
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT l.id, l.title, l.first_name, l.last_name, l.email, l.status, l.source, l.rating,
                    l.company_name, json_build_object('name', l.company_name) AS company,
                    l.opportunity_amount::text AS opportunity_amount, l.currency,
                    l.created_at, l.created_at AS created_on
             FROM lead l WHERE l.org_id = $1 AND {open_lead} AND {lead}
             ORDER BY l.created_at DESC LIMIT {LIST_LIMIT}) x),
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT o.id, o.name, o.amount::text AS amount, o.currency, o.stage, o.probability, o.closed_on,
                    o.created_at, o.created_at AS created_on,
                    CASE WHEN ac.id IS NULL THEN NULL ELSE json_build_object('id', ac.id, 'name', ac.name) END AS account
             FROM opportunity o LEFT JOIN accounts ac ON ac.id = o.account_id AND ac.org_id = o.org_id
             WHERE o.org_id = $1 AND {opp}
             ORDER BY o.created_at DESC LIMIT {LIST_LIMIT}) x),
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT l.id, l.first_name, l.last_name, l.company_name AS company, l.rating, l.next_follow_up,
                    l.last_contacted
             FROM lead l WHERE l.org_id = $1 AND l.rating = 'HOT' AND l.status IN ('assigned', 'in process') AND {lead}
             ORDER BY l.created_at DESC LIMIT {LIST_LIMIT}) x),
          (SELECT COALESCE(json_agg(x), '[]') FROM (
             SELECT t.id, t.title, t.status, t.priority, t.due_date, t.created_at,
                    -- User ids: the frontend's My Tasks compares them with the JWT user_id.
                    COALESCE((SELECT json_agg(p.user_id ORDER BY ta.id)
                              FROM task_assigned_to ta JOIN profile p ON p.id = ta.profile_id
                              WHERE ta.task_id = t.id), '[]') AS assigned_to
             FROM task t WHERE t.org_id = $1 AND {open_task} AND t.due_date IS NOT NULL AND {task}
             ORDER BY t.due_date, t.id LIMIT {LIST_LIMIT}) x)"
    );
    let lists: (Value, Value, Value, Value, Value, Value) =
        sqlx::query_as(sqlx::AssertSqlSafe(lists_sql))
            .bind(t.org_id)
            .bind(t.is_admin())
            .bind(t.user_id)
            .bind(t.profile_id)
            .fetch_one(&mut *t.tx)
            .await?;
    let activities = activity::recent(&mut t, None, LIST_LIMIT).await?;
    t.commit().await?;

    let mut pipeline = Map::new();
    for (stage, label) in STAGES {
        let row = stages.iter().find(|r| r.0 == *stage);
        pipeline.insert(
            stage.to_string(),
            json!({"count": row.map_or(0, |r| r.1), "value": row.map_or(0.0, |r| r.2), "label": label}),
        );
    }
    let open = stages
        .iter()
        .filter(|r| OPEN_STAGES.contains(&r.0.as_str()));
    let pipeline_value: f64 = open.clone().map(|r| r.2).sum();
    let weighted: f64 = open.map(|r| r.3).sum();
    let won_this_month: f64 = stages
        .iter()
        .filter(|r| r.0 == "CLOSED_WON")
        .map(|r| r.4)
        .sum();
    let other_currency: i64 = stages.iter().map(|r| r.5).sum();
    let conversion_rate = if c.9 == 0 {
        json!(0)
    } else {
        json!(((c.8 as f64 / c.9 as f64) * 1000.0).round() / 10.0)
    };
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    Ok(Json(json!({
        "accounts_count": c.0,
        "contacts_count": c.1,
        "leads_count": c.2,
        "opportunities_count": c.3,
        "accounts": lists.0,
        "contacts": lists.1,
        "leads": lists.2,
        "opportunities": lists.3,
        "urgent_counts": {
            "overdue_tasks": c.4,
            "tasks_due_today": c.5,
            "followups_today": c.6,
            "hot_leads": c.7,
        },
        "pipeline_by_stage": pipeline,
        "revenue_metrics": {
            "pipeline_value": round2(pipeline_value),
            "weighted_pipeline": round2(weighted),
            "won_this_month": round2(won_this_month),
            "conversion_rate": conversion_rate,
            "currency": currency,
            "other_currency_count": other_currency,
        },
        "hot_leads": lists.4,
        "tasks": lists.5,
        "activities": activities,
    })))
}
