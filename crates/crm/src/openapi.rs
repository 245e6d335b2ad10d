//! The OpenAPI document: the shared handlers and schemas declared here, and each CRM module's
//! own `OpenApi` (its paths, schemas and tag) merged in at start-up by `document`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::{dto as auth_dto, google, handlers as auth, invitations, password_reset};
use crate::common::{
    activity, api_settings, attachments, audit, comments, dashboard, documents, orgs, profiles,
    tags, teams, users,
};
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
        password_reset::request, password_reset::confirm, invitations::accept, invitations::pending,
        orgs::list_orgs, orgs::create, orgs::get_org, orgs::update_org, orgs::get_settings, orgs::patch_settings,
        profiles::get_profile, profiles::patch_profile,
        google::callback, orgs::rotate_api_key,
        users::list, users::create, users::detail, users::put, users::patch, users::delete, users::set_status,
        users::teams_and_users,
        teams::list, teams::create, teams::detail, teams::put, teams::patch, teams::delete,
        tags::list, tags::create, tags::detail, tags::update, tags::archive, tags::restore,
        api_settings::list, api_settings::create, api_settings::detail, api_settings::put, api_settings::patch,
        api_settings::delete,
        activity::list, audit::list, dashboard::dashboard,
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
        google::GoogleLoginResponse, google::GoogleUser, users::UsersListResponse, users::ActiveUsers,
        users::InactiveUsers, users::StatusResponse, users::TeamsAndUsers, teams::TeamObj, teams::TeamListResponse,
        tags::TagObj, tags::TagListResponse, api_settings::ApiSettingObj, api_settings::ApiSettingsList,
        activity::ActivityObj, activity::ActivityUser, activity::ActivityListResponse, audit::AuditEntry,
        audit::AuditUser, audit::AuditLogResponse,
        password_reset::PasswordResetRequest, password_reset::PasswordResetConfirm,
        invitations::AcceptInvitation, invitations::AcceptResponse, invitations::JoinedOrg,
        invitations::PendingInvitation, invitations::PendingInvitations,
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
        (name = "users", description = "Members of the org"),
        (name = "teams", description = "Teams of members"),
        (name = "tags", description = "Tags (archived, not deleted)"),
        (name = "api-settings", description = "Keys for the website lead form"),
        (name = "activities", description = "The org's activity stream"),
        (name = "audit", description = "Security audit log (admins)"),
        (name = "dashboard", description = "Home page figures"),
        (name = "documents", description = "Shared files of the org"),
        (name = "comments", description = "Comments and attachments on leads, accounts, contacts, opportunities, cases and tasks"),
    )
)]
pub struct ApiDoc;

/// The served document: `ApiDoc` plus one line per module.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    add::<crate::leads::LeadsApi>(&mut doc);
    add::<crate::accounts::AccountsApi>(&mut doc);
    add::<crate::contacts::ContactsApi>(&mut doc);
    add::<crate::boards::BoardsApi>(&mut doc);
    add::<crate::tasks::TasksApi>(&mut doc);
    add::<crate::opportunities::OpportunitiesApi>(&mut doc);
    add::<crate::cases::CasesApi>(&mut doc);
    add::<crate::invoices::InvoicesApi>(&mut doc);
    add::<crate::events::EventsApi>(&mut doc);
    add::<crate::emails::EmailsApi>(&mut doc);
    add::<crate::marketing::MarketingApi>(&mut doc);
    doc
}

/// Merges a module's document. A module's schema replaces a shared one of the same name, as a
/// later entry of one `components(schemas(...))` list did before modules had their own.
fn add<M: OpenApi>(doc: &mut utoipa::openapi::OpenApi) {
    let mut module = M::openapi();
    if let (Some(own), Some(shared)) = (module.components.as_mut(), doc.components.as_mut()) {
        shared.schemas.append(&mut own.schemas);
    }
    doc.merge(module);
}
