//! Request validation (upstream's `LeadCreateSerializer`, with its 500s turned into field errors)
//! and the response shapes, declared for the OpenAPI document.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::choices::INDUSTRIES;
use crate::common::enums::{is_country, is_currency};
use crate::error::{ApiError, FieldErrors};
use crate::http::fields::{self, Kind, id_list};

pub const LEAD_STATUS: &[(&str, &str)] = &[
    ("assigned", "Assigned"),
    ("in process", "In Process"),
    ("converted", "Converted"),
    ("recycled", "Recycled"),
    ("closed", "Closed"),
];

/// Upstream's sources (`compaign` is its spelling), plus `website` for web-to-lead captures.
pub const LEAD_SOURCE: &[(&str, &str)] = &[
    ("call", "Call"),
    ("email", "Email"),
    ("existing customer", "Existing Customer"),
    ("partner", "Partner"),
    ("public relations", "Public Relations"),
    ("compaign", "Campaign"),
    ("other", "Other"),
    ("website", "Website"),
];

pub const RATINGS: &[&str] = &["HOT", "WARM", "COLD"];

pub use crate::db::sql::Val;

fn is_status(v: &str) -> bool {
    LEAD_STATUS.iter().any(|(k, _)| *k == v)
}
fn is_source(v: &str) -> bool {
    LEAD_SOURCE.iter().any(|(k, _)| *k == v)
}
fn is_industry(v: &str) -> bool {
    INDUSTRIES.contains(&v)
}
fn is_rating(v: &str) -> bool {
    RATINGS.contains(&v)
}

/// Writable columns in serializer order.
const FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Text(255)),
    ("salutation", Kind::Text(64)),
    ("first_name", Kind::Name),
    ("last_name", Kind::Name),
    ("email", Kind::Email),
    ("phone", Kind::Phone),
    ("job_title", Kind::Text(255)),
    ("website", Kind::Text(255)),
    ("linkedin_url", Kind::Url(500)),
    ("status", Kind::Choice(is_status)),
    ("source", Kind::Choice(is_source)),
    ("industry", Kind::Choice(is_industry)),
    ("rating", Kind::Choice(is_rating)),
    ("opportunity_amount", Kind::Amount),
    ("currency", Kind::Choice(is_currency)),
    ("probability", Kind::Percent),
    ("close_date", Kind::Date),
    ("address_line", Kind::Text(255)),
    ("city", Kind::Text(255)),
    ("state", Kind::Text(255)),
    ("postcode", Kind::Text(64)),
    ("country", Kind::Choice(is_country)),
    ("last_contacted", Kind::Date),
    ("next_follow_up", Kind::Date),
    ("description", Kind::Text(usize::MAX)),
    ("company_name", Kind::Text(255)),
    ("is_active", Kind::Bool),
];

/// Column names a CSV import or export uses, in order.
pub fn field_names() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().map(|(n, _)| *n)
}

/// A validated lead body: the columns to write and the relation lists present in it.
#[derive(Debug, Default)]
pub struct LeadInput {
    pub fields: Vec<(&'static str, Val)>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
}

impl LeadInput {
    pub fn get(&self, col: &str) -> Option<&Val> {
        self.fields.iter().find(|(c, _)| *c == col).map(|(_, v)| v)
    }

    pub fn text(&self, col: &str) -> Option<&str> {
        match self.get(col) {
            Some(Val::Text(Some(s))) => Some(s),
            _ => None,
        }
    }

    /// The body asks for conversion (`status: "converted"`). Conversion sets the status itself,
    /// so the column is dropped from the write.
    pub fn take_conversion(&mut self) -> bool {
        let converting = self.text("status") == Some("converted");
        if converting {
            self.fields.retain(|(c, _)| *c != "status");
        }
        converting
    }
}

/// Upstream's lead error envelope.
pub fn lead_errors(errors: FieldErrors) -> ApiError {
    fields::invalid(errors)
}

/// Validates a POST/PUT/PATCH body. Unknown keys (`org`, `created_by`...) are ignored, as DRF.
pub fn validate(body: &Map<String, Value>, errors: &mut FieldErrors) -> LeadInput {
    LeadInput {
        fields: fields::validate(body, FIELDS, errors),
        assigned_to: id_list(body, "assigned_to", errors),
        teams: id_list(body, "teams", errors),
        tags: id_list(body, "tags", errors),
        contacts: id_list(body, "contacts", errors),
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct LeadCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct LeadConverted {
    pub error: bool,
    pub message: String,
    pub account_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
}

/// LeadObj: upstream's LeadSerializer keys (plus `updated_at`).
#[derive(Serialize, ToSchema)]
pub struct LeadObj {
    pub id: Uuid,
    pub title: Option<String>,
    pub salutation: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub website: Option<String>,
    pub linkedin_url: Option<String>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub industry: Option<String>,
    pub rating: Option<String>,
    /// Decimal string with two places.
    pub opportunity_amount: Option<String>,
    pub currency: Option<String>,
    pub probability: Option<i32>,
    pub close_date: Option<NaiveDate>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    /// ProfileObj list.
    pub assigned_to: Vec<Value>,
    /// TeamObj list.
    pub teams: Vec<Value>,
    pub last_contacted: Option<NaiveDate>,
    pub next_follow_up: Option<NaiveDate>,
    pub description: Option<String>,
    /// ContactObj list.
    pub contacts: Vec<Value>,
    /// TagObj list.
    pub tags: Vec<Value>,
    /// UserMini `{id, email, profile_pic}`.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub is_active: bool,
    pub company_name: Option<String>,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct OpenLeads {
    pub leads_count: i64,
    pub open_leads: Vec<LeadObj>,
    /// Next offset; null on the last page; 0 for an empty page.
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CloseLeads {
    pub leads_count: i64,
    pub close_leads: Vec<LeadObj>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LeadListResponse {
    pub per_page: i64,
    /// One-element array `[page]`, as upstream.
    pub page_number: Vec<i64>,
    pub open_leads: OpenLeads,
    pub close_leads: CloseLeads,
    /// The open leads of this page again: the tasks page's lead picker reads `results`.
    pub results: Vec<LeadObj>,
    /// `[{id, first_name}]` of the org's contacts (newest 1000).
    pub contacts: Vec<Value>,
    /// `[[value, label]]`
    pub status: Vec<Value>,
    pub source: Vec<Value>,
    pub tags: Vec<Value>,
    /// `[{id: profile id, user__email}]`
    pub users: Vec<Value>,
    pub countries: Vec<Value>,
    pub industries: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct LeadDetailResponse {
    pub lead_obj: LeadObj,
    /// `[{id, created_by, file_name, created_at, file_path, content_type, object_id, org}]`
    pub attachments: Vec<Value>,
    /// `[{id, comment, commented_on, commented_by}]`
    pub comments: Vec<Value>,
    pub users_mention: Vec<Value>,
    /// `[{id: profile id, name: email}]`
    pub assigned_data: Vec<Value>,
    pub users: Vec<Value>,
    pub users_excluding_team: Vec<Value>,
    pub source: Vec<Value>,
    pub status: Vec<Value>,
    pub teams: Vec<Value>,
    pub countries: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportRowError {
    /// Line number in the file (the header is line 1).
    pub row: usize,
    pub errors: Value,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResponse {
    pub error: bool,
    pub message: String,
    pub created: usize,
    pub failed: usize,
    pub rows: Vec<ImportRowError>,
}

/// An import too large to answer at once: its job was queued.
#[derive(Serialize, ToSchema)]
pub struct ImportQueued {
    pub error: bool,
    pub message: String,
    /// The import's id, for `GET /api/leads/upload/{job_id}/`.
    pub job_id: Uuid,
    /// `queued`.
    pub status: String,
    /// Data rows in the file.
    pub total: usize,
    pub status_url: String,
}

/// An import job's progress, then its outcome.
#[derive(Serialize, ToSchema)]
pub struct ImportStatus {
    pub job_id: Uuid,
    /// `queued`, `running`, `done` or `failed` (nothing was created).
    pub status: String,
    /// True when the import failed.
    pub error: bool,
    /// When failed: `{"leads_file": [message]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
    pub message: String,
    /// Data rows in the file.
    pub total: i32,
    /// Rows checked and written so far.
    pub processed: i32,
    pub created: i32,
    pub failed: i32,
    /// The rows that failed: `[{"row": n, "errors": {field: [msg]}}]`.
    #[schema(value_type = Vec<ImportRowError>)]
    pub rows: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_like_the_serializer() {
        let body = json!({
            "title": "T", "status": "nonsense", "email": "not-an-email", "probability": 101,
            "first_name": "", "opportunity_amount": "-1", "assigned_to": ["x"], "tags": [],
            "close_date": "24/11/2026", "is_active": "maybe", "org": "ignored"
        });
        let mut e = FieldErrors::new();
        let input = validate(body.as_object().unwrap(), &mut e);
        for f in [
            "status",
            "email",
            "probability",
            "first_name",
            "opportunity_amount",
            "assigned_to",
            "close_date",
            "is_active",
        ] {
            assert!(e.has(f), "{f}");
        }
        assert_eq!(input.text("title"), Some("T"));
        assert_eq!(input.tags, Some(vec![]));
        assert!(input.teams.is_none());
    }
}

/// Body of `POST /api/leads/`, `PUT` and `PATCH /api/leads/<id>/` (all optional in PATCH).
/// Numbers may be sent as numbers or strings; related objects as arrays of ids.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LeadBody {
    pub title: Option<String>,
    pub salutation: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub website: Option<String>,
    pub linkedin_url: Option<String>,
    /// `assigned`, `in process`, `converted` (converts the lead), `recycled`, `closed`.
    pub status: Option<String>,
    pub source: Option<String>,
    pub industry: Option<String>,
    /// `HOT`, `WARM`, `COLD`.
    pub rating: Option<String>,
    #[schema(value_type = Option<String>, example = "1500.00")]
    pub opportunity_amount: Option<Value>,
    pub currency: Option<String>,
    /// 0 to 100.
    pub probability: Option<i32>,
    pub close_date: Option<NaiveDate>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    pub last_contacted: Option<NaiveDate>,
    pub next_follow_up: Option<NaiveDate>,
    pub description: Option<String>,
    pub company_name: Option<String>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    /// Ignored (the caller's org is used).
    pub org: Option<Uuid>,
}

/// Body of `POST /api/leads/create-from-site/` (a website's contact form).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct WebToLead {
    pub apikey: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Salutation.
    pub title: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
}

/// Multipart body of `POST /api/leads/upload/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LeadImportForm {
    #[schema(value_type = String, format = Binary)]
    pub leads_file: String,
}

/// Multipart body of `POST /api/leads/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct LeadDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub lead_attachment: Option<String>,
}
