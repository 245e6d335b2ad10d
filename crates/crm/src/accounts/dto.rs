//! Request validation (upstream's `AccountCreateSerializer` and `EmailSerializer`, with their
//! 500s turned into field errors) and the response shapes, declared for the OpenAPI document.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::choices::INDUSTRIES;
use crate::common::enums::{is_country, is_currency};
use crate::db::sql::Val;
use crate::error::{ApiError, FieldErrors};
use crate::http::fields::{self, Kind};

fn is_industry(v: &str) -> bool {
    INDUSTRIES.contains(&v)
}

/// Writable columns of `accounts`, in serializer order.
pub const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("email", Kind::Email),
    ("phone", Kind::Phone),
    ("website", Kind::Website(200)),
    ("industry", Kind::Choice(is_industry)),
    ("number_of_employees", Kind::Int(0, i32::MAX as i64)),
    // numeric(15,2)
    ("annual_revenue", Kind::Money(13)),
    ("currency", Kind::Choice(is_currency)),
    ("address_line", Kind::Text(255)),
    ("city", Kind::Text(255)),
    ("state", Kind::Text(255)),
    ("postcode", Kind::Text(64)),
    ("country", Kind::Choice(is_country)),
    ("description", Kind::Text(usize::MAX)),
    ("is_active", Kind::Bool),
];

/// A validated account body: the columns to write and the relation lists present in it.
#[derive(Debug, Default)]
pub struct AccountInput {
    pub fields: Vec<(&'static str, Val)>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
}

impl AccountInput {
    pub fn name(&self) -> Option<&str> {
        fields::text(&self.fields, "name")
    }

    /// PUT replaces every relation list: an absent one is emptied.
    pub fn replace_all_lists(&mut self) {
        for list in [
            &mut self.assigned_to,
            &mut self.teams,
            &mut self.tags,
            &mut self.contacts,
        ] {
            list.get_or_insert_with(Vec::new);
        }
    }
}

/// Upstream's account error envelope.
pub fn account_errors(errors: FieldErrors) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        json!({"error": true, "errors": errors.to_value()}),
    )
}

/// Validates a POST/PUT/PATCH body. `name` is required unless `partial`. Unknown keys are
/// ignored. `tags` are ids, as the frontend sends them (upstream's POST took names).
pub fn validate(
    body: &Map<String, Value>,
    partial: bool,
    errors: &mut FieldErrors,
) -> AccountInput {
    if !partial && !body.contains_key("name") {
        errors.add("name", "This field is required.");
    }
    AccountInput {
        fields: fields::validate(body, FIELDS, errors),
        assigned_to: fields::id_list(body, "assigned_to", errors),
        teams: fields::id_list(body, "teams", errors),
        tags: fields::id_list(body, "tags", errors),
        contacts: fields::id_list(body, "contacts", errors),
    }
}

/// A validated `create_mail` body.
#[derive(Debug)]
pub struct MailInput {
    pub from_email: String,
    pub recipients: Vec<Uuid>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub timezone: String,
    pub scheduled_later: bool,
    /// As sent: an ISO date-time, with or without an offset (without: in `timezone`).
    pub scheduled_date_time: Option<String>,
}

pub use crate::mail::templates::braces_balanced;

pub fn validate_mail(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<MailInput> {
    const RULES: &[(&str, Kind)] = &[
        ("from_email", Kind::Email),
        ("message_subject", Kind::Text(usize::MAX)),
        ("message_body", Kind::Text(usize::MAX)),
        ("timezone", Kind::Text(100)),
        ("scheduled_later", Kind::Bool),
        ("scheduled_date_time", Kind::Text(64)),
    ];
    for key in ["from_email", "recipients"] {
        if !body.contains_key(key) {
            errors.add(key, "This field is required.");
        }
    }
    let vals = fields::validate(body, RULES, errors);
    let text = |k: &str| {
        fields::text(&vals, k)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let from_email = text("from_email");
    if body.contains_key("from_email") && from_email.is_none() && !errors.has("from_email") {
        errors.add("from_email", "This field may not be blank.");
    }
    let recipients = fields::id_list(body, "recipients", errors);
    if recipients.as_ref().is_some_and(Vec::is_empty) {
        errors.add("recipients", "Please enter valid recipient");
    }
    let message_body = text("message_body");
    if message_body.as_deref().is_some_and(|b| !braces_balanced(b)) {
        errors.add("message_body", "Brackets do not match, Enter valid tags.");
    }
    let scheduled_later = vals
        .iter()
        .any(|(c, v)| *c == "scheduled_later" && *v == Val::Bool(true));
    let scheduled_date_time = text("scheduled_date_time");
    if scheduled_later && scheduled_date_time.is_none() {
        errors.add("scheduled_date_time", "This field is required.");
    }
    Some(MailInput {
        from_email: from_email?,
        recipients: recipients?,
        subject: text("message_subject"),
        body: message_body,
        timezone: text("timezone").unwrap_or_else(|| "UTC".into()),
        scheduled_later,
        scheduled_date_time: scheduled_date_time.filter(|_| scheduled_later),
    })
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// AccountObj: upstream's AccountSerializer keys, plus `updated_at`.
#[derive(Serialize, ToSchema)]
pub struct AccountObj {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub number_of_employees: Option<i32>,
    /// Decimal string with two places.
    pub annual_revenue: Option<String>,
    pub currency: Option<String>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    /// The country's name, or null.
    pub country_display: Option<String>,
    /// ProfileObj list.
    pub assigned_to: Vec<Value>,
    /// TeamObj list.
    pub teams: Vec<Value>,
    /// ContactObj list (the account's linked contacts).
    pub contacts: Vec<Value>,
    /// TagObj list.
    pub tags: Vec<Value>,
    pub description: Option<String>,
    /// `[{id, name}]`
    pub cases: Vec<Value>,
    /// `[{id, title}]`
    pub tasks: Vec<Value>,
    /// `[{id, name, stage, amount}]` (amount a decimal string, `"0"` when none)
    pub opportunities: Vec<Value>,
    /// UserMini `{id, email, profile_pic}`.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub is_active: bool,
    /// `{id, name}` (upstream also sent the org's API key; not here).
    pub org: Value,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActiveAccounts {
    /// Next offset; null on the last page; 0 for an empty page.
    pub offset: Option<i64>,
    pub open_accounts: Vec<AccountObj>,
    pub open_accounts_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ClosedAccounts {
    pub offset: Option<i64>,
    pub close_accounts: Vec<AccountObj>,
    pub close_accounts_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AccountListResponse {
    pub per_page: i64,
    /// One-element array `[page]`, as upstream.
    pub page_number: Vec<i64>,
    pub active_accounts: ActiveAccounts,
    /// `[{id, first_name}]` of the org's contacts (newest 1000).
    pub contacts: Vec<Value>,
    pub closed_accounts: ClosedAccounts,
    /// TeamObj list.
    pub teams: Vec<Value>,
    /// `[[code, name]]`
    pub countries: Vec<Value>,
    /// `[[value, label]]`
    pub industries: Vec<Value>,
    /// Active tags (TagObj).
    pub tags: Vec<Value>,
    /// `[{id: profile id, user__email}]` of active members.
    pub users: Vec<Value>,
    /// `[{id, title, first_name, last_name, email, company_name, status}]`: the newest 100
    /// open leads the caller can see (upstream: every open lead of the org, as full objects).
    pub leads: Vec<Value>,
    /// `["active", "inactive"]`
    pub status: Vec<String>,
}

/// An e-mail sent from the account (`create_mail`).
#[derive(Serialize, ToSchema)]
pub struct EmailObj {
    pub id: Uuid,
    pub message_subject: Option<String>,
    pub message_body: Option<String>,
    pub timezone: String,
    pub scheduled_date_time: Option<String>,
    pub scheduled_later: bool,
    pub created_at: String,
    pub from_email: String,
    pub rendered_message_body: Option<String>,
    /// `[{contact: {id, first_name, last_name, email}, is_sent}]`, one per recipient.
    pub recipients: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountDetailResponse {
    pub account_obj: AccountObj,
    /// AttachmentObj list.
    pub attachments: Vec<Value>,
    /// CommentObj list.
    pub comments: Vec<Value>,
    /// ContactObj list (the account's linked contacts).
    pub contacts: Vec<Value>,
    /// Opportunities of the account.
    pub opportunity_list: Vec<Value>,
    /// ProfileObj list of active members.
    pub users: Vec<Value>,
    pub cases: Vec<Value>,
    pub teams: Vec<Value>,
    pub stages: Vec<Value>,
    pub sources: Vec<Value>,
    pub countries: Vec<Value>,
    pub currencies: Vec<Value>,
    pub case_types: Vec<Value>,
    pub case_priority: Vec<Value>,
    pub case_status: Vec<Value>,
    pub comment_permission: bool,
    pub tasks: Vec<Value>,
    pub invoices: Vec<Value>,
    pub emails: Vec<EmailObj>,
    /// `[{user__email}]`
    pub users_mention: Vec<Value>,
    pub leads: Vec<Value>,
    /// `["open", "close"]`
    pub status: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_the_serializer() {
        let body = json!({
            "name": "", "email": "nope", "website": "not a url", "industry": "MAGIC",
            "number_of_employees": -1, "annual_revenue": "-5", "currency": "XXX", "country": "ZZ",
            "tags": ["x"], "contacts": [], "org": "ignored"
        });
        let mut e = FieldErrors::new();
        let input = validate(body.as_object().unwrap(), false, &mut e);
        for f in [
            "name",
            "email",
            "website",
            "industry",
            "number_of_employees",
            "annual_revenue",
            "currency",
            "country",
            "tags",
        ] {
            assert!(e.has(f), "{f}");
        }
        assert_eq!(input.contacts, Some(vec![]));
        let mut e = FieldErrors::new();
        validate(json!({}).as_object().unwrap(), false, &mut e);
        assert!(e.has("name"));
        let mut e = FieldErrors::new();
        validate(
            json!({"is_active": false}).as_object().unwrap(),
            true,
            &mut e,
        );
        assert!(e.is_empty());
    }

    #[test]
    fn braces() {
        assert!(braces_balanced("Hi {{ first_name }}!"));
        assert!(!braces_balanced("Hi {{ first_name }!"));
        assert!(!braces_balanced("}{"));
        assert!(braces_balanced("no tags"));
    }

    #[test]
    fn mail_rules() {
        let mut e = FieldErrors::new();
        let m = validate_mail(
            json!({"from_email": "a@b.co", "recipients": [Uuid::nil()], "message_body": "x {",
                   "scheduled_later": true})
            .as_object()
            .unwrap(),
            &mut e,
        );
        assert!(e.has("message_body") && e.has("scheduled_date_time"));
        assert!(m.is_some());
        let mut e = FieldErrors::new();
        assert!(validate_mail(json!({}).as_object().unwrap(), &mut e).is_none());
        assert!(e.has("from_email") && e.has("recipients"));
    }
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/accounts/`, `PUT` and `PATCH /api/accounts/<id>/` (all optional in PATCH;
/// `name` required otherwise). Unknown keys are ignored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct AccountBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub number_of_employees: Option<i32>,
    /// Decimal, as a number or a string.
    #[schema(value_type = Option<String>, example = "250000.00")]
    pub annual_revenue: Option<Value>,
    pub currency: Option<String>,
    pub address_line: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postcode: Option<String>,
    /// ISO 3166 alpha-2 code.
    pub country: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
}

/// Body of `POST /api/accounts/<id>/create_mail/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct MailBody {
    pub from_email: String,
    /// Contact ids of the org.
    pub recipients: Vec<Uuid>,
    pub message_subject: Option<String>,
    /// HTML; `{{first_name}}`-style placeholders are filled per recipient; braces must balance.
    pub message_body: Option<String>,
    /// IANA name, default UTC.
    pub timezone: Option<String>,
    pub scheduled_later: Option<bool>,
    /// ISO date-time; without an offset it is read in `timezone`.
    pub scheduled_date_time: Option<String>,
}

/// Multipart body of `POST /api/accounts/<id>/`: a comment and/or a file.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct AccountDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub account_attachment: Option<String>,
}
