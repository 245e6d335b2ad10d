//! `/api/profile/`: the caller's membership in the current org, and the profile object other
//! endpoints nest (upstream's ProfileSerializer).

use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::tenant::{Tenant, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserDetails {
    pub email: String,
    pub id: Uuid,
    pub is_active: bool,
    pub profile_pic: Option<String>,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileObj {
    pub id: Uuid,
    pub user_details: UserDetails,
    pub role: String,
    /// Not in upstream's serializer; the frontend's users page reads it for its admin gate.
    pub is_organization_admin: bool,
    pub address: Option<Uuid>,
    pub has_marketing_access: bool,
    pub has_sales_access: bool,
    pub phone: Option<String>,
    pub date_of_joining: Option<NaiveDate>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

type ProfileRow = (
    Uuid,
    String,
    Uuid,
    bool,
    Option<String>,
    Option<DateTime<Utc>>,
    String,
    Option<Uuid>,
    bool,
    bool,
    Option<String>,
    Option<NaiveDate>,
    bool,
    DateTime<Utc>,
    bool,
);

fn to_obj(r: ProfileRow) -> ProfileObj {
    ProfileObj {
        id: r.0,
        user_details: UserDetails {
            email: r.1,
            id: r.2,
            is_active: r.3,
            profile_pic: r.4,
            last_login: r.5,
        },
        role: r.6,
        is_organization_admin: r.14,
        address: r.7,
        has_marketing_access: r.8,
        has_sales_access: r.9,
        phone: r.10,
        date_of_joining: r.11,
        is_active: r.12,
        created_at: r.13,
    }
}

/// Profile objects by id, in the tx's org.
pub async fn load(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<ProfileObj>, sqlx::Error> {
    let rows: Vec<ProfileRow> = sqlx::query_as(
        "SELECT p.id, u.email, u.id, u.is_active, u.profile_pic, u.last_login, p.role, p.address_id,
                p.has_marketing_access, p.has_sales_access, p.phone, p.date_of_joining, p.is_active, p.created_at,
                p.is_organization_admin
         FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND p.id = ANY($2)
         ORDER BY p.created_at DESC",
    )
    .bind(org_id)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(to_obj).collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileResponse {
    pub user_obj: ProfileObj,
}

#[utoipa::path(get, path = "/api/profile/", tag = "profile", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = ProfileResponse), (status = 401), (status = 403)))]
pub async fn get_profile(mut t: Tenant) -> ApiResult<Json<ProfileResponse>> {
    let obj = load(&mut t.tx, t.org_id, &[t.profile_id])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    Ok(Json(ProfileResponse { user_obj: obj }))
}

/// Body of `PATCH /api/profile/`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct PhonePatch {
    /// E.164, e.g. `+12025551234`; null clears it.
    pub phone: Option<String>,
}

/// Only `phone` is editable here (as upstream); it must fit and be unique in the org.
#[utoipa::path(patch, path = "/api/profile/", tag = "profile", security(("jwt" = []), ("api_key" = [])),
    request_body = PhonePatch,
    responses((status = 200, description = "`{\"message\": \"Profile updated successfully\", \"user_obj\": {...}}`"), (status = 400)))]
pub async fn patch_profile(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    if let Some(phone) = body.get("phone") {
        let phone = match phone {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().to_string()),
            _ => return Err(ApiError::field("phone", "Not a valid string.")),
        };
        let mut errors = FieldErrors::new();
        if let Some(p) = &phone {
            if p.chars().count() > 20 {
                errors.add("phone", "Ensure this field has no more than 20 characters.");
            } else if !p
                .chars()
                .all(|c| c.is_ascii_digit() || " -().+".contains(c))
            {
                errors.add("phone", "Enter a valid phone number.");
            } else {
                let (taken,): (bool,) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM profile WHERE org_id = $1 AND phone = $2 AND id <> $3)",
                )
                .bind(t.org_id)
                .bind(p)
                .bind(t.profile_id)
                .fetch_one(&mut *t.tx)
                .await?;
                if taken {
                    errors.add(
                        "phone",
                        "Profile with this phone already exists in this organization.",
                    );
                }
            }
        }
        errors.into_result()?;
        sqlx::query("UPDATE profile SET phone = $3, updated_at = now(), updated_by_id = $4 WHERE id = $1 AND org_id = $2")
            .bind(t.profile_id)
            .bind(t.org_id)
            .bind(phone)
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
    }
    let obj = load(&mut t.tx, t.org_id, &[t.profile_id])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    t.commit().await?;
    Ok(Json(
        json!({"message": "Profile updated successfully", "user_obj": obj}),
    ))
}
