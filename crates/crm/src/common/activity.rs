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

/// The org's newest activities (optionally of one entity type), one query.
pub async fn recent(
    tx: &mut crate::db::tenant::Tx,
    org_id: Uuid,
    entity_type: Option<&str>,
    limit: i64,
) -> Result<Vec<ActivityObj>, sqlx::Error> {
    let rows: Vec<ActivityRow> = sqlx::query_as(
        "SELECT a.id, u.id, u.email, u.profile_pic, a.action, a.entity_type, a.entity_id, a.entity_name,
                a.description, a.created_at, floor(extract(epoch FROM now() - a.created_at))::bigint
         FROM activity a LEFT JOIN profile p ON p.id = a.user_id LEFT JOIN users u ON u.id = p.user_id
         WHERE a.org_id = $1 AND ($2::text IS NULL OR a.entity_type = $2)
         ORDER BY a.created_at DESC, a.id LIMIT $3",
    )
    .bind(org_id)
    .bind(entity_type)
    .bind(limit)
    .fetch_all(&mut **tx)
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
    let activities = recent(&mut t.tx, t.org_id, entity_type, limit).await?;
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
