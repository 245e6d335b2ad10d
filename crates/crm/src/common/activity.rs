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
