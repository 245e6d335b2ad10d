//! Request validation (upstream's `LeadCreateSerializer`, with its 500s turned into field errors)
//! and the response shapes, declared for the OpenAPI document.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::choices::INDUSTRIES;
use crate::common::enums::{is_country, is_currency};
use crate::error::{ApiError, FieldErrors};

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

/// A validated value for one `lead` column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i32>),
    /// Decimal as canonical text, cast to numeric in SQL.
    Num(Option<String>),
    Date(Option<NaiveDate>),
    Bool(bool),
}

#[derive(Clone, Copy)]
enum Kind {
    Text(usize),
    /// May be null or absent, but not blank.
    Name,
    Email,
    Phone,
    Url(usize),
    Choice(fn(&str) -> bool),
    Amount,
    Probability,
    Date,
    Bool,
}

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
    ("probability", Kind::Probability),
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
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        json!({"error": true, "errors": errors.to_value()}),
    )
}

/// Validates a POST/PUT/PATCH body. Unknown keys (`org`, `created_by`...) are ignored, as DRF.
pub fn validate(body: &Map<String, Value>, errors: &mut FieldErrors) -> LeadInput {
    let mut input = LeadInput::default();
    for (name, kind) in FIELDS {
        if let Some(raw) = body.get(*name) {
            match validate_value(*kind, raw) {
                Ok(v) => input.fields.push((name, v)),
                Err(msg) => errors.add(name, msg),
            }
        }
    }
    input.assigned_to = id_list(body, "assigned_to", errors);
    input.teams = id_list(body, "teams", errors);
    input.tags = id_list(body, "tags", errors);
    input.contacts = id_list(body, "contacts", errors);
    input
}

fn as_text(raw: &Value) -> Result<Option<String>, String> {
    match raw {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err("Not a valid string.".into()),
    }
}

fn too_long(s: &str, max: usize) -> Option<String> {
    (s.chars().count() > max)
        .then(|| format!("Ensure this field has no more than {max} characters."))
}

fn validate_value(kind: Kind, raw: &Value) -> Result<Val, String> {
    match kind {
        Kind::Bool => match raw {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            Value::Null => Err("This field may not be null.".into()),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Val::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Val::Bool(false)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Val::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Val::Bool(false)),
                _ => Err("Must be a valid boolean.".into()),
            },
            _ => Err("Must be a valid boolean.".into()),
        },
        Kind::Amount => {
            let Some(s) = as_text(raw).map_err(|_| "A valid number is required.")? else {
                return Ok(Val::Num(None));
            };
            if s.is_empty() {
                return Ok(Val::Num(None));
            }
            parse_amount(&s).map(|v| Val::Num(Some(v)))
        }
        Kind::Probability => {
            let n = match raw {
                Value::Null => return Ok(Val::Int(None)),
                Value::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Value::String(s) if s.trim().is_empty() => return Ok(Val::Int(None)),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or("A valid integer is required.")?;
            if n > 100 {
                Err("Ensure this value is less than or equal to 100.".into())
            } else if n < 0 {
                Err("Ensure this value is greater than or equal to 0.".into())
            } else {
                Ok(Val::Int(Some(n as i32)))
            }
        }
        Kind::Date => {
            let Some(s) = as_text(raw)? else {
                return Ok(Val::Date(None));
            };
            if s.is_empty() {
                return Ok(Val::Date(None));
            }
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(|d| Val::Date(Some(d)))
                .map_err(|_| {
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".into()
                })
        }
        _ => {
            let Some(s) = as_text(raw)? else {
                return Ok(Val::Text(None));
            };
            let ok = |s: String| Ok(Val::Text(Some(s)));
            match kind {
                Kind::Text(max) => too_long(&s, max).map_or_else(|| ok(s), Err),
                Kind::Name if s.is_empty() => Err("This field may not be blank.".into()),
                Kind::Name => too_long(&s, 255).map_or_else(|| ok(s), Err),
                Kind::Email if s.is_empty() => ok(s),
                Kind::Email if s.len() > 254 || !crate::auth::service::is_valid_email(&s) => {
                    Err("Enter a valid email address.".into())
                }
                Kind::Email => ok(s),
                Kind::Phone if s.is_empty() => ok(s),
                Kind::Phone => {
                    let n = s.chars().count();
                    if (7..=25).contains(&n)
                        && s.chars()
                            .all(|c| c.is_ascii_digit() || " -()+.".contains(c))
                    {
                        ok(s)
                    } else {
                        Err("Enter a valid phone number (7-25 characters, digits and separators only)".into())
                    }
                }
                Kind::Url(max) if s.is_empty() => too_long(&s, max).map_or_else(|| ok(s), Err),
                Kind::Url(max) => {
                    if let Some(e) = too_long(&s, max) {
                        return Err(e);
                    }
                    let valid = url::Url::parse(&s).is_ok_and(|u| {
                        matches!(u.scheme(), "http" | "https" | "ftp" | "ftps")
                            && u.host().is_some()
                    });
                    if valid {
                        ok(s)
                    } else {
                        Err("Enter a valid URL.".into())
                    }
                }
                Kind::Choice(_) if s.is_empty() => ok(s),
                Kind::Choice(valid) if valid(&s) => ok(s),
                Kind::Choice(_) => Err(format!("\"{s}\" is not a valid choice.")),
                _ => unreachable!("non-text kinds handled above"),
            }
        }
    }
}

/// DRF DecimalField(max_digits=12, decimal_places=2), plus the DB's `>= 0` rule.
fn parse_amount(s: &str) -> Result<String, String> {
    let invalid = || "A valid number is required.".to_string();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid());
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if neg && !(int.is_empty() && frac.is_empty()) {
        return Err("Ensure this value is greater than or equal to 0.".into());
    }
    if frac.len() > 2 {
        return Err("Ensure that there are no more than 2 decimal places.".into());
    }
    if int.len() > 10 {
        return Err(
            "Ensure that there are no more than 10 digits before the decimal point.".into(),
        );
    }
    Ok(format!(
        "{}.{frac:0<2}",
        if int.is_empty() { "0" } else { int }
    ))
}

/// A relation list: a JSON array of UUID strings, a JSON-encoded array in a string (form and
/// multipart bodies), or one UUID. `null` and `""` mean an empty list.
fn id_list(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<Vec<Uuid>> {
    let raw = body.get(key)?;
    let items: Vec<Value> = match raw {
        Value::Null => vec![],
        Value::Array(a) => a.clone(),
        Value::String(s) if s.trim().is_empty() => vec![],
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<Value>>(s) {
                Ok(a) => a,
                Err(_) => {
                    errors.add(key, "Expected a list of items.");
                    return None;
                }
            }
        }
        Value::String(_) => vec![raw.clone()],
        _ => {
            errors.add(
                key,
                format!(
                    "Expected a list of items but got type \"{}\".",
                    type_name(raw)
                ),
            );
            return None;
        }
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str().map(|s| Uuid::parse_str(s.trim())) {
            Some(Ok(id)) => {
                if !ids.contains(&id) {
                    ids.push(id)
                }
            }
            _ => {
                let shown = item
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or(item.to_string());
                errors.add(key, format!("“{shown}” is not a valid UUID."));
                return None;
            }
        }
    }
    Some(ids)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Object(_) => "dict",
        _ => "str",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1234.5").unwrap(), "1234.50");
        assert_eq!(parse_amount("007").unwrap(), "7.00");
        assert_eq!(parse_amount(".5").unwrap(), "0.50");
        assert_eq!(parse_amount("-0").unwrap(), "0.00");
        assert!(
            parse_amount("-5")
                .unwrap_err()
                .contains("greater than or equal to 0")
        );
        assert!(
            parse_amount("1.234")
                .unwrap_err()
                .contains("2 decimal places")
        );
        assert!(
            parse_amount("12345678901")
                .unwrap_err()
                .contains("10 digits")
        );
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount(".").is_err());
    }

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
