//! The OpenAPI document: every documented handler and schema, assembled in one place.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::{dto as auth_dto, handlers as auth};
use crate::common::{attachments, comments, documents, orgs, profiles};
use crate::http::health;

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
        documents::list, documents::create, documents::detail, documents::put, documents::patch,
        documents::delete, documents::download,
        comments::list, comments::create, comments::update, comments::patch, comments::delete,
        attachments::list, attachments::upload, attachments::delete, attachments::download,
    ),
    components(schemas(
        auth_dto::LoginRequest, auth_dto::LoginResponse, auth_dto::UserSummary, auth_dto::OrgMembership,
        auth_dto::OrgRef, auth_dto::RegisterRequest, auth_dto::RegisterResponse, auth_dto::ActivateRequest,
        auth_dto::MessageResponse, auth_dto::RefreshRequest, auth_dto::RefreshResponse, auth_dto::SwitchOrgRequest,
        auth_dto::SwitchOrgResponse, auth_dto::SwitchProfile, auth_dto::ProfileDetail, auth_dto::UserMini,
        auth_dto::OrgMini, orgs::OrgListResponse, orgs::ProfileOrg, orgs::OrgSettings, profiles::ProfileObj,
        profiles::UserDetails, profiles::ProfileResponse,
        documents::DocumentObj, documents::TeamRow, documents::DocumentList, documents::ActivePage,
        documents::InactivePage, documents::DocumentDetail, documents::DocumentCreated,
        comments::CommentObj, comments::CommentList, comments::CommentCreated, comments::Message,
        attachments::AttachmentObj, attachments::AttachmentList, attachments::AttachmentsAdded,
    )),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Login, tokens, registration"),
        (name = "org", description = "Organizations and their settings"),
        (name = "profile", description = "The caller's membership"),
        (name = "health", description = "Liveness and database reachability"),
        (name = "documents", description = "Shared files of the org"),
        (name = "comments", description = "Comments and attachments on leads, accounts, contacts, opportunities, cases and tasks"),
    )
)]
pub struct ApiDoc;
