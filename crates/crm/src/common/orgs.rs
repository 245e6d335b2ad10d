//! `/api/org/`, `/api/org/<id>/`, `/api/org/settings/`: the org entry points the frontend needs
//! before anything else. The org API key is shown to admins only (upstream shows it to everyone).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::enums::{currency_symbol, is_country, is_currency};
use crate::auth::Caller;
use crate::auth::dto::OrgMini;
use crate::db::tenant::{self, Tenant, Tx};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::{BodyExt, JsonBody};
use crate::http::parse_id;
use crate::state::AppState;

const SPECIAL_CHARS: &str = "~!@#$%^&*()+{}\":;'/[]";

fn envelope_error(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

/// Upstream's org-name rules: present, at most 100 characters, none of `~!@#$%^&*()+{}":;'/[]`.
pub fn validate_org_name(name: Option<&str>) -> Result<String, String> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err("This field is required.".into());
    }
    if name.chars().count() > 100 {
        return Err("Ensure this field has no more than 100 characters.".into());
    }
    if name.chars().any(|c| SPECIAL_CHARS.contains(c)) {
        return Err("organization name should not contain any special characters".into());
    }
    Ok(name.to_string())
}

/// Creates an org and makes `creator` its ADMIN. The tx's org context is switched to the new
/// org so the profile insert passes RLS.
pub async fn create_org(tx: &mut Tx, name: &str, creator: Uuid) -> Result<Uuid, sqlx::Error> {
    let org_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO organization (created_at, updated_at, id, name, api_key, is_active, created_by_id, updated_by_id,
                                   default_country, default_currency, address_line, city, company_name, country,
                                   email, logo, phone, postcode, state, tax_id, website)
         VALUES (now(), now(), $1, $2, $3, true, $4, $4, NULL, 'USD', '', '', '', '', '', NULL, '', '', '', '', '')",
    )
    .bind(org_id)
    .bind(name)
    .bind(Uuid::new_v4().to_string())
    .bind(creator)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT set_config('app.current_org', $1, true)")
        .bind(org_id.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO profile (created_at, updated_at, id, phone, alternate_phone, role, has_sales_access,
                              has_marketing_access, is_active, is_organization_admin, date_of_joining, address_id,
                              created_by_id, org_id, updated_by_id, user_id)
         VALUES (now(), now(), $1, NULL, NULL, 'ADMIN', true, true, true, true, CURRENT_DATE, NULL, $2, $3, $2, $2)",
    )
    .bind(Uuid::new_v4())
    .bind(creator)
    .bind(org_id)
    .execute(&mut **tx)
    .await?;
    Ok(org_id)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileOrg {
    pub role: String,
    pub alternate_phone: Option<String>,
    pub has_sales_access: bool,
    pub has_marketing_access: bool,
    pub is_organization_admin: bool,
    pub org: OrgMini,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgListResponse {
    pub error: bool,
    pub status: u16,
    pub profile_org_list: Vec<ProfileOrg>,
}

/// The caller's active memberships, newest first.
#[utoipa::path(get, path = "/api/org/", tag = "org", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = OrgListResponse), (status = 401)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<OrgListResponse>> {
    let mut tx = tenant::begin(&state.pool, None, Some(caller.user_id)).await?;
    #[derive(sqlx::FromRow)]
    struct Row {
        role: String,
        alternate_phone: Option<String>,
        has_sales_access: bool,
        has_marketing_access: bool,
        is_organization_admin: bool,
        org_id: Uuid,
        org_name: Option<String>,
        api_key: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.role, p.alternate_phone, p.has_sales_access, p.has_marketing_access, p.is_organization_admin,
                o.id AS org_id, o.name AS org_name, o.api_key
         FROM profile p JOIN organization o ON o.id = p.org_id
         WHERE p.user_id = $1 AND p.is_active
         ORDER BY p.created_at DESC",
    )
    .bind(caller.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let list = rows
        .into_iter()
        // An API key speaks for its own org only.
        .filter(|r| !caller.via_api_key || Some(r.org_id) == caller.org_id)
        .map(|r| {
            let admin = r.role == "ADMIN" || r.is_organization_admin;
            ProfileOrg {
                role: r.role,
                alternate_phone: r.alternate_phone,
                has_sales_access: r.has_sales_access,
                has_marketing_access: r.has_marketing_access,
                is_organization_admin: r.is_organization_admin,
                org: OrgMini {
                    id: r.org_id,
                    name: r.org_name,
                    api_key: admin.then_some(r.api_key),
                },
            }
        })
        .collect();
    Ok(Json(OrgListResponse {
        error: false,
        status: 200,
        profile_org_list: list,
    }))
}

/// Body of `POST /api/org/` and `PUT/PATCH /api/org/<id>/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct OrgName {
    /// 1 to 100 characters, unique among the caller's orgs.
    pub name: String,
}

/// Body of `PATCH /api/org/settings/`: any of these; unknown keys are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct OrgSettingsPatch {
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub tax_id: Option<String>,
    /// ISO 4217, e.g. `USD`.
    pub default_currency: Option<String>,
    pub default_country: Option<String>,
    /// Logo URL.
    pub logo: Option<String>,
}

/// Creates an org with the caller as ADMIN. Answers 200 with `status: 201` in the body, as
/// upstream; unlike upstream it returns the new id (`org.id` and `id`, both read by the frontend).
#[utoipa::path(post, path = "/api/org/", tag = "org", security(("jwt" = [])),
    request_body = OrgName,
    responses((status = 200, description = "`{\"error\": false, \"message\": \"New Org is Created.\", \"org\": {\"id\", \"name\"}, \"id\", \"status\": 201}`"),
              (status = 400, description = "`{\"error\": true, \"errors\": {\"name\": [...]}}`")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    if caller.via_api_key {
        return Err(ApiError::permission_denied());
    }
    let name = validate_org_name(body.opt_str("name").as_deref())
        .map_err(|m| envelope_error(StatusCode::BAD_REQUEST, json!({"name": [m]})))?;
    let mut tx = tenant::begin(&state.pool, None, Some(caller.user_id)).await?;
    // Names are unique among the caller's own orgs; a global check would reveal other tenants.
    let (dup,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM profile p JOIN organization o ON o.id = p.org_id
                        WHERE p.user_id = $1 AND p.is_active AND o.name = $2)",
    )
    .bind(caller.user_id)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    if dup {
        return Err(envelope_error(
            StatusCode::BAD_REQUEST,
            json!({"name": ["Organization already exists with this name"]}),
        ));
    }
    let org_id = create_org(&mut tx, &name, caller.user_id).await?;
    tx.commit().await?;
    Ok(Json(json!({
        "error": false,
        "message": "New Org is Created.",
        "org": {"id": org_id, "name": name},
        "id": org_id,
        "status": 201,
    })))
}

async fn org_mini(t: &mut Tenant) -> Result<OrgMini, ApiError> {
    let (name, key): (Option<String>, String) =
        sqlx::query_as("SELECT name, api_key FROM organization WHERE id = $1")
            .bind(t.org_id)
            .fetch_one(&mut *t.tx)
            .await?;
    Ok(OrgMini {
        id: t.org_id,
        name,
        api_key: t.is_admin().then_some(key),
    })
}

/// Another org's id is a 404, whether it exists or not.
fn same_org(t: &Tenant, raw: &str) -> Result<(), ApiError> {
    if parse_id(raw)? == t.org_id {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(get, path = "/api/org/{id}/", tag = "org", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "`{\"error\": false, \"org\": {\"id\", \"name\", \"api_key\" (admins)}}`"), (status = 404)))]
pub async fn get_org(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    same_org(&t, &id)?;
    let org = org_mini(&mut t).await?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "org": org})))
}

/// PUT and PATCH: renames the caller's current org (admins only).
#[utoipa::path(method(put, patch), path = "/api/org/{id}/", tag = "org", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = OrgName,
    responses((status = 200, description = "`{\"error\": false, \"message\": \"Organization updated successfully\", \"org\": {...}}`"),
              (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn update_org(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    same_org(&t, &id)?;
    if !t.is_admin() {
        return Err(envelope_error(
            StatusCode::FORBIDDEN,
            json!("Only organization admins can update organization details"),
        ));
    }
    if body.contains_key("name") {
        let name = validate_org_name(body.opt_str("name").as_deref())
            .map_err(|m| envelope_error(StatusCode::BAD_REQUEST, json!({"name": [m]})))?;
        sqlx::query("UPDATE organization SET name = $2, updated_at = now(), updated_by_id = $3 WHERE id = $1")
            .bind(t.org_id)
            .bind(name)
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
    }
    let org = org_mini(&mut t).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Organization updated successfully", "org": org}),
    ))
}

/// Replaces the org API key; the old key stops working at once. Admins only, and only with a
/// JWT: a leaked key must not be able to lock its owners out by rotating itself.
/// `POST /api/org/{id}/rotate-api-key/` 200 body (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApiKeyRotated {
    pub error: bool,
    pub message: String,
    pub api_key: String,
}

#[utoipa::path(post, path = "/api/org/{id}/rotate-api-key/", tag = "org", security(("jwt" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyRotated, description = "`{\"error\": false, \"message\": \"API key rotated\", \"api_key\": \"<new key>\"}`"),
              (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn rotate_api_key(
    mut t: Tenant,
    req: super::audit::RequestInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    same_org(&t, &id)?;
    if t.via_api_key || !t.is_admin() {
        return Err(ApiError::permission_denied());
    }
    let key = Uuid::new_v4().to_string();
    sqlx::query("UPDATE organization SET api_key = $2, updated_at = now(), updated_by_id = $3 WHERE id = $1")
        .bind(t.org_id)
        .bind(&key)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
    let ev = super::audit::Event::new("API_KEY_ROTATED", Some(t.user_id), Some(t.org_id))
        .describe(format!("API key rotated by {}", t.email));
    super::audit::write(&mut t.tx, &req, ev).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "API key rotated", "api_key": key}),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgSettings {
    pub id: Uuid,
    pub name: Option<String>,
    pub company_name: String,
    pub logo: Option<String>,
    pub logo_url: Option<String>,
    pub address_line: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub tax_id: String,
    pub default_currency: String,
    pub default_country: Option<String>,
    pub currency_symbol: String,
}

type SettingsRow = (
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

async fn load_settings(t: &mut Tenant, api_url: &str) -> Result<OrgSettings, ApiError> {
    let r: SettingsRow = sqlx::query_as(
        "SELECT name, company_name, logo, address_line, city, state, postcode, country, phone, email, website,
                tax_id, default_currency, default_country
         FROM organization WHERE id = $1",
    )
    .bind(t.org_id)
    .fetch_one(&mut *t.tx)
    .await?;
    let logo_url =
        r.2.as_ref()
            .filter(|l| !l.is_empty())
            .map(|l| format!("{}/media/{l}", api_url.trim_end_matches('/')));
    Ok(OrgSettings {
        id: t.org_id,
        name: r.0,
        company_name: r.1,
        logo: logo_url.clone(),
        logo_url,
        address_line: r.3,
        city: r.4,
        state: r.5,
        postcode: r.6,
        country: r.7,
        phone: r.8,
        email: r.9,
        website: r.10,
        tax_id: r.11,
        currency_symbol: currency_symbol(&r.12).to_string(),
        default_currency: r.12,
        default_country: r.13,
    })
}

#[utoipa::path(get, path = "/api/org/settings/", tag = "org", security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = OrgSettings), (status = 401), (status = 403)))]
pub async fn get_settings(
    State(state): State<AppState>,
    mut t: Tenant,
) -> ApiResult<Json<OrgSettings>> {
    let s = load_settings(&mut t, &crate::http::base_url::current(&state.cfg)).await?;
    t.commit().await?;
    Ok(Json(s))
}

/// (field, max chars) of the plain text settings.
const TEXT_FIELDS: &[(&str, usize)] = &[
    ("company_name", 255),
    ("address_line", 255),
    ("city", 100),
    ("state", 100),
    ("postcode", 20),
    ("phone", 25),
    ("tax_id", 50),
];

/// Validates a PATCH body into (column, value) pairs; unknown keys are ignored, as DRF does.
fn validate_settings(
    body: &Map<String, Value>,
) -> Result<Vec<(&'static str, Option<String>)>, ApiError> {
    let mut errors = FieldErrors::new();
    let mut out: Vec<(&'static str, Option<String>)> = Vec::new();
    let text = |key: &str, errors: &mut FieldErrors| -> Option<Option<String>> {
        match body.get(key)? {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.trim().to_string())),
            Value::Number(n) => Some(Some(n.to_string())),
            _ => {
                errors.add(key, "Not a valid string.");
                None
            }
        }
    };
    if let Some(v) = text("name", &mut errors) {
        match v.as_deref() {
            Some(n) if n.chars().count() > 100 => {
                errors.add("name", "Ensure this field has no more than 100 characters.")
            }
            _ => out.push(("name", v.filter(|s| !s.is_empty()))),
        }
    }
    for (key, max) in TEXT_FIELDS {
        if let Some(v) = text(key, &mut errors) {
            let v = v.unwrap_or_default();
            if v.chars().count() > *max {
                errors.add(
                    key,
                    format!("Ensure this field has no more than {max} characters."),
                );
            } else {
                out.push((key, Some(v)));
            }
        }
    }
    if let Some(v) = text("country", &mut errors) {
        let v = v.unwrap_or_default().to_uppercase();
        if v.is_empty() || is_country(&v) {
            out.push(("country", Some(v)));
        } else {
            errors.add("country", format!("\"{v}\" is not a valid choice."));
        }
    }
    if let Some(v) = text("email", &mut errors) {
        let v = v.unwrap_or_default();
        if v.is_empty() || crate::auth::service::is_valid_email(&v) {
            out.push(("email", Some(v)));
        } else {
            errors.add("email", "Enter a valid email address.");
        }
    }
    if let Some(v) = text("website", &mut errors) {
        let v = v.unwrap_or_default();
        let ok = v.is_empty()
            || (v.len() <= 200
                && url::Url::parse(&v)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()));
        if ok {
            out.push(("website", Some(v)))
        } else {
            errors.add("website", "Enter a valid URL.")
        }
    }
    if let Some(v) = text("default_currency", &mut errors) {
        match v {
            Some(c) if is_currency(&c) => out.push(("default_currency", Some(c))),
            Some(c) => errors.add(
                "default_currency",
                format!("\"{c}\" is not a valid choice."),
            ),
            None => errors.add("default_currency", "This field may not be null."),
        }
    }
    if let Some(v) = text("default_country", &mut errors) {
        match v.filter(|s| !s.is_empty()) {
            None => out.push(("default_country", None)),
            Some(c) if is_country(&c.to_uppercase()) => {
                out.push(("default_country", Some(c.to_uppercase())))
            }
            Some(c) => errors.add("default_country", format!("\"{c}\" is not a valid choice.")),
        }
    }
    if let Some(v) = body.get("logo") {
        if v.is_null() {
            out.push(("logo", None));
        } else {
            errors.add(
                "logo",
                "Upload a logo as a multipart file; JSON accepts only null (to remove it).",
            );
        }
    }
    errors.into_result()?;
    Ok(out)
}

#[utoipa::path(patch, path = "/api/org/settings/", tag = "org", security(("jwt" = []), ("api_key" = [])),
    request_body = OrgSettingsPatch,
    responses((status = 200, body = OrgSettings), (status = 400), (status = 403, description = "`{\"error\": \"Only admins can update organization settings\"}`")),
    extensions(("x-admin-only" = json!(true))))]
pub async fn patch_settings(
    State(state): State<AppState>,
    mut t: Tenant,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<OrgSettings>> {
    if !t.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            json!({"error": "Only admins can update organization settings"}),
        ));
    }
    let changes = validate_settings(&body)?;
    for (column, value) in changes {
        // Column names come from the fixed list above, never from the request.
        let sql = format!(
            "UPDATE organization SET {column} = $2, updated_at = now(), updated_by_id = $3 WHERE id = $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t.org_id)
            .bind(value)
            .bind(t.user_id)
            .execute(&mut *t.tx)
            .await?;
    }
    let s = load_settings(&mut t, &crate::http::base_url::current(&state.cfg)).await?;
    t.commit().await?;
    Ok(Json(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names() {
        assert_eq!(validate_org_name(Some(" Acme ")).unwrap(), "Acme");
        assert!(validate_org_name(Some("Acme!")).is_err());
        assert!(validate_org_name(None).is_err());
        assert!(validate_org_name(Some(&"x".repeat(101))).is_err());
    }
}
