//! Request and response bodies of the auth endpoints (shapes as upstream's examples).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Log into this org; default: the most recently joined active membership.
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, sqlx::FromRow)]
pub struct OrgMembership {
    pub id: Uuid,
    pub name: Option<String>,
    pub logo: Option<String>,
    pub role: String,
    pub is_organization_admin: bool,
    pub has_sales_access: bool,
    pub has_marketing_access: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub profile_pic: Option<String>,
    pub is_active: bool,
    pub organizations: Vec<OrgMembership>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: Uuid,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserSummary,
    /// Absent when the user has no active membership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_org: Option<OrgRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub confirm_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub message: String,
    pub user_id: Uuid,
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivateRequest {
    pub uid: Uuid,
    pub token: String,
}

/// `{"message": ...}` (named apart from the leads' `{"error", "message"}` schema, which
/// otherwise took its place in the document's components).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuthMessageResponse)]
pub struct MessageResponse {
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh: String,
}

/// Note the key names differ from login's (`access_token`): upstream's quirk, kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshResponse {
    pub access: String,
    pub refresh: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SwitchOrgRequest {
    pub org_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SwitchProfile {
    pub id: Uuid,
    pub role: String,
    pub is_organization_admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SwitchOrgResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub current_org: OrgRef,
    pub profile: SwitchProfile,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserMini {
    pub id: Uuid,
    pub email: String,
    pub profile_pic: Option<String>,
}

/// The org as nested in profile objects; `api_key` only for admins (upstream shows it to all).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgMini {
    pub id: Uuid,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDetail {
    pub id: Uuid,
    pub user: UserMini,
    pub org: OrgMini,
    pub role: String,
    pub is_organization_admin: bool,
    pub has_sales_access: bool,
    pub has_marketing_access: bool,
    pub phone: Option<String>,
    pub date_of_joining: Option<chrono::NaiveDate>,
    pub is_active: bool,
}
