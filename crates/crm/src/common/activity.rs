//! The activity stream (`activity` table): one helper every module calls on create, update and
//! delete, inside the same transaction as the change.

use uuid::Uuid;

use crate::db::Tenant;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    Comment,
    Assign,
}

impl Action {
    /// Stored value (upstream's choice keys).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Comment => "COMMENT",
            Action::Assign => "ASSIGN",
        }
    }
}

/// Records that the caller did `action` to an entity (`entity_type` as upstream: "Lead",
/// "Account", "Contact", "Opportunity", "Case", "Task", "Invoice", "Event", "Document", "Team").
pub async fn record(
    t: &mut Tenant,
    action: Action,
    entity_type: &str,
    entity_id: Uuid,
    entity_name: &str,
) -> Result<(), ApiError> {
    let name: String = entity_name.chars().take(255).collect();
    sqlx::query(
        "INSERT INTO activity (created_at, updated_at, id, action, entity_type, entity_id, entity_name, description,
                               created_by_id, updated_by_id, org_id, user_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, '', $6, $6, $7, $8)",
    )
    .bind(Uuid::new_v4())
    .bind(action.as_str())
    .bind(entity_type)
    .bind(entity_id)
    .bind(name)
    .bind(t.user_id)
    .bind(t.org_id)
    .bind(t.profile_id)
    .execute(&mut *t.tx)
    .await?;
    Ok(())
}

/// The acting member as nested in an activity (`id` is the User id, as upstream).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ActivityUser {
    pub id: Uuid,
    pub email: String,
    /// The e-mail's local part.
    pub name: String,
    pub profile_pic: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ActivityObj {
    pub id: Uuid,
    pub user: Option<ActivityUser>,
    pub action: String,
    pub action_display: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub entity_name: String,
    pub description: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub humanized_time: String,
}

fn action_display(action: &str) -> &str {
    match action {
        "CREATE" => "Created",
        "UPDATE" => "Updated",
        "DELETE" => "Deleted",
        "VIEW" => "Viewed",
        "COMMENT" => "Commented",
        "ASSIGN" => "Assigned",
        other => other,
    }
}

/// Django's `timesince` + " ago": at most two adjacent units, a no-break space inside each.
pub fn humanize(seconds: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (365 * 86400, "year"),
        (30 * 86400, "month"),
        (7 * 86400, "week"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ];
    let s = seconds.max(0);
    let fmt = |n: i64, unit: &str| format!("{n}\u{a0}{unit}{}", if n == 1 { "" } else { "s" });
    for (i, (size, unit)) in UNITS.iter().enumerate() {
        let n = s / size;
        if n > 0 {
            let mut out = fmt(n, unit);
            if let Some((next, next_unit)) = UNITS.get(i + 1) {
                let m = (s - n * size) / next;
                if m > 0 {
                    out = format!("{out}, {}", fmt(m, next_unit));
                }
            }
            return format!("{out} ago");
        }
    }
    format!("{} ago", fmt(0, "minute"))
}

type ActivityRow = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    String,
    String,
    Uuid,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
);

/// Entity types whose records a member who is not an admin may be shown, each with the ids of
/// the records they may open now, by the rule of the records' own list (leads: creator,
/// assignee or team, as `leads::model::visible_sql`; the comment registry's modules likewise;
/// documents: uploader or shared, directly or through a team; teams: their members), as a
/// one-column `SELECT` whose cost follows the member's share, not the org's size. `$1` is the
/// org; `user`/`profile` are placeholders. Activities of any other type (events, ...) and of
/// deleted records are shown to admins only, apart from the member's own actions.
fn visible_ids(user: &str, profile: &str) -> Vec<(&'static str, String)> {
    use super::comments::{ACCOUNTS, CASES, CONTACTS, INVOICES, LEADS, OPPORTUNITIES, TASKS};
    let mut out: Vec<(&'static str, String)> = [
        &LEADS,
        &ACCOUNTS,
        &CONTACTS,
        &OPPORTUNITIES,
        &CASES,
        &TASKS,
        &INVOICES,
    ]
    .into_iter()
    .map(|t| (t.entity_type, t.visible_ids_sql("$1", user, profile)))
    .collect();
    out.push((
        "Document",
        super::documents::visible_ids_sql("$1", user, profile),
    ));
    out.push((
        "Team",
        format!("SELECT teams_id FROM teams_users WHERE profile_id = {profile}"),
    ));
    out
}

/// How many of the org's newest activities a member's feed tests one by one (a hash probe
/// each) before it reads the activities of the records the member may see by index instead.
const WALK: i64 = 200;

/// The columns of an activity the feed shows (alias `a`).
const COLS: &str = "a.id, a.action, a.entity_type, a.entity_id, a.entity_name, a.description, a.created_at, a.user_id, a.org_id";

/// The statement behind `recent`: $1 org, $2 user id, $3 profile id, $4 entity type (used when
/// `entity_type` is given). `limit` is written into the text (it is capped, so there are few
/// variants): a generic plan of `LIMIT $n` assumes a tenth of the rows and hash-joins the
/// org's whole history.
pub fn feed_sql(admin: bool, entity_type: Option<&str>, limit: i64) -> String {
    let tf = if entity_type.is_some() {
        " AND a.entity_type = $4"
    } else {
        ""
    };
    let newest = "ORDER BY a.created_at DESC, a.id DESC";
    let picked = if admin {
        format!("SELECT {COLS} FROM activity a WHERE a.org_id = $1{tf} {newest} LIMIT {limit}")
    } else {
        let mut cand: Vec<String> = visible_ids("$2", "$3")
            .into_iter()
            .filter(|(ty, _)| entity_type.is_none_or(|e| e == *ty))
            .map(|(ty, ids)| format!("SELECT '{ty}'::text, x.id FROM ({ids}) x(id)"))
            .collect();
        if cand.is_empty() {
            cand.push("SELECT NULL::text, NULL::uuid WHERE false".into());
        }
        let cand = cand.join("\n UNION ALL ");
        format!(
            "WITH cand (t, id) AS MATERIALIZED ({cand}),
             win AS MATERIALIZED (
                SELECT {COLS} FROM activity a WHERE a.org_id = $1{tf} {newest} LIMIT {WALK}),
             hits AS MATERIALIZED (
                SELECT a.* FROM win a
                WHERE a.user_id = $3 OR (a.entity_type::text, a.entity_id) IN (SELECT t, id FROM cand)
                {newest} LIMIT {limit}),
             done AS MATERIALIZED (
                SELECT (SELECT count(*) FROM hits) >= {limit} OR (SELECT count(*) FROM win) < {WALK} AS ok),
             more AS (
                SELECT a.* FROM (
                    SELECT x.* FROM cand c CROSS JOIN LATERAL (
                        SELECT {COLS} FROM activity a
                        WHERE a.entity_type = c.t AND a.entity_id = c.id AND a.org_id = $1{tf}
                        {newest} LIMIT {limit}) x
                    UNION
                    (SELECT {COLS} FROM activity a WHERE a.org_id = $1 AND a.user_id = $3{tf}
                     {newest} LIMIT {limit})) a
                WHERE NOT (SELECT ok FROM done)
                {newest} LIMIT {limit})
             SELECT * FROM hits WHERE (SELECT ok FROM done) UNION ALL SELECT * FROM more"
        )
    };
    format!(
        "SELECT a.id, u.id, u.email, u.profile_pic, a.action, a.entity_type, a.entity_id, a.entity_name,
                a.description, a.created_at, floor(extract(epoch FROM now() - a.created_at))::bigint
         FROM ({picked}) a
              LEFT JOIN profile p ON p.id = a.user_id LEFT JOIN users u ON u.id = p.user_id
         {newest}"
    )
}

/// The newest activities the caller may see (optionally of one entity type), one statement.
///
/// Admins: the org's newest rows in index order (`activity_org_recent_idx`, migration 0048).
/// Other members: the ids of the records they may see are gathered once (`visible_ids`); the
/// org's newest `WALK` rows are tested against them (a member who sees a fair share of the org
/// finds their page there); when fewer than `limit` pass and the org has more rows, the
/// activities of those records (upstream's `(entity_type, entity_id)` index) and the member's
/// own newest actions are read instead. The cost follows the page and the member's share,
/// never the org's history.
pub async fn recent(
    t: &mut Tenant,
    entity_type: Option<&str>,
    limit: i64,
) -> Result<Vec<ActivityObj>, sqlx::Error> {
    let sql = feed_sql(t.is_admin(), entity_type, limit.clamp(1, 100));
    let rows: Vec<ActivityRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(t.org_id)
        .bind(t.user_id)
        .bind(t.profile_id)
        .bind(entity_type)
        .fetch_all(&mut *t.tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ActivityObj {
            id: r.0,
            user: match (r.1, r.2) {
                (Some(id), Some(email)) => Some(ActivityUser {
                    id,
                    name: email.split('@').next().unwrap_or_default().to_string(),
                    email,
                    profile_pic: r.3,
                }),
                _ => None,
            },
            action_display: action_display(&r.4).to_string(),
            action: r.4,
            entity_type: r.5,
            entity_id: r.6,
            entity_name: r.7,
            description: r.8,
            timestamp: r.9,
            humanized_time: humanize(r.10),
        })
        .collect())
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ActivityListResponse {
    pub error: bool,
    pub count: usize,
    pub activities: Vec<ActivityObj>,
}

/// The org's activity stream, newest first. `limit` defaults to 10 and is capped at 50.
/// Members who are not admins see their own actions and those on records they may open.
#[utoipa::path(get, path = "/api/activities/", tag = "activities", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("entity_type" = Option<String>, Query, description = "e.g. Lead")),
    responses((status = 200, body = ActivityListResponse)))]
pub async fn list(
    mut t: Tenant,
    q: crate::http::query::RawQuery,
) -> crate::error::ApiResult<axum::Json<ActivityListResponse>> {
    let limit = q
        .get("limit")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(10)
        .min(50);
    let entity_type = q.get("entity_type").filter(|s| !s.is_empty());
    let activities = recent(&mut t, entity_type, limit).await?;
    t.commit().await?;
    Ok(axum::Json(ActivityListResponse {
        error: false,
        count: activities.len(),
        activities,
    }))
}

#[cfg(test)]
mod tests {
    use super::humanize;

    #[test]
    fn humanizes_like_django() {
        assert_eq!(humanize(5), "0\u{a0}minutes ago");
        assert_eq!(humanize(60), "1\u{a0}minute ago");
        assert_eq!(humanize(2 * 3600 + 180), "2\u{a0}hours, 3\u{a0}minutes ago");
        assert_eq!(humanize(86400 + 60), "1\u{a0}day ago");
    }
}
