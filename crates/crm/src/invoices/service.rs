//! Invoice and estimate rules shared by the handlers: number allocation, line-item writes,
//! header recomputation (through `money`), the payment-driven status (settle), the status
//! transitions a client may ask for, and the history rows.
//!
//! Dates: the business time zone is UTC (numbers, `is_overdue`, due dates, jobs).

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::money::{self, DiscountType, HeaderIn, LineIn, LineTotals};
use crate::db::tenant::Tx;
use crate::error::ApiError;

/// Today in the business time zone (UTC).
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// SQL for today in the business time zone.
pub const TODAY_SQL: &str = "(now() AT TIME ZONE 'UTC')::date";

/// A document kind with line items: invoices and estimates.
pub struct Doc {
    pub table: &'static str,
    pub number_col: &'static str,
    /// Number prefix (`INV`, `EST`), also the counter's kind.
    pub prefix: &'static str,
    pub lines: &'static str,
    pub fk: &'static str,
    pub has_shipping: bool,
}

pub const INVOICE: Doc = Doc {
    table: "invoice",
    number_col: "invoice_number",
    prefix: "INV",
    lines: "invoice_line_item",
    fk: "invoice_id",
    has_shipping: true,
};

pub const ESTIMATE: Doc = Doc {
    table: "estimate",
    number_col: "estimate_number",
    prefix: "EST",
    lines: "estimate_line_item",
    fk: "estimate_id",
    has_shipping: false,
};

/// Allocates the next `<PREFIX>-YYYYMMDD-NNNN` of the org for today (UTC). The day's counter
/// row is upserted: its lock holds concurrent creates of the same org until this transaction
/// ends, and a rollback returns the number, so numbers are unique per org and gap-free. The
/// first number of a day continues after any number already stored under that prefix (an
/// adopted upstream database).
pub async fn allocate_number(tx: &mut Tx, org: Uuid, doc: &Doc) -> Result<String, ApiError> {
    let day = today();
    let prefix = format!("{}-{}-", doc.prefix, day.format("%Y%m%d"));
    let bumped: Option<String> = sqlx::query_scalar(
        "UPDATE invoice_number_counter SET last = last + 1 WHERE org_id = $1 AND kind = $2 AND day = $3
         RETURNING CASE WHEN last < 10000 THEN lpad(last::text, 4, '0') ELSE last::text END",
    )
    .bind(org)
    .bind(doc.prefix)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await?;
    let seq = match bumped {
        Some(s) => s,
        None => {
            // The prefix is ours (letters, digits, dashes): inlined so the pattern index applies.
            let col = doc.number_col;
            let text = format!(
                "INSERT INTO invoice_number_counter AS c (org_id, kind, day, last)
                 SELECT $1, $2, $3, 1 + coalesce(max(CASE WHEN substr({col}, 14) ~ '^[0-9]{{1,9}}$'
                                                      THEN substr({col}, 14)::int END), 0)
                   FROM {table} WHERE org_id = $1 AND {col} LIKE '{prefix}%'
                 ON CONFLICT (org_id, kind, day) DO UPDATE SET last = c.last + 1
                 RETURNING CASE WHEN last < 10000 THEN lpad(last::text, 4, '0') ELSE last::text END",
                table = doc.table,
            );
            sqlx::query_scalar(sqlx::AssertSqlSafe(text))
                .bind(org)
                .bind(doc.prefix)
                .bind(day)
                .fetch_one(&mut **tx)
                .await?
        }
    };
    Ok(format!("{prefix}{seq}"))
}

/// A new portal token: two v4 UUIDs (244 random bits from the OS), URL-safe base64 without
/// padding (43 characters, as upstream's `token_urlsafe(32)`).
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A validated line item to write.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub product: Option<Uuid>,
    pub name: Option<String>,
    pub description: String,
    pub input: LineIn,
    pub order: i32,
    pub totals: LineTotals,
}

/// Inserts lines of a document (their computed columns already set), in one statement.
pub async fn insert_lines(
    tx: &mut Tx,
    doc: &Doc,
    org: Uuid,
    user: Option<Uuid>,
    parent: Uuid,
    lines: &[Line],
) -> Result<Vec<Uuid>, ApiError> {
    if lines.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::new_v4()).collect();
    let t = |f: &dyn Fn(&Line) -> Decimal| -> Vec<String> {
        lines.iter().map(|l| money::text(f(l))).collect()
    };
    let text = format!(
        "INSERT INTO {lines} (created_at, updated_at, id, org_id, created_by_id, updated_by_id, {fk},
                              product_id, name, description, quantity, unit_price, discount_type, discount_value,
                              discount_amount, tax_rate, tax_amount, subtotal, total, \"order\")
         SELECT now(), now(), x.id, $1, $2, $2, $3, x.product, x.name, x.description, x.q::numeric, x.p::numeric,
                x.dt, x.dv::numeric, x.da::numeric, x.tr::numeric, x.ta::numeric, x.st::numeric, x.tt::numeric, x.o
           FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::int[])
                AS x(id, product, name, description, q, p, dt, dv, da, tr, ta, st, tt, o)",
        lines = doc.lines,
        fk = doc.fk,
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(user)
        .bind(parent)
        .bind(&ids)
        .bind(lines.iter().map(|l| l.product).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.name.clone()).collect::<Vec<_>>())
        .bind(
            lines
                .iter()
                .map(|l| l.description.clone())
                .collect::<Vec<_>>(),
        )
        .bind(t(&|l| l.input.quantity))
        .bind(t(&|l| l.input.unit_price))
        .bind(
            lines
                .iter()
                .map(|l| l.input.discount_type.as_str().to_string())
                .collect::<Vec<_>>(),
        )
        .bind(t(&|l| l.input.discount_value))
        .bind(t(&|l| l.totals.discount_amount))
        .bind(t(&|l| l.input.tax_rate))
        .bind(t(&|l| l.totals.tax_amount))
        .bind(t(&|l| l.totals.subtotal))
        .bind(t(&|l| l.totals.total))
        .bind(lines.iter().map(|l| l.order).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(ids)
}

/// Deletes every line of a document.
pub async fn delete_lines(tx: &mut Tx, doc: &Doc, org: Uuid, parent: Uuid) -> Result<(), ApiError> {
    let text = format!(
        "DELETE FROM {} WHERE org_id = $1 AND {} = $2",
        doc.lines, doc.fk
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(parent)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Why a recomputation was refused: the field and message (a 400).
pub type Refused = (&'static str, String);

/// Recomputes a document's header from its stored lines and header inputs and stores it (and,
/// for invoices, `amount_due`). Refuses (nothing stored) a header discount larger than the lines
/// leave, and an invoice total below what has already been paid.
pub async fn recompute(
    tx: &mut Tx,
    doc: &Doc,
    org: Uuid,
    id: Uuid,
) -> Result<Result<money::Totals, Refused>, ApiError> {
    let shipping = if doc.has_shipping {
        "shipping_amount::text, amount_paid::text"
    } else {
        "NULL::text, NULL::text"
    };
    let text = format!(
        "SELECT d.discount_type, d.discount_value::text, d.tax_rate::text, {shipping},
                ARRAY(SELECT l.subtotal::text || ' ' || l.discount_amount::text || ' ' || l.tax_amount::text
                        FROM {lines} l WHERE l.{fk} = d.id AND l.org_id = d.org_id)
           FROM {table} d WHERE d.org_id = $1 AND d.id = $2 FOR UPDATE",
        table = doc.table,
        lines = doc.lines,
        fk = doc.fk,
    );
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Vec<String>,
    );
    let (dt, dv, tr, ship, paid, lines): Row = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let lines: Vec<LineTotals> = lines
        .iter()
        .map(|s| {
            let mut p = s.split(' ').map(money::dec);
            let (st, da, ta) = (
                p.next().unwrap_or_default(),
                p.next().unwrap_or_default(),
                p.next().unwrap_or_default(),
            );
            LineTotals {
                subtotal: st,
                discount_amount: da,
                tax_amount: ta,
                total: st - da + ta,
            }
        })
        .collect();
    let h = HeaderIn {
        discount_type: DiscountType::parse(&dt).unwrap_or_default(),
        discount_value: money::dec(&dv),
        tax_rate: money::dec(&tr),
        shipping: ship.as_deref().map(money::dec),
    };
    let totals = match money::header(&lines, &h) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(paid) = paid.as_deref().map(money::dec)
        && totals.total_amount < paid
    {
        return Ok(Err((
            "total_amount",
            format!(
                "The total ({}) cannot be less than the amount already paid ({}).",
                money::text(totals.total_amount),
                money::text(paid)
            ),
        )));
    }
    let due = if doc.has_shipping {
        ", amount_due = $6::numeric - amount_paid"
    } else {
        ""
    };
    let text = format!(
        "UPDATE {table} SET subtotal = $3::numeric, discount_amount = $4::numeric, tax_amount = $5::numeric,
                total_amount = $6::numeric, discount_type = $7{due}
          WHERE org_id = $1 AND id = $2",
        table = doc.table,
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .bind(money::text(totals.subtotal))
        .bind(money::text(totals.discount_amount))
        .bind(money::text(totals.tax_amount))
        .bind(money::text(totals.total_amount))
        .bind(h.discount_type.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(Ok(totals))
}

/// Re-derives an invoice's paid/due amounts and status from its payments: paid in full →
/// `Paid` (`paid_at` set once); partly → `Partially_Paid`; nothing paid any more → back to
/// what it was before payments (`Overdue` when sent and past due, `Viewed`, `Sent` or `Draft`)
/// with `paid_at` cleared. A cancelled invoice keeps its status. Returns the new status.
pub async fn settle(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "WITH p AS (SELECT coalesce(sum(amount), 0) AS paid FROM payment WHERE org_id = $1 AND invoice_id = $2)
         UPDATE invoice i SET amount_paid = p.paid, amount_due = i.total_amount - p.paid,
             status = CASE
                 WHEN i.status = 'Cancelled' THEN i.status
                 WHEN p.paid > 0 AND p.paid >= i.total_amount THEN 'Paid'
                 WHEN p.paid > 0 THEN 'Partially_Paid'
                 WHEN i.status IN ('Paid', 'Partially_Paid') THEN
                     CASE WHEN i.sent_at IS NOT NULL AND i.due_date < {TODAY_SQL} THEN 'Overdue'
                          WHEN i.viewed_at IS NOT NULL THEN 'Viewed'
                          WHEN i.sent_at IS NOT NULL THEN 'Sent'
                          ELSE 'Draft' END
                 ELSE i.status END,
             paid_at = CASE WHEN p.paid > 0 AND p.paid >= i.total_amount THEN coalesce(i.paid_at, now()) END
         FROM p WHERE i.org_id = $1 AND i.id = $2 RETURNING i.status"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

pub const INVOICE_STATUSES: &[&str] = &[
    "Draft",
    "Sent",
    "Viewed",
    "Paid",
    "Partially_Paid",
    "Overdue",
    "Pending",
    "Cancelled",
];

pub fn is_invoice_status(s: &str) -> bool {
    INVOICE_STATUSES.contains(&s)
}

/// Whether a client may set `status` to `to` on an invoice now in `from` (`None`: a new one).
/// Payments drive Paid/Partially_Paid, the nightly job Overdue, the portal Viewed; a cancelled
/// invoice stays cancelled; a paid one cannot be cancelled. Re-sending the current status is a
/// no-op (the frontend's full PUT re-sends it).
pub fn may_set_status(from: Option<&str>, to: &str) -> Result<(), String> {
    if from == Some(to) {
        return Ok(());
    }
    match (from, to) {
        (_, "Paid" | "Partially_Paid") => Err(format!(
            "{to} follows the payments: record a payment instead."
        )),
        (_, "Overdue") => Err("Overdue is set when the due date has passed.".into()),
        (_, "Viewed") => Err("Viewed is set when the client opens the invoice link.".into()),
        (None, "Draft" | "Sent" | "Pending") => Ok(()),
        (None, _) => Err(format!("A new invoice cannot be {to}.")),
        (Some("Cancelled"), _) => Err("A cancelled invoice cannot change status.".into()),
        (Some("Paid"), "Cancelled") => Err("Cannot cancel a paid invoice".into()),
        (Some(_), "Cancelled") => Ok(()),
        (Some("Draft" | "Pending"), "Draft" | "Sent" | "Pending") => Ok(()),
        (Some(from), _) => Err(format!("An invoice cannot go from {from} to {to}.")),
    }
}

/// Adds a history row: a snapshot of the invoice, who (profile) did it and what changed.
pub async fn history(
    tx: &mut Tx,
    org: Uuid,
    invoice: Uuid,
    user: Option<Uuid>,
    profile: Option<Uuid>,
    details: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO invoice_history (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_id,
                                      invoice_title, invoice_number, status, client_name, client_email,
                                      total_amount, amount_due, currency, due_date, details)
         SELECT clock_timestamp(), clock_timestamp(), $3, org_id, $4, $5, id, invoice_title, invoice_number, status,
                client_name, client_email, total_amount, amount_due, currency, due_date, $6
           FROM invoice WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(invoice)
    .bind(Uuid::new_v4())
    .bind(user)
    .bind(profile)
    .bind(details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The invoice columns a history entry compares, as text (`None`: not in the org).
pub async fn snapshot(
    tx: &mut Tx,
    org: Uuid,
    id: Uuid,
) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let row: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT json_build_object('invoice_title', invoice_title, 'status', status, 'client_name', client_name,
                'client_email', client_email, 'account', account_id, 'contact', contact_id,
                'issue_date', issue_date, 'due_date', due_date, 'payment_terms', payment_terms,
                'currency', currency, 'subtotal', subtotal::text, 'discount_amount', discount_amount::text,
                'tax_amount', tax_amount::text, 'shipping_amount', shipping_amount::text,
                'total_amount', total_amount::text, 'notes', notes, 'terms', terms,
                'line_items', (SELECT count(*) FROM invoice_line_item l WHERE l.invoice_id = i.id))
           FROM invoice i WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|v| {
        v.as_object().map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
    }))
}

/// `field: old → new; ...` between two snapshots (empty when nothing changed).
pub fn changes(before: &[(String, String)], after: &[(String, String)]) -> String {
    let mut out = Vec::new();
    for (k, new) in after {
        let old = before
            .iter()
            .find(|(b, _)| b == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if old != new {
            let show = |s: &str| {
                if s.is_empty() {
                    "(empty)".to_string()
                } else {
                    s.chars().take(60).collect()
                }
            };
            out.push(format!("{k}: {} → {}", show(old), show(new)));
        }
    }
    out.join("; ")
}

/// The nightly job of one org (run under its RLS context): unpaid invoices (Sent, Viewed,
/// Partially_Paid) whose due date (UTC) has passed become Overdue, with a history row; open
/// estimates (Draft, Sent, Viewed) past their expiry date become Expired. Idempotent: a retried
/// or second run changes nothing more. Audit columns other than `updated_at` are left alone.
pub async fn nightly(tx: &mut Tx, org: Option<Uuid>) -> anyhow::Result<()> {
    let Some(org) = org else { return Ok(()) };
    let text = format!(
        "WITH o AS (UPDATE invoice SET status = 'Overdue', updated_at = now()
                     WHERE org_id = $1 AND status IN ('Sent', 'Viewed', 'Partially_Paid') AND due_date < {TODAY_SQL}
                     RETURNING id, org_id, invoice_title, invoice_number, client_name, client_email, total_amount,
                               amount_due, currency, due_date)
         INSERT INTO invoice_history (created_at, updated_at, id, org_id, invoice_id, invoice_title, invoice_number,
                                      status, client_name, client_email, total_amount, amount_due, currency, due_date,
                                      details)
         SELECT now(), now(), gen_random_uuid(), org_id, id, invoice_title, invoice_number, 'Overdue', client_name,
                client_email, total_amount, amount_due, currency, due_date, 'status → Overdue (due date passed)'
           FROM o"
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .execute(&mut **tx)
        .await?;
    let text = format!(
        "UPDATE estimate SET status = 'Expired', updated_at = now()
          WHERE org_id = $1 AND status IN ('Draft', 'Sent', 'Viewed') AND expiry_date < {TODAY_SQL}"
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_transitions() {
        assert!(may_set_status(None, "Sent").is_ok());
        assert!(may_set_status(None, "Paid").is_err());
        assert!(may_set_status(Some("Paid"), "Paid").is_ok());
        assert!(may_set_status(Some("Draft"), "Paid").is_err());
        assert!(may_set_status(Some("Sent"), "Cancelled").is_ok());
        assert!(may_set_status(Some("Paid"), "Cancelled").is_err());
        assert!(may_set_status(Some("Cancelled"), "Draft").is_err());
        assert!(may_set_status(Some("Sent"), "Draft").is_err());
        assert_eq!(new_token().len(), 43);
    }
}
