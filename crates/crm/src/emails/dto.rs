//! Request validation of the e-mails module and its response shapes (OpenAPI).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{Draft, RECORD_TYPES};
use crate::auth::email::is_valid_email;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind};

/// At most this many addresses in To, Cc and Bcc together.
pub const MAX_RECIPIENTS: usize = 50;
pub const MAX_SUBJECT: usize = 998;

/// A validated e-mail body (ids still to be checked against the org).
#[derive(Debug, Default)]
pub struct EmailInput {
    pub draft: Draft,
    /// `to` was given (else: the record's addresses).
    pub to_given: bool,
    pub save_as_draft: bool,
}

fn addresses(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Vec<String> {
    let items: Vec<String> = match body.get(key) {
        None | Some(Value::Null) => return vec![],
        Some(Value::String(s)) => s
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for v in a {
                match v.as_str() {
                    Some(s) => out.push(s.trim().to_string()),
                    None => {
                        errors.add(key, "Expected a list of e-mail addresses.");
                        return vec![];
                    }
                }
            }
            out
        }
        Some(_) => {
            errors.add(key, "Expected a list of e-mail addresses.");
            return vec![];
        }
    };
    for a in &items {
        if !is_valid_email(a) {
            errors.add(key, format!("\"{a}\" is not a valid e-mail address."));
        }
    }
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|a| seen.insert(a.to_lowercase()))
        .collect()
}

fn opt_id(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<Uuid> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => match v.as_str().map(|s| Uuid::parse_str(s.trim())) {
            Some(Ok(id)) => Some(id),
            _ => {
                errors.add(key, "Must be a valid UUID.");
                None
            }
        },
    }
}

/// An ISO date-time: with an offset, or without one (read as UTC).
pub fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw.trim(), f).ok())
    .map(|n| n.and_utc())
}

/// Validates a whole e-mail body (a PATCH is merged onto the draft first).
pub fn validate(body: &Map<String, Value>, errors: &mut FieldErrors) -> EmailInput {
    const RULES: &[(&str, Kind)] = &[
        ("record_type", Kind::Text(20)),
        ("from_email", Kind::Email),
        ("subject", Kind::Text(MAX_SUBJECT)),
        ("body", Kind::Text(200_000)),
        ("draft", Kind::Bool),
        ("scheduled_at", Kind::Text(64)),
    ];
    let vals = fields::validate(body, RULES, errors);
    let text = |k: &str| fields::text(&vals, k).map(str::to_string);
    let record_type = text("record_type").unwrap_or_default();
    if !errors.has("record_type") {
        if record_type.is_empty() {
            errors.add("record_type", "This field is required.");
        } else if !RECORD_TYPES.contains(&record_type.as_str()) {
            errors.add(
                "record_type",
                format!("\"{record_type}\" is not a valid choice (lead, contact, account, opportunity, case)."),
            );
        }
    }
    let record_id = opt_id(body, "record_id", errors);
    if record_id.is_none() && !errors.has("record_id") {
        errors.add("record_id", "This field is required.");
    }
    let to = addresses(body, "to", errors);
    let cc = addresses(body, "cc", errors);
    let bcc = addresses(body, "bcc", errors);
    if to.len() + cc.len() + bcc.len() > MAX_RECIPIENTS {
        errors.add(
            "to",
            format!("At most {MAX_RECIPIENTS} recipients (to, cc and bcc together)."),
        );
    }
    let body_text = text("body").unwrap_or_default();
    if !crate::mail::templates::braces_balanced(&body_text) {
        errors.add("body", "Brackets do not match, Enter valid tags.");
    }
    let scheduled_at = match text("scheduled_at").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => match parse_datetime(&raw) {
            Some(at) if at > Utc::now() => Some(at),
            Some(_) => {
                errors.add("scheduled_at", "Must be in the future.");
                None
            }
            None => {
                errors.add(
                    "scheduled_at",
                    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                );
                None
            }
        },
    };
    let save_as_draft = vals
        .iter()
        .any(|(c, v)| *c == "draft" && *v == crate::db::sql::Val::Bool(true));
    EmailInput {
        to_given: !to.is_empty(),
        save_as_draft,
        draft: Draft {
            record_type,
            record_id: record_id.unwrap_or_default(),
            from_email: text("from_email").unwrap_or_default(),
            to,
            cc,
            bcc,
            subject: text("subject").unwrap_or_default(),
            body: body_text,
            template: opt_id(body, "template", errors),
            in_reply_to: opt_id(body, "in_reply_to", errors),
            scheduled_at,
            context: None,
            account_email_log_id: None,
        },
    }
}

/// A validated template body.
pub struct TemplateInput {
    pub name: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub is_shared: Option<bool>,
}

pub fn validate_template(
    body: &Map<String, Value>,
    partial: bool,
    errors: &mut FieldErrors,
) -> TemplateInput {
    const RULES: &[(&str, Kind)] = &[
        ("name", Kind::Required(255)),
        ("subject", Kind::Text(MAX_SUBJECT)),
        ("body", Kind::Text(200_000)),
        ("is_shared", Kind::Bool),
    ];
    if !partial && !body.contains_key("name") {
        errors.add("name", "This field is required.");
    }
    let vals = fields::validate(body, RULES, errors);
    let text = |k: &str| {
        vals.iter().find_map(|(c, v)| match v {
            crate::db::sql::Val::Text(s) if *c == k => Some(s.clone().unwrap_or_default()),
            _ => None,
        })
    };
    let input = TemplateInput {
        name: text("name"),
        subject: text("subject"),
        body: text("body"),
        is_shared: vals.iter().find_map(|(c, v)| match v {
            crate::db::sql::Val::Bool(b) if *c == "is_shared" => Some(*b),
            _ => None,
        }),
    };
    for (key, v) in [("subject", &input.subject), ("body", &input.body)] {
        if let Some(src) = v {
            if !crate::mail::templates::braces_balanced(src) {
                errors.add(key, "Brackets do not match, Enter valid tags.");
            } else if let Err(e) =
                crate::mail::templates::render_message(src, src, &serde_json::json!({}))
            {
                errors.add(key, format!("{e:#}"));
            }
        }
    }
    input
}

// ---- Shapes for the OpenAPI document ----

/// Body of `POST /api/emails/` and of a draft's `PUT`/`PATCH`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct EmailBody {
    /// `lead`, `contact`, `account`, `opportunity` or `case`.
    pub record_type: String,
    /// The record, in the caller's org.
    pub record_id: Uuid,
    /// Reply-To of the message; default: the sender's e-mail.
    pub from_email: Option<String>,
    /// Default: the record's addresses (an opportunity's or case's: its contacts').
    pub to: Option<Vec<String>>,
    pub cc: Option<Vec<String>>,
    pub bcc: Option<Vec<String>>,
    /// A template; `{{ first_name }}`-style placeholders take the record's fields.
    pub subject: Option<String>,
    /// HTML template; placeholder values are HTML-escaped.
    pub body: Option<String>,
    /// An org template (shared or the caller's): fills a subject/body left empty.
    pub template: Option<Uuid>,
    /// An e-mail of the same record this one answers (joins its thread).
    pub in_reply_to: Option<Uuid>,
    /// ISO date-time in the future (no offset: UTC); default: now.
    pub scheduled_at: Option<String>,
    /// Save as a draft instead of sending.
    pub draft: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSender {
    pub id: Uuid,
    pub email: String,
}

/// One e-mail of the history, with the full message as sent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrmEmailObj)]
pub struct EmailObj {
    pub id: Uuid,
    pub record_type: String,
    pub record_id: Uuid,
    pub thread_id: Uuid,
    pub in_reply_to: Option<Uuid>,
    pub from_email: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub template: Option<Uuid>,
    /// `draft`, `queued`, `sent`, `failed` (see `error`) or `bounced`.
    pub status: String,
    pub error: Option<String>,
    pub scheduled_at: Option<String>,
    pub sent_at: Option<String>,
    pub message_id: Option<String>,
    pub rendered_subject: Option<String>,
    pub rendered_html: Option<String>,
    pub rendered_text: Option<String>,
    pub created_by: Option<EmailSender>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailListResponse {
    pub count: i64,
    pub results: Vec<EmailObj>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailThread {
    pub thread_id: Uuid,
    pub count: i64,
    /// Oldest first.
    pub results: Vec<EmailObj>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSaved {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailMessage {
    pub error: bool,
    pub message: String,
}

/// Body of `POST /api/emails/templates/`, `PUT`/`PATCH /api/emails/templates/<id>/`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct TemplateBody {
    pub name: String,
    pub subject: Option<String>,
    /// HTML with `{{ first_name }}`-style placeholders.
    pub body: Option<String>,
    /// Shared with the org (admins only); else personal.
    pub is_shared: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateObj {
    pub id: Uuid,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub is_shared: bool,
    pub created_by: Option<EmailSender>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateListResponse {
    pub count: i64,
    pub results: Vec<TemplateObj>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSaved {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}
