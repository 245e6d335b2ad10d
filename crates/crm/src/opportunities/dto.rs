//! Request validation (upstream's `OpportunityCreateSerializer` and
//! `OpportunityLineItemCreateSerializer`, with their 500s turned into field errors) and the
//! response shapes, declared for the OpenAPI document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::choices::{OPPORTUNITY_SOURCES, OPPORTUNITY_TYPES, STAGES};
use crate::common::enums::is_currency;
use crate::db::sql::Val;
use crate::error::FieldErrors;
use crate::http::fields::{self, Kind, fk, id_list};

pub fn is_stage(v: &str) -> bool {
    STAGES.iter().any(|(s, _)| *s == v)
}
fn is_type(v: &str) -> bool {
    OPPORTUNITY_TYPES.iter().any(|(s, _)| *s == v)
}
fn is_source(v: &str) -> bool {
    OPPORTUNITY_SOURCES.iter().any(|(s, _)| *s == v)
}
fn is_discount_type(v: &str) -> bool {
    matches!(v, "PERCENTAGE" | "FIXED")
}

/// Writable columns of `opportunity`, in serializer order (`account` is read apart: an id
/// checked in the org). `amount` is numeric(12,2) and >= 0 (the DB's CHECK).
pub const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("stage", Kind::Choice(is_stage)),
    ("opportunity_type", Kind::Choice(is_type)),
    ("currency", Kind::Choice(is_currency)),
    ("amount", Kind::Amount),
    ("probability", Kind::Percent),
    ("closed_on", Kind::Date),
    ("lead_source", Kind::Choice(is_source)),
    ("description", Kind::Text(usize::MAX)),
    ("is_active", Kind::Bool),
];

/// A validated opportunity body: the columns to write, the `account` FK (`Some(None)` clears
/// it) and the relation lists present in it.
#[derive(Debug, Default)]
pub struct OpportunityInput {
    pub fields: Vec<(&'static str, Val)>,
    pub account: Option<Option<Uuid>>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
    pub contacts: Option<Vec<Uuid>>,
}

impl OpportunityInput {
    /// The body's value of a column, when it names it.
    pub fn get(&self, col: &str) -> Option<&Val> {
        self.fields.iter().find(|(c, _)| *c == col).map(|(_, v)| v)
    }

    /// Sets a column (replacing the body's value).
    pub fn set(&mut self, col: &'static str, v: Val) {
        self.fields.retain(|(c, _)| *c != col);
        self.fields.push((col, v));
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

/// Validates a POST/PUT/PATCH body. `name` is required unless `partial`; `stage` may be left
/// out but not null or blank. Unknown keys (`org`, `created_by`, `amount_source`...) are ignored.
pub fn validate(
    body: &Map<String, Value>,
    partial: bool,
    errors: &mut FieldErrors,
) -> OpportunityInput {
    if !partial && !body.contains_key("name") {
        errors.add("name", "This field is required.");
    }
    let input = OpportunityInput {
        fields: fields::validate(body, FIELDS, errors),
        account: fk(body, "account", errors),
        assigned_to: id_list(body, "assigned_to", errors),
        teams: id_list(body, "teams", errors),
        tags: id_list(body, "tags", errors),
        contacts: id_list(body, "contacts", errors),
    };
    match input.get("stage") {
        Some(Val::Text(None)) => errors.add("stage", "This field may not be null."),
        Some(Val::Text(Some(s))) if s.is_empty() => {
            errors.add("stage", "\"\" is not a valid choice.")
        }
        _ => {}
    }
    input
}

/// Writable columns of `opportunity_line_item` (`product_id` is read apart). Decimals are
/// >= 0: quantity numeric(10,2), prices numeric(12,2).
pub const LINE_ITEM_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text(255)),
    ("description", Kind::Text(500)),
    ("quantity", Kind::Money(8)),
    ("unit_price", Kind::Amount),
    ("discount_type", Kind::Choice(is_discount_type)),
    ("discount_value", Kind::Amount),
    ("order", Kind::Int(0, i32::MAX as i64)),
];

/// A validated line-item body: the columns present, and `product_id` (`Some(None)` clears it).
#[derive(Debug, Default)]
pub struct LineItemInput {
    pub fields: Vec<(&'static str, Val)>,
    pub product: Option<Option<Uuid>>,
}

impl LineItemInput {
    pub fn get(&self, col: &str) -> Option<&Val> {
        self.fields.iter().find(|(c, _)| *c == col).map(|(_, v)| v)
    }
}

/// Validates a line-item POST/PUT body (every key optional; PUT is always partial). The
/// columns are NOT NULL: `null` is refused; `""` is a blank name, description or discount type.
pub fn validate_line_item(body: &Map<String, Value>, errors: &mut FieldErrors) -> LineItemInput {
    let fields = fields::validate(body, LINE_ITEM_FIELDS, errors);
    for (col, v) in &fields {
        if body.get(*col).is_some_and(Value::is_null) {
            errors.add(col, "This field may not be null.");
        } else if matches!(v, Val::Num(None)) {
            errors.add(col, "A valid number is required.");
        } else if matches!(v, Val::Int(None)) {
            errors.add(col, "A valid integer is required.");
        }
    }
    LineItemInput {
        fields,
        product: fk(body, "product_id", errors)
            .or_else(|| fk(body, "product", &mut FieldErrors::new())),
    }
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// Body of `POST /api/opportunities/`, `PUT` and `PATCH /api/opportunities/<id>/` (all optional
/// in PATCH; `name` required otherwise). Unknown keys are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpportunityBody {
    pub name: Option<String>,
    /// Account id of the org, or null.
    pub account: Option<Uuid>,
    /// PROSPECTING, QUALIFICATION, PROPOSAL, NEGOTIATION, CLOSED_WON or CLOSED_LOST (default
    /// PROSPECTING). A closed stage needs `closed_on`; CLOSED_WON also a non-zero `amount`.
    pub stage: Option<String>,
    /// NEW_BUSINESS, EXISTING_BUSINESS, RENEWAL, UPSELL or CROSS_SELL.
    pub opportunity_type: Option<String>,
    pub currency: Option<String>,
    /// Decimal >= 0 with two places, as a number or a string.
    #[schema(value_type = Option<String>, example = "1000.50")]
    pub amount: Option<Value>,
    /// 0-100; 0 or null takes the stage's default.
    pub probability: Option<i32>,
    /// YYYY-MM-DD.
    pub closed_on: Option<String>,
    /// NONE, CALL, EMAIL, EXISTING CUSTOMER, PARTNER, PUBLIC RELATIONS, CAMPAIGN, WEBSITE, OTHER.
    pub lead_source: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    pub contacts: Option<Vec<Uuid>>,
    /// Profile ids (a member's user id is accepted too).
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub tags: Option<Vec<Uuid>>,
}

/// Body of `POST .../line-items/` and `PUT .../line-items/<id>/` (always partial).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = OpportunityLineItemBody)]
pub struct LineItemBody {
    /// Product of the org (its name and price fill a blank name and a zero price); null clears.
    pub product_id: Option<Uuid>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Decimal >= 0 (default 1).
    #[schema(value_type = Option<String>, example = "2")]
    pub quantity: Option<Value>,
    /// Decimal >= 0 (default 0).
    #[schema(value_type = Option<String>, example = "19.99")]
    pub unit_price: Option<Value>,
    /// `PERCENTAGE`, `FIXED` or `""` (a value without a type is a fixed discount).
    pub discount_type: Option<String>,
    /// Decimal >= 0; a percentage is at most 100, a fixed discount at most the subtotal.
    #[schema(value_type = Option<String>, example = "10")]
    pub discount_value: Option<Value>,
    pub order: Option<i32>,
}

/// Multipart body of `POST /api/opportunities/<id>/`: a comment and/or a file.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpportunityDetailForm {
    pub comment: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    pub opportunity_attachment: Option<String>,
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct OpportunityMessage {
    pub error: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct OpportunityCreated {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// ProductObj (the invoices module's product).
#[derive(Serialize, ToSchema)]
#[schema(as = OpportunityProductObj)]
pub struct ProductObj {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub sku: Option<String>,
    /// Decimal string.
    pub price: String,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// LineItemObj: decimals as strings with two places.
#[derive(Serialize, ToSchema)]
#[schema(as = OpportunityLineItemObj)]
pub struct LineItemObj {
    pub id: Uuid,
    pub product: Option<ProductObj>,
    pub name: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    /// `PERCENTAGE`, `FIXED` or `""`.
    pub discount_type: String,
    pub discount_value: String,
    pub discount_amount: String,
    pub subtotal: String,
    pub total: String,
    pub order: i32,
    /// `"<currency> 1,234.50"` (the opportunity's currency, USD when none).
    pub formatted_unit_price: String,
    pub formatted_total: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The opportunity's account: AccountObj's own columns (not its nested lists).
#[derive(Serialize, ToSchema)]
pub struct OpportunityAccount {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub currency: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub is_active: bool,
}

/// OpportunityObj: upstream's OpportunitySerializer keys, plus `updated_at`, `task_count` and
/// `event_count` (what the frontend reads).
#[derive(Serialize, ToSchema)]
pub struct OpportunityObj {
    pub id: Uuid,
    pub name: String,
    pub account: Option<OpportunityAccount>,
    pub stage: String,
    pub opportunity_type: Option<String>,
    pub currency: Option<String>,
    /// Decimal string with two places, or null.
    pub amount: Option<String>,
    /// `MANUAL` or `CALCULATED` (the sum of the line items).
    pub amount_source: String,
    pub probability: Option<i32>,
    pub closed_on: Option<String>,
    pub lead_source: Option<String>,
    /// ContactObj list.
    pub contacts: Vec<Value>,
    pub line_items: Vec<LineItemObj>,
    /// Sum of the line items' totals (a number; 0 when none).
    pub line_items_total: f64,
    /// ProfileObj list.
    pub assigned_to: Vec<Value>,
    /// TeamObj list.
    pub teams: Vec<Value>,
    /// ProfileObj of who moved it to a closed stage, or null.
    pub closed_by: Option<Value>,
    /// TagObj list.
    pub tags: Vec<Value>,
    pub description: Option<String>,
    /// UserMini `{id, email, profile_pic}`.
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub is_active: bool,
    /// `{id, name}` (upstream also sent the org's API key; not here).
    pub org: Value,
    /// `"4\u{a0}minutes ago"`.
    pub created_on_arrow: String,
    /// Tasks linked to the opportunity.
    pub task_count: i64,
    pub event_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OpportunityListResponse {
    pub per_page: i64,
    /// One-element array `[page]`, as upstream.
    pub page_number: Vec<i64>,
    pub opportunities_count: i64,
    /// Next offset; null on the last page; 0 for an empty page.
    pub offset: Option<i64>,
    pub opportunities: Vec<OpportunityObj>,
    /// `[{id, name}]` of the accounts the caller may see (newest 1000).
    pub accounts_list: Vec<Value>,
    /// `[{id, first_name, last_name, email}]` of the contacts the caller may see (newest 1000).
    pub contacts_list: Vec<Value>,
    /// Active tags (TagObj).
    pub tags: Vec<Value>,
    /// `[[value, label]]`
    pub stage: Vec<Value>,
    pub lead_source: Vec<Value>,
    pub currency: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct OpportunityDetailResponse {
    pub opportunity_obj: OpportunityObj,
    /// CommentObj list.
    pub comments: Vec<Value>,
    /// AttachmentObj list.
    pub attachments: Vec<Value>,
    /// ContactObj list (this opportunity's).
    pub contacts: Vec<Value>,
    /// ProfileObj list of active members.
    pub users: Vec<Value>,
    pub stage: Vec<Value>,
    pub lead_source: Vec<Value>,
    pub currency: Vec<Value>,
    pub comment_permission: bool,
    /// `[{user__email}]`
    pub users_mention: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct LineItemListResponse {
    pub line_items: Vec<LineItemObj>,
    /// Active products of the org, by name.
    pub products: Vec<ProductObj>,
    /// A number, or null.
    pub opportunity_amount: Option<f64>,
    pub opportunity_amount_source: String,
}

#[derive(Serialize, ToSchema)]
pub struct LineItemWritten {
    pub error: bool,
    pub message: String,
    pub line_item: LineItemObj,
    /// The opportunity's amount after the change (a number).
    pub opportunity_amount: f64,
}

#[derive(Serialize, ToSchema)]
pub struct LineItemDeleted {
    pub error: bool,
    pub message: String,
    pub opportunity_amount: f64,
}

/// `{"error": true, "message": "..."}` (line items' 403 and 404).
#[derive(Serialize, ToSchema)]
pub struct LineItemError {
    pub error: bool,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_like_the_serializer() {
        let body = json!({
            "name": "", "stage": "WON", "opportunity_type": "X", "currency": "XXX", "amount": "-1",
            "probability": 101, "closed_on": "tomorrow", "lead_source": "call", "account": "x",
            "tags": ["x"], "contacts": [], "org": "ignored"
        });
        let mut e = FieldErrors::new();
        let input = validate(body.as_object().unwrap(), false, &mut e);
        for f in [
            "name",
            "stage",
            "opportunity_type",
            "currency",
            "amount",
            "probability",
            "closed_on",
            "lead_source",
            "account",
            "tags",
        ] {
            assert!(e.has(f), "{f}");
        }
        assert_eq!(input.contacts, Some(vec![]));
        let mut e = FieldErrors::new();
        validate(json!({"stage": null}).as_object().unwrap(), true, &mut e);
        assert!(e.has("stage"));
        let mut e = FieldErrors::new();
        validate(json!({}).as_object().unwrap(), false, &mut e);
        assert!(e.has("name"));
    }

    #[test]
    fn line_item_rules() {
        let mut e = FieldErrors::new();
        let li = validate_line_item(
            json!({"name": "", "discount_type": "", "quantity": 2, "unit_price": "19.99", "product_id": null})
                .as_object()
                .unwrap(),
            &mut e,
        );
        assert!(e.is_empty(), "{:?}", e.to_value());
        assert_eq!(li.product, Some(None));
        let mut e = FieldErrors::new();
        validate_line_item(
            json!({"quantity": null, "unit_price": "-1", "discount_type": "percent", "order": -1})
                .as_object()
                .unwrap(),
            &mut e,
        );
        for f in ["quantity", "unit_price", "discount_type", "order"] {
            assert!(e.has(f), "{f}");
        }
    }
}
