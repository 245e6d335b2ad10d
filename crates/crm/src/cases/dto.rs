//! Request validation (upstream's `CaseCreateSerializer` and `SolutionCreateUpdateSerializer`,
//! their 500s turned into field errors) and the response shapes, declared for the OpenAPI document.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::choices::{CASE_PRIORITIES, CASE_STATUSES, CASE_TYPES};
use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, id_list};

fn in_list(list: &[(&str, &str)], v: &str) -> bool {
    list.iter().any(|(k, _)| *k == v)
}
fn is_status(v: &str) -> bool {
    in_list(CASE_STATUSES, v)
}
fn is_priority(v: &str) -> bool {
    in_list(CASE_PRIORITIES, v)
}
fn is_case_type(v: &str) -> bool {
    in_list(CASE_TYPES, v)
}

/// Statuses that end a case: closing stamps `resolved_at`, any other status clears it.
pub const TERMINAL: &[&str] = &["Closed", "Rejected", "Duplicate"];

pub fn is_terminal(status: &str) -> bool {
    TERMINAL.contains(&status)
}

/// SLA targets in hours per priority: (first response, resolution). Applied on create (and
/// when a write changes the priority) unless the body gives the hours.
pub const SLA_HOURS: &[(&str, i32, i32)] = &[
    ("Low", 24, 72),
    ("Normal", 8, 48),
    ("High", 4, 24),
    ("Urgent", 1, 4),
];

/// The SLA hours of a priority (upstream's column defaults, 4 / 24, for anything else).
pub fn sla_hours(priority: &str) -> (i32, i32) {
    SLA_HOURS
        .iter()
        .find(|(p, ..)| *p == priority)
        .map_or((4, 24), |(_, f, r)| (*f, *r))
}

/// Writable columns (`account` and the relation lists are read apart).
const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(64)),
    ("status", Kind::Choice(is_status)),
    ("priority", Kind::Choice(is_priority)),
    ("case_type", Kind::Choice(is_case_type)),
    ("closed_on", Kind::Date),
    ("description", Kind::Text(usize::MAX)),
    ("is_active", Kind::Bool),
    ("sla_first_response_hours", Kind::Int(0, 100_000)),
    ("sla_resolution_hours", Kind::Int(0, 100_000)),
];

/// A validated case body: the columns to write, the `account` FK (create only) and the relation
/// lists present in it.
#[derive(Debug, Default)]
pub struct CaseInput {
    pub fields: Vec<(&'static str, Val)>,
    pub account: Option<Option<Uuid>>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

impl CaseInput {
    pub fn text(&self, col: &str) -> Option<&str> {
        fields::text(&self.fields, col)
    }

    pub fn has(&self, col: &str) -> bool {
        self.fields.iter().any(|(c, _)| *c == col)
    }

    pub fn set(&mut self, col: &'static str, v: Val) {
        self.fields.retain(|(c, _)| *c != col);
        self.fields.push((col, v));
    }
}

/// Validates a POST/PUT/PATCH body. `required`: `name`, `status` and `priority` are required
/// (POST and PUT). Unknown keys are ignored, as DRF; `case_type: ""` (the frontend's "none")
/// is stored as null.
pub fn validate(body: &Map<String, Value>, required: bool, errors: &mut FieldErrors) -> CaseInput {
    let mut fields = fields::validate(body, FIELDS, errors);
    for name in ["name", "status", "priority"] {
        match fields.iter().find(|(c, _)| *c == name) {
            Some((_, Val::Text(None))) if name != "name" => {
                errors.add(name, "This field may not be null.")
            }
            Some((_, Val::Text(Some(s)))) if s.is_empty() && name != "name" => {
                errors.add(name, "\"\" is not a valid choice.")
            }
            None if required && !errors.has(name) => errors.add(name, "This field is required."),
            _ => {}
        }
    }
    for name in ["sla_first_response_hours", "sla_resolution_hours"] {
        if let Some((_, Val::Int(None))) = fields.iter().find(|(c, _)| *c == name) {
            errors.add(name, "This field may not be null.");
        }
    }
    for (c, v) in fields.iter_mut() {
        if *c == "case_type"
            && let Val::Text(Some(s)) = v
            && s.is_empty()
        {
            *v = Val::Text(None);
        }
    }
    let account = fields::fk(body, "account", errors);
    CaseInput {
        fields,
        account,
        assigned_to: id_list(body, "assigned_to", errors),
        contacts: id_list(body, "contacts", errors),
        teams: id_list(body, "teams", errors),
        tags: id_list(body, "tags", errors),
    }
}

/// Solution statuses (knowledge base workflow).
pub const SOLUTION_STATUSES: &[&str] = &["draft", "reviewed", "approved"];

fn is_solution_status(v: &str) -> bool {
    SOLUTION_STATUSES.contains(&v)
}

const SOLUTION_FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Required(255)),
    ("description", Kind::Text(usize::MAX)),
    ("status", Kind::Choice(is_solution_status)),
    ("is_published", Kind::Bool),
];

/// A validated solution body: its columns and the cases to link (`None`: leave the links).
#[derive(Debug, Default)]
pub struct SolutionInput {
    pub fields: Vec<(&'static str, Val)>,
    pub cases: Option<Vec<Uuid>>,
}

/// Validates a solution body; `required`: `title` and `description` (POST and PUT).
pub fn validate_solution(
    body: &Map<String, Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> SolutionInput {
    let fields = fields::validate(body, SOLUTION_FIELDS, errors);
    for name in ["title", "description"] {
        match fields.iter().find(|(c, _)| *c == name) {
            Some((_, Val::Text(None))) => errors.add(name, "This field may not be null."),
            Some((_, Val::Text(Some(s)))) if s.is_empty() => {
                errors.add(name, "This field may not be blank.")
            }
            None if required && !errors.has(name) => errors.add(name, "This field is required."),
            _ => {}
        }
    }
    match fields.iter().find(|(c, _)| *c == "status") {
        Some((_, Val::Text(None))) => errors.add("status", "This field may not be null."),
        Some((_, Val::Text(Some(s)))) if s.is_empty() => {
            errors.add("status", "\"\" is not a valid choice.")
        }
        _ => {}
    }
    SolutionInput {
        fields,
        cases: id_list(body, "cases", errors),
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct CaseMessage {
    pub error: bool,
    pub message: String,
}

/// CaseObj: upstream's CaseSerializer keys (what the frontend reads), with `account` as
/// `{id, name}`, `org` as `{id, name}` (no API key), the case's comments, and the SLA fields
/// upstream never served.
#[derive(Serialize, ToSchema)]
pub struct CaseObj {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub priority: String,
    pub case_type: Option<String>,
    pub closed_on: Option<String>,
    pub description: Option<String>,
    /// UserMini `{id, email, profile_pic}` or null.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub is_active: bool,
    /// `{id, name}` or null.
    pub account: Option<Value>,
    /// `[ContactObj]`
    pub contacts: Vec<Value>,
    /// `[TeamObj]`
    pub teams: Vec<Value>,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    /// `[TagObj]`
    pub tags: Vec<Value>,
    /// `{id, name}`
    pub org: Value,
    /// `[{id, comment, commented_on, created_at, commented_by: {id: profile id, user_details: {id, email, profile_pic}}}]`, newest first.
    pub comments: Vec<Value>,
    /// Hours to the first response (by priority unless set).
    pub sla_first_response_hours: i32,
    /// Hours to resolution (by priority unless set).
    pub sla_resolution_hours: i32,
    /// When a member first commented.
    pub first_response_at: Option<String>,
    /// When the case was closed (Closed, Rejected or Duplicate); null while open.
    pub resolved_at: Option<String>,
    pub first_response_due_at: String,
    pub resolution_due_at: String,
    /// Answered (or closed) after its due time, or still unanswered past it.
    pub first_response_breached: bool,
    /// Closed after its due time, or still open past it.
    pub resolution_breached: bool,
    /// Either breach.
    pub sla_breached: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CaseListResponse {
    pub cases_count: i64,
    /// The next page's offset; null on the last page, 0 when the page is empty.
    pub offset: Option<i64>,
    pub cases: Vec<CaseObj>,
    /// `[[value, label]]`
    pub status: Vec<Value>,
    pub priority: Vec<Value>,
    pub type_of_case: Vec<Value>,
    /// `[{id, name}]`: accounts the caller may see (up to 1,000).
    pub accounts_list: Vec<Value>,
    /// `[{id, first_name, last_name, email}]`: contacts the caller may see (up to 1,000).
    pub contacts_list: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseDetailResponse {
    pub cases_obj: CaseObj,
    /// `[AttachmentObj]`
    pub attachments: Vec<Value>,
    /// `[CommentObj]`
    pub comments: Vec<Value>,
    /// `[ContactObj]`
    pub contacts: Vec<Value>,
    pub status: Vec<Value>,
    pub priority: Vec<Value>,
    pub type_of_case: Vec<Value>,
    /// Admin or creator.
    pub comment_permission: bool,
    /// `[{user__email}]`
    pub users_mention: Vec<Value>,
    /// `[{id, title, status, is_published}]`: solutions linked to the case.
    pub solutions: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
    pub cases_obj: CaseObj,
}

/// SolutionObj.
#[derive(Serialize, ToSchema)]
pub struct SolutionObj {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    /// draft | reviewed | approved
    pub status: String,
    pub is_published: bool,
    /// `{id, name}`
    pub org: Value,
    pub case_count: i64,
    pub created_at: String,
    pub updated_at: String,
    /// User id.
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
}

/// SolutionDetailObj: `linked_cases` (the first 10, as CaseObj) instead of `case_count`.
#[derive(Serialize, ToSchema)]
pub struct SolutionDetailObj {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub status: String,
    pub is_published: bool,
    pub org: Value,
    pub linked_cases: Vec<CaseObj>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
}

/// DRF's page envelope.
#[derive(Serialize, ToSchema)]
pub struct SolutionList {
    pub count: i64,
    /// Absolute URL of the next page, or null.
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<SolutionObj>,
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/cases/`, `PUT` and `PATCH /api/cases/<id>/` (all optional in PATCH; `name`,
/// `status`, `priority` required otherwise). Unknown keys are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct CaseBody {
    /// At most 64 characters, unique in the org (case-insensitive).
    pub name: Option<String>,
    /// New | Assigned | Pending | Closed | Rejected | Duplicate
    pub status: Option<String>,
    /// Low | Normal | High | Urgent
    pub priority: Option<String>,
    /// Question | Incident | Problem, or "" / null for none.
    pub case_type: Option<String>,
    /// `YYYY-MM-DD`; set to today when a case is closed without one.
    pub closed_on: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    /// Defaults by priority (see the README).
    pub sla_first_response_hours: Option<i32>,
    pub sla_resolution_hours: Option<i32>,
    /// An account of the org (create only; ignored by PUT and PATCH, as upstream).
    pub account: Option<Uuid>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

/// Multipart body of `POST /api/cases/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct CaseDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub case_attachment: Option<String>,
}

/// Body of `POST /api/cases/solutions/`, `PUT` and `PATCH .../<id>/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SolutionBody {
    /// Required (POST, PUT), at most 255 characters.
    pub title: Option<String>,
    /// Required (POST, PUT).
    pub description: Option<String>,
    /// draft | reviewed | approved (default draft)
    pub status: Option<String>,
    /// Only an approved solution may be published.
    pub is_published: Option<bool>,
    /// Case ids of the org to link (replaces the links; absent: unchanged).
    pub cases: Option<Vec<Uuid>>,
}
