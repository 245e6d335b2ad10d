//! Request validation (upstream's `CreateContactSerializer`, with its 500s turned into field
//! errors) and the response shapes, declared for the OpenAPI document.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::enums::is_country;
use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, id_list};

/// Writable columns in serializer order (`account` is read apart: it is an id checked in the org).
const FIELDS: &[(&str, Kind)] = &[
    ("first_name", Kind::Name),
    ("last_name", Kind::Name),
    ("email", Kind::Email),
    ("phone", Kind::Phone),
    ("organization", Kind::Text(255)),
    ("title", Kind::Text(255)),
    ("department", Kind::Text(255)),
    ("do_not_call", Kind::Bool),
    ("linkedin_url", Kind::Url(200)),
    ("address_line", Kind::Text(255)),
    ("city", Kind::Text(255)),
    ("state", Kind::Text(255)),
    ("postcode", Kind::Text(64)),
    ("country", Kind::Choice(is_country)),
    ("description", Kind::Text(usize::MAX)),
    ("is_active", Kind::Bool),
];

/// A validated contact body: the columns to write, the `account` FK (`Some(None)` clears it) and
/// the relation lists present in it.
#[derive(Debug, Default)]
pub struct ContactInput {
    pub fields: Vec<(&'static str, Val)>,
    pub account: Option<Option<Uuid>>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

impl ContactInput {
    pub fn text(&self, col: &str) -> Option<&str> {
        self.fields.iter().find_map(|(c, v)| match v {
            Val::Text(Some(s)) if *c == col => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Validates a POST/PUT/PATCH body. `required`: the names are required (POST and PUT).
/// Unknown keys (`org`, `created_by`...) are ignored, as DRF.
pub fn validate(
    body: &Map<String, Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> ContactInput {
    let fields = fields::validate(body, FIELDS, errors);
    for name in ["first_name", "last_name"] {
        match fields.iter().find(|(c, _)| *c == name) {
            Some((_, Val::Text(None))) => errors.add(name, "This field may not be null."),
            None if required && !errors.has(name) => errors.add(name, "This field is required."),
            _ => {}
        }
    }
    let account = fields::fk(body, "account", errors);
    ContactInput {
        fields,
        account,
        assigned_to: id_list(body, "assigned_to", errors),
        teams: id_list(body, "teams", errors),
        tags: id_list(body, "tags", errors),
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct ContactMessage {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// ContactObj: upstream's ContactSerializer keys, with `tags` as TagObj and `created_by` as
/// UserMini (what the frontend reads), plus `updated_at`, `accounts` and the related counts.
#[derive(Serialize, ToSchema)]
pub struct ContactObj {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub organization: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub do_not_call: bool,
    pub linkedin_url: Option<String>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    /// `[TeamObj]`
    pub teams: Vec<Value>,
    /// `[TagObj]`
    pub tags: Vec<Value>,
    pub description: Option<String>,
    /// UserMini `{id, email, profile_pic}` or null.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub is_active: bool,
    /// `{id, name}`
    pub org: Value,
    /// The primary account's id (the `account` FK).
    pub account: Option<Uuid>,
    /// `[{id, name}]`: the accounts listing this contact.
    pub accounts: Vec<Value>,
    pub task_count: i64,
    pub opportunity_count: i64,
    pub case_count: i64,
    /// Events listing this contact.
    pub event_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ContactListResponse {
    pub per_page: i64,
    /// One-element array `[page]`, as upstream.
    pub page_number: Vec<i64>,
    pub count: i64,
    pub results: Vec<ContactObj>,
    pub contacts_count: i64,
    /// The next page's offset; null on the last page, 0 when the page is empty.
    pub offset: Option<i64>,
    pub contact_obj_list: Vec<ContactObj>,
    /// `[{id: profile id, user__email}]` of the org's active members.
    pub users: Vec<Value>,
    /// `[[code, name]]`
    pub countries: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactDetailResponse {
    pub contact_obj: ContactObj,
    /// `{address_line, city, state, postcode, country}`
    pub address_obj: Value,
    pub countries: Vec<Value>,
    /// `[CommentObj]`
    pub comments: Vec<Value>,
    /// `[AttachmentObj]`
    pub attachments: Vec<Value>,
    /// `[{id: user id, name: email}]` of the assignees.
    pub assigned_data: Vec<Value>,
    /// `[{id, title, status, priority, due_date}]` of the tasks listing this contact.
    pub tasks: Vec<Value>,
    /// `[{user__email}]`
    pub users_mention: Vec<Value>,
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/contacts/`, `PUT` and `PATCH /api/contacts/<id>/` (all optional in PATCH;
/// `first_name` and `last_name` required otherwise). Unknown keys are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ContactBody {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub organization: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub do_not_call: Option<bool>,
    pub linkedin_url: Option<String>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    /// ISO 3166 alpha-2 code.
    pub country: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    /// An account id of the org, or null to clear.
    pub account: Option<Uuid>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

/// Multipart body of `POST /api/contacts/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ContactDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub contact_attachment: Option<String>,
}
