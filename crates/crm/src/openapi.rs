//! The OpenAPI document: every documented handler and schema, assembled in one place.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::{dto as auth_dto, handlers as auth};
use crate::common::{orgs, profiles};
use crate::http::health;
use crate::leads::{dto as leads_dto, handlers as leads};

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Token"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "BottleCRM API", version = "1.0.0",
         description = "Multi-tenant CRM API, compatible with the BottleCRM (Django) backend."),
    paths(
        health::healthz,
        auth::login, auth::register, auth::activate, auth::activate_link, auth::refresh, auth::logout,
        auth::me, auth::profile, auth::switch_org,
        orgs::list_orgs, orgs::create, orgs::get_org, orgs::update_org, orgs::get_settings, orgs::patch_settings,
        profiles::get_profile, profiles::patch_profile,
        leads::list, leads::create, leads::detail, leads::put, leads::patch, leads::delete, leads::upload,
        leads::export, leads::create_from_site,
    ),
    components(schemas(
        auth_dto::LoginRequest, auth_dto::LoginResponse, auth_dto::UserSummary, auth_dto::OrgMembership,
        auth_dto::OrgRef, auth_dto::RegisterRequest, auth_dto::RegisterResponse, auth_dto::ActivateRequest,
        auth_dto::MessageResponse, auth_dto::RefreshRequest, auth_dto::RefreshResponse, auth_dto::SwitchOrgRequest,
        auth_dto::SwitchOrgResponse, auth_dto::SwitchProfile, auth_dto::ProfileDetail, auth_dto::UserMini,
        auth_dto::OrgMini, orgs::OrgListResponse, orgs::ProfileOrg, orgs::OrgSettings, profiles::ProfileObj,
        profiles::UserDetails, profiles::ProfileResponse,
        leads_dto::LeadObj, leads_dto::LeadListResponse, leads_dto::OpenLeads, leads_dto::CloseLeads,
        leads_dto::LeadDetailResponse, leads_dto::LeadCreated, leads_dto::LeadConverted, leads_dto::MessageResponse,
        leads_dto::ImportResponse, leads_dto::ImportRowError,
    )),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Login, tokens, registration"),
        (name = "org", description = "Organizations and their settings"),
        (name = "profile", description = "The caller's membership"),
        (name = "health", description = "Liveness and database reachability"),
        (name = "leads", description = "Leads, conversion, import/export, web-to-lead"),
    )
)]
pub struct ApiDoc;
