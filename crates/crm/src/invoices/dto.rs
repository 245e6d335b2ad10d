//! Request validation (invoices, line items, payments) with DRF-worded field errors, and the
//! response shapes for the OpenAPI document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::money::{self, DiscountType, LineIn};
use super::service::{Line, is_invoice_status};
use crate::common::enums::{is_country, is_currency};
use crate::db::sql::Val;
use crate::error::{ApiError, FieldErrors};
use crate::http::fields::{self, Kind, id_list};

pub const PAYMENT_TERMS: &[&str] = &[
    "DUE_ON_RECEIPT",
    "NET_15",
    "NET_30",
    "NET_45",
    "NET_60",
    "CUSTOM",
];
pub const PAYMENT_METHODS: &[&str] = &[
    "CASH",
    "CHECK",
    "CREDIT_CARD",
    "BANK_TRANSFER",
    "PAYPAL",
    "STRIPE",
    "OTHER",
];
pub const REMINDER_FREQUENCIES: &[&str] = &["ONCE", "WEEKLY", "CUSTOM"];

fn is_terms(s: &str) -> bool {
    PAYMENT_TERMS.contains(&s)
}
fn is_method(s: &str) -> bool {
    PAYMENT_METHODS.contains(&s)
}
fn is_reminder(s: &str) -> bool {
    REMINDER_FREQUENCIES.contains(&s)
}

/// Days a payment term adds to the issue date (CUSTOM: 30, as upstream).
pub fn term_days(terms: &str) -> i64 {
    match terms {
        "DUE_ON_RECEIPT" => 0,
        "NET_15" => 15,
        "NET_45" => 45,
        "NET_60" => 60,
        _ => 30,
    }
}

/// Writable invoice columns (NOT NULL text columns get `""` for null).
const FIELDS: &[(&str, Kind)] = &[
    ("invoice_title", Kind::Text(100)),
    ("client_name", Kind::Text(255)),
    ("client_email", Kind::Email),
    ("client_phone", Kind::Text(25)),
    ("billing_address_line", Kind::Text(255)),
    ("billing_city", Kind::Text(100)),
    ("billing_state", Kind::Text(100)),
    ("billing_postcode", Kind::Text(20)),
    ("billing_country", Kind::Choice(is_country)),
    ("client_address_line", Kind::Text(255)),
    ("client_city", Kind::Text(100)),
    ("client_state", Kind::Text(100)),
    ("client_postcode", Kind::Text(20)),
    ("client_country", Kind::Choice(is_country)),
    ("discount_value", Kind::Money(10)),
    ("tax_rate", Kind::Money(3)),
    ("shipping_amount", Kind::Money(10)),
    ("currency", Kind::Choice(is_currency)),
    ("issue_date", Kind::Date),
    ("due_date", Kind::Date),
    ("payment_terms", Kind::Choice(is_terms)),
    ("reminder_enabled", Kind::Bool),
    ("reminder_days_before", Kind::Int(0, 365)),
    ("reminder_days_after", Kind::Int(0, 365)),
    ("reminder_frequency", Kind::Choice(is_reminder)),
    ("public_link_enabled", Kind::Bool),
    ("notes", Kind::Text(usize::MAX)),
    ("terms", Kind::Text(usize::MAX)),
    ("billing_period", Kind::Text(100)),
    ("po_number", Kind::Text(100)),
];

/// Columns that may hold NULL (all other text columns store `""` for null).
const NULLABLE: &[&str] = &["due_date", "expiry_date", "billing_period", "po_number"];

/// The defaults of a new invoice (upstream's model defaults), for columns the body omits.
pub fn defaults() -> Vec<(&'static str, Val)> {
    let t = |s: &str| Val::Text(Some(s.to_string()));
    let n = |s: &str| Val::Num(Some(s.to_string()));
    let mut d = vec![
        ("status", t("Draft")),
        ("currency", t("USD")),
        ("payment_terms", t("NET_30")),
        ("discount_type", t("")),
        ("reminder_enabled", Val::Bool(true)),
        ("reminder_days_before", Val::Int(Some(3))),
        ("reminder_days_after", Val::Int(Some(7))),
        ("reminder_frequency", t("ONCE")),
        ("reminder_count", Val::Int(Some(0))),
        ("public_link_enabled", Val::Bool(true)),
        ("is_email_sent", Val::Bool(false)),
        ("invoice_title", t("")),
    ];
    for c in [
        "client_name",
        "client_email",
        "client_phone",
        "billing_address_line",
        "billing_city",
        "billing_state",
        "billing_postcode",
        "billing_country",
        "client_address_line",
        "client_city",
        "client_state",
        "client_postcode",
        "client_country",
        "notes",
        "terms",
    ] {
        d.push((c, t("")));
    }
    for c in [
        "subtotal",
        "discount_value",
        "discount_amount",
        "tax_rate",
        "tax_amount",
        "shipping_amount",
        "total_amount",
        "amount_paid",
        "amount_due",
    ] {
        d.push((c, n("0")));
    }
    d
}

/// Validation errors of a document body: top-level fields plus the line items' errors aligned
/// with the input list (`{}` for a valid item), as DRF renders nested serializers.
#[derive(Default)]
pub struct Errors {
    pub fields: FieldErrors,
    pub lines: Vec<FieldErrors>,
}

impl Errors {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.lines.iter().all(FieldErrors::is_empty)
    }

    pub fn into_error(self) -> ApiError {
        let mut v = self.fields.to_value();
        if self.lines.iter().any(|l| !l.is_empty()) {
            v["line_items"] = Value::Array(self.lines.iter().map(FieldErrors::to_value).collect());
        }
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            json!({"error": true, "errors": v}),
        )
    }
}

/// A validated invoice (or estimate) body.
#[derive(Debug, Default)]
pub struct DocInput {
    pub fields: Vec<(&'static str, Val)>,
    pub status: Option<String>,
    pub discount_type: Option<DiscountType>,
    /// `Some(None)`: cleared.
    pub account: Option<Option<Uuid>>,
    pub contact: Option<Option<Uuid>>,
    pub opportunity: Option<Option<Uuid>>,
    pub template: Option<Option<Uuid>>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    pub lines: Option<Vec<Line>>,
}

impl DocInput {
    pub fn get(&self, col: &str) -> Option<&Val> {
        self.fields.iter().find(|(c, _)| *c == col).map(|(_, v)| v)
    }
    pub fn text(&self, col: &str) -> Option<&str> {
        fields::text(&self.fields, col)
    }
}

/// An id field: `key_id` or the frontend's `key` (a UUID string, an object with `id`, null or
/// `""`). `None`: absent.
pub fn id_field(
    body: &Map<String, Value>,
    key: &'static str,
    alias: &str,
    errors: &mut FieldErrors,
) -> Option<Option<Uuid>> {
    let raw = body.get(key).or_else(|| body.get(alias))?;
    match raw {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        v => {
            let raw = v.get("id").unwrap_or(v);
            match raw.as_str().map(|s| Uuid::parse_str(s.trim())) {
                Some(Ok(id)) => Some(Some(id)),
                _ => {
                    errors.add(key, "Must be a valid UUID.");
                    None
                }
            }
        }
    }
}

fn decimal_of(v: Option<&Val>) -> Option<rust_decimal::Decimal> {
    match v {
        Some(Val::Num(Some(s))) => Some(money::dec(s)),
        _ => None,
    }
}

const LINE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text(255)),
    ("description", Kind::Text(500)),
    ("quantity", Kind::Money(8)),
    ("unit_price", Kind::Money(10)),
    ("discount_value", Kind::Money(10)),
    ("tax_rate", Kind::Money(3)),
    ("order", Kind::Int(0, i32::MAX as i64)),
];

/// Validates one line item (a body of the line-item endpoints or an element of `line_items`).
/// `base`: the line being updated (partial update), else defaults. Computes its totals.
pub fn validate_line(
    body: &Map<String, Value>,
    base: Option<&Line>,
    index: usize,
    errors: &mut FieldErrors,
) -> Line {
    let f = fields::validate(body, LINE_FIELDS, errors);
    let mut l = base.cloned().unwrap_or_else(|| Line {
        input: LineIn {
            quantity: rust_decimal::Decimal::ONE,
            ..Default::default()
        },
        order: index as i32,
        ..Default::default()
    });
    let get = |c: &str| f.iter().find(|(n, _)| *n == c).map(|(_, v)| v);
    if let Some(Val::Text(v)) = get("name") {
        l.name = v.clone().filter(|s| !s.is_empty());
    }
    if let Some(Val::Text(v)) = get("description") {
        l.description = v.clone().unwrap_or_default();
    }
    if let Some(v) = get("quantity") {
        l.input.quantity = decimal_of(Some(v)).unwrap_or(rust_decimal::Decimal::ONE);
    }
    if let Some(v) = get("unit_price") {
        l.input.unit_price = decimal_of(Some(v)).unwrap_or_default();
    }
    if let Some(v) = get("discount_value") {
        l.input.discount_value = decimal_of(Some(v)).unwrap_or_default();
    }
    if let Some(v) = get("tax_rate") {
        l.input.tax_rate = decimal_of(Some(v)).unwrap_or_default();
    }
    if let Some(Val::Int(v)) = get("order") {
        l.order = v.unwrap_or(index as i32);
    }
    if let Some(raw) = body.get("discount_type") {
        match raw.as_str().map(DiscountType::parse) {
            Some(Some(t)) => l.input.discount_type = t,
            _ if raw.is_null() => l.input.discount_type = DiscountType::None,
            _ => errors.add(
                "discount_type",
                format!("\"{}\" is not a valid choice.", raw.as_str().unwrap_or("")),
            ),
        }
    }
    if let Some(p) = id_field(body, "product", "product_id", errors) {
        l.product = p;
    }
    if errors.is_empty() {
        match money::line(&l.input) {
            Ok(t) => l.totals = t,
            Err((field, msg)) => errors.add(field, msg),
        }
    }
    l
}

/// What a document kind accepts: its writable columns and its statuses.
pub struct DocSpec {
    pub fields: &'static [(&'static str, Kind)],
    pub is_status: fn(&str) -> bool,
}

pub const INVOICE_SPEC: DocSpec = DocSpec {
    fields: FIELDS,
    is_status: is_invoice_status,
};

/// Validates an invoice body.
pub fn validate_doc(body: &Map<String, Value>, errors: &mut Errors) -> DocInput {
    validate_spec(body, &INVOICE_SPEC, errors)
}

/// Validates a document body (invoice or estimate; required keys are checked by the caller).
pub fn validate_spec(body: &Map<String, Value>, spec: &DocSpec, errors: &mut Errors) -> DocInput {
    let fe = &mut errors.fields;
    let mut fields = fields::validate(body, spec.fields, fe);
    for (col, v) in fields.iter_mut() {
        match v {
            Val::Text(None) if !NULLABLE.contains(col) => *v = Val::Text(Some(String::new())),
            Val::Num(None) => *v = Val::Num(Some("0.00".into())),
            Val::Int(None) => match *col {
                "reminder_days_before" => *v = Val::Int(Some(3)),
                _ => *v = Val::Int(Some(7)),
            },
            _ => {}
        }
        if *col == "issue_date" && *v == Val::Date(None) {
            fe.add("issue_date", "This field may not be null.");
        }
        if *col == "currency" && *v == Val::Text(Some(String::new())) {
            *v = Val::Text(Some("USD".into()));
        }
        if *col == "payment_terms" && *v == Val::Text(Some(String::new())) {
            *v = Val::Text(Some("NET_30".into()));
        }
        if *col == "reminder_frequency" && *v == Val::Text(Some(String::new())) {
            *v = Val::Text(Some("ONCE".into()));
        }
    }
    let status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if (spec.is_status)(s.trim()) => Some(s.trim().to_string()),
        Some(v) => {
            fe.add(
                "status",
                format!("\"{}\" is not a valid choice.", v.as_str().unwrap_or("")),
            );
            None
        }
    };
    let discount_type = match body.get("discount_type") {
        None => None,
        Some(Value::Null) => Some(DiscountType::None),
        Some(v) => match v.as_str().and_then(DiscountType::parse) {
            Some(t) => Some(t),
            None => {
                fe.add(
                    "discount_type",
                    format!("\"{}\" is not a valid choice.", v.as_str().unwrap_or("")),
                );
                None
            }
        },
    };
    let account = id_field(body, "account_id", "account", fe);
    let contact = id_field(body, "contact_id", "contact", fe);
    let opportunity = id_field(body, "opportunity_id", "opportunity", fe);
    let template = id_field(body, "template_id", "template", fe);
    let assigned_to = id_list(body, "assigned_to", fe);
    let teams = id_list(body, "teams", fe);
    let lines = match body.get("line_items") {
        None => None,
        Some(Value::Null) => Some(vec![]),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut le = FieldErrors::new();
                match item.as_object() {
                    Some(obj) => out.push(validate_line(obj, None, i, &mut le)),
                    None => le.add("non_field_errors", "Invalid data. Expected a dictionary."),
                }
                errors.lines.push(le);
            }
            Some(out)
        }
        Some(_) => {
            errors.fields.add(
                "line_items",
                "Expected a list of items but got type \"str\".",
            );
            None
        }
    };
    DocInput {
        fields,
        status,
        discount_type,
        account,
        contact,
        opportunity,
        template,
        assigned_to,
        teams,
        lines,
    }
}

/// A validated payment.
#[derive(Debug)]
pub struct PaymentInput {
    pub amount: Option<rust_decimal::Decimal>,
    pub payment_date: Option<chrono::NaiveDate>,
    pub payment_method: Option<String>,
    pub reference_number: String,
    pub notes: String,
}

const PAYMENT_FIELDS: &[(&str, Kind)] = &[
    ("amount", Kind::Money(10)),
    ("payment_date", Kind::Date),
    ("payment_method", Kind::Choice(is_method)),
    ("reference_number", Kind::Text(100)),
    ("notes", Kind::Text(usize::MAX)),
];

/// Validates a payment body; `required`: amount, date and method must be present (the
/// payments endpoint; mark-paid defaults them).
pub fn validate_payment(
    body: &Map<String, Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> PaymentInput {
    let f = fields::validate(body, PAYMENT_FIELDS, errors);
    let get = |c: &str| f.iter().find(|(n, _)| *n == c).map(|(_, v)| v.clone());
    let amount = decimal_of(get("amount").as_ref());
    let payment_date = match get("payment_date") {
        Some(Val::Date(d)) => d,
        _ => None,
    };
    let payment_method = match get("payment_method") {
        Some(Val::Text(Some(s))) if !s.is_empty() => Some(s),
        _ => None,
    };
    if required {
        for (k, missing) in [
            ("amount", amount.is_none()),
            ("payment_date", payment_date.is_none()),
            ("payment_method", payment_method.is_none()),
        ] {
            if missing && !errors.has(k) {
                errors.add(k, "This field is required.");
            }
        }
    }
    if let Some(a) = amount
        && a <= rust_decimal::Decimal::ZERO
        && !errors.has("amount")
    {
        errors.add("amount", "Ensure this value is greater than 0.");
    }
    let text = |c: &str| match get(c) {
        Some(Val::Text(Some(s))) => s,
        _ => String::new(),
    };
    PaymentInput {
        amount,
        payment_date,
        payment_method,
        reference_number: text("reference_number"),
        notes: text("notes"),
    }
}

// ---- Response shapes (documentation; handlers render them from SQL) ----

#[derive(Serialize, ToSchema)]
pub struct InvoiceMessage {
    pub error: bool,
    pub message: String,
}

/// InvoiceList: one row of the invoices list.
#[derive(Serialize, ToSchema)]
pub struct InvoiceListObj {
    pub id: Uuid,
    pub invoice_number: String,
    pub invoice_title: String,
    pub status: String,
    pub account: Option<Uuid>,
    pub account_name: Option<String>,
    pub contact: Option<Uuid>,
    pub contact_name: Option<String>,
    pub client_name: String,
    pub client_email: String,
    pub issue_date: String,
    pub due_date: Option<String>,
    /// Decimal string with 2 places.
    pub total_amount: String,
    pub amount_due: String,
    pub amount_paid: String,
    pub currency: String,
    pub is_overdue: bool,
    pub line_items_count: i64,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceListResponse {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<InvoiceListObj>,
}

/// A line item (decimals as 2-place strings).
#[derive(Serialize, ToSchema)]
pub struct LineItemObj {
    pub id: Uuid,
    pub product: Option<Uuid>,
    pub product_name: Option<String>,
    pub name: Option<String>,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub discount_type: String,
    pub discount_value: String,
    pub discount_amount: String,
    pub tax_rate: String,
    pub tax_amount: String,
    pub subtotal: String,
    pub total: String,
    pub order: i32,
    pub formatted_unit_price: Option<String>,
    pub formatted_total: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentObj {
    pub id: Uuid,
    pub invoice: Uuid,
    pub amount: String,
    pub payment_date: String,
    pub payment_method: String,
    pub reference_number: String,
    pub notes: String,
    pub created_at: String,
}

/// The full invoice (upstream's InvoiceSerializer keys; `org` carries no API key).
#[derive(Serialize, ToSchema)]
pub struct InvoiceObj {
    pub id: Uuid,
    pub invoice_number: String,
    pub invoice_title: String,
    pub status: String,
    /// `{id, name, email, phone, website, industry, billing_*, address fields}` or null.
    pub account: Option<Value>,
    /// ContactObj or null.
    pub contact: Option<Value>,
    /// `{id, name, amount, stage, currency}` or null.
    pub opportunity: Option<Value>,
    pub client_name: String,
    pub client_email: String,
    pub client_phone: String,
    pub billing_address_line: String,
    pub billing_city: String,
    pub billing_state: String,
    pub billing_postcode: String,
    pub billing_country: String,
    pub client_address_line: String,
    pub client_city: String,
    pub client_state: String,
    pub client_postcode: String,
    pub client_country: String,
    pub subtotal: String,
    pub discount_type: String,
    pub discount_value: String,
    pub discount_amount: String,
    pub tax_rate: String,
    pub tax_amount: String,
    pub shipping_amount: String,
    pub total_amount: String,
    pub currency: String,
    pub amount_paid: String,
    pub amount_due: String,
    pub issue_date: String,
    pub due_date: Option<String>,
    pub payment_terms: String,
    pub sent_at: Option<String>,
    pub viewed_at: Option<String>,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub reminder_enabled: bool,
    pub reminder_days_before: i32,
    pub reminder_days_after: i32,
    pub reminder_frequency: String,
    pub last_reminder_sent: Option<String>,
    pub reminder_count: i32,
    pub public_token: String,
    pub public_link_enabled: bool,
    pub public_url: String,
    /// Template object or null.
    pub template: Option<Value>,
    pub notes: String,
    pub terms: String,
    pub details: Option<String>,
    pub billing_period: Option<String>,
    pub po_number: Option<String>,
    pub line_items: Vec<LineItemObj>,
    pub payments: Vec<PaymentObj>,
    /// `[ProfileObj]`
    pub assigned_to: Vec<Value>,
    /// `[TeamObj]`
    pub teams: Vec<Value>,
    pub is_overdue: bool,
    pub created_at: String,
    pub updated_at: String,
    /// UserMini or null.
    pub created_by: Option<Value>,
    /// `{id, name}`
    pub org: Value,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceSaved {
    pub error: bool,
    pub message: String,
    pub invoice: InvoiceObj,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryObj {
    pub id: Uuid,
    pub invoice: Uuid,
    pub invoice_title: String,
    pub invoice_number: String,
    pub status: String,
    pub client_name: String,
    pub client_email: String,
    pub total_amount: String,
    pub amount_due: String,
    pub currency: Option<String>,
    pub due_date: Option<String>,
    /// What changed (`field: old → new; ...`) or the event.
    pub details: Option<String>,
    /// ProfileObj of who did it, or null.
    pub updated_by: Option<Value>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceDetailResponse {
    pub invoice: InvoiceObj,
    /// `[AttachmentObj]`
    pub attachments: Vec<Value>,
    /// `[CommentObj]`
    pub comments: Vec<Value>,
    pub history: Vec<HistoryObj>,
}

#[derive(Serialize, ToSchema)]
pub struct LineItemSaved {
    pub error: bool,
    pub message: String,
    pub line_item: LineItemObj,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentSaved {
    pub error: bool,
    pub message: String,
    pub payment: PaymentObj,
    pub invoice: InvoiceListObj,
}

// ---- Request shapes (documentation: handlers validate the raw JSON for DRF-style errors) ----

/// A line item in a write body (all optional).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LineItemBody {
    /// A product of the org (`product_id` accepted too).
    pub product: Option<Uuid>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Decimal >= 0 (string or number); default 1.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Value>,
    /// `PERCENTAGE`, `FIXED` (any case) or `""`.
    pub discount_type: Option<String>,
    /// A percentage (<= 100) or an amount (<= the line subtotal).
    #[schema(value_type = Option<String>)]
    pub discount_value: Option<Value>,
    /// Percent, 0-100.
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<Value>,
    pub order: Option<i32>,
}

/// Body of invoice create (`invoice_title`, `account_id`, `contact_id` required), PUT and PATCH.
/// Computed columns, numbers and tokens are ignored if sent.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InvoiceBody {
    pub invoice_title: Option<String>,
    /// Draft, Sent or Pending on create; later only allowed transitions (Cancelled, Draft→Sent...).
    pub status: Option<String>,
    pub account_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub client_name: Option<String>,
    pub client_email: Option<String>,
    pub client_phone: Option<String>,
    pub billing_address_line: Option<String>,
    pub billing_city: Option<String>,
    pub billing_state: Option<String>,
    pub billing_postcode: Option<String>,
    pub billing_country: Option<String>,
    pub client_address_line: Option<String>,
    pub client_city: Option<String>,
    pub client_state: Option<String>,
    pub client_postcode: Option<String>,
    pub client_country: Option<String>,
    pub discount_type: Option<String>,
    #[schema(value_type = Option<String>)]
    pub discount_value: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub shipping_amount: Option<Value>,
    pub currency: Option<String>,
    pub issue_date: Option<String>,
    pub due_date: Option<String>,
    pub payment_terms: Option<String>,
    pub reminder_enabled: Option<bool>,
    pub reminder_days_before: Option<i32>,
    pub reminder_days_after: Option<i32>,
    pub reminder_frequency: Option<String>,
    pub public_link_enabled: Option<bool>,
    pub notes: Option<String>,
    pub terms: Option<String>,
    pub billing_period: Option<String>,
    pub po_number: Option<String>,
    /// Profile ids of the org.
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    /// Replaces every line when present.
    pub line_items: Option<Vec<LineItemBody>>,
}

/// Body of `POST .../payments/` (amount, date and method required) and `mark-paid` (all
/// optional: the balance, today, OTHER).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentBody {
    /// > 0 and at most the amount due.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Value>,
    pub payment_date: Option<String>,
    pub payment_method: Option<String>,
    pub reference_number: Option<String>,
    pub notes: Option<String>,
}
