//! Invoice rows and their SQL: the list page in one statement, the full invoice object, line
//! items and payments, USER visibility.

use uuid::Uuid;

use super::service::TODAY_SQL;
use crate::db::sql::{self, Bind, Sql, Table};
use crate::db::tenant::Tx;
use crate::error::ApiError;
pub use crate::http::list::Viewer;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

pub const NAME_SQL: &str = "invoice_number";

pub const TABLE: Table = Table {
    name: "invoice",
    returning: NAME_SQL,
};

/// Who may see and act on an invoice: an admin, its creator, an assignee, or a member of one
/// of its teams (upstream's creator check compared a profile with a user and never matched).
pub const VISIBILITY: Visibility = Visibility {
    table: "invoice",
    alias: "i",
    fk: "invoice_id",
    assigned: "invoice_assigned_to",
    teams: "invoice_teams",
};

pub const LIST: ListSpec = ListSpec {
    alias: "i",
    filters: &[
        F::Search(
            "search",
            &[
                "i.invoice_title",
                "i.invoice_number",
                "i.client_name",
                "i.client_email",
            ],
        ),
        F::Exact("status", "i.status"),
        F::Id("account", "i.account_id"),
        F::Id("contact", "i.contact_id"),
        F::Id("opportunity", "i.opportunity_id"),
        F::Id("created_by", "i.created_by_id"),
        F::Ids {
            key: "assigned_to",
            table: "invoice_assigned_to",
            fk: "invoice_id",
            col: "profile_id",
        },
        F::Date("issue_date_gte", "i.issue_date", ">="),
        F::Date("issue_date_lte", "i.issue_date", "<="),
        F::Date("due_date_gte", "i.due_date", ">="),
        F::Date("due_date_lte", "i.due_date", "<="),
    ],
    orderable: &[
        "created_at",
        "due_date",
        "issue_date",
        "total_amount",
        "status",
        "invoice_number",
        "amount_due",
    ],
};

/// `is_overdue` of alias `i`: due date passed (UTC), not paid or cancelled.
fn is_overdue(a: &str) -> String {
    format!(
        "({a}.due_date IS NOT NULL AND {a}.status NOT IN ('Paid', 'Cancelled') AND {a}.due_date < {TODAY_SQL})"
    )
}

/// InvoiceList object of alias `i` (upstream's keys).
pub fn list_obj(a: &str) -> String {
    format!(
        "json_build_object('id', {a}.id, 'invoice_number', {a}.invoice_number, 'invoice_title', {a}.invoice_title,
            'status', {a}.status, 'account', {a}.account_id,
            'account_name', (SELECT ac.name FROM accounts ac WHERE ac.id = {a}.account_id),
            'contact', {a}.contact_id,
            'contact_name', (SELECT nullif(trim(concat_ws(' ', ct.first_name, ct.last_name)), '') FROM contacts ct WHERE ct.id = {a}.contact_id),
            'client_name', {a}.client_name, 'client_email', {a}.client_email, 'issue_date', {a}.issue_date,
            'due_date', {a}.due_date, 'total_amount', {a}.total_amount::text, 'amount_due', {a}.amount_due::text,
            'amount_paid', {a}.amount_paid::text, 'currency', {a}.currency, 'is_overdue', {over},
            'line_items_count', (SELECT count(*) FROM invoice_line_item l WHERE l.invoice_id = {a}.id),
            'created_at', crm_ts({a}.created_at))",
        over = is_overdue(a)
    )
}

/// Line item object of alias `l` (`formatted_*` with the invoice's currency `cur`).
pub fn line_obj(l: &str, cur: Option<&str>) -> String {
    let formatted = cur
        .map(|c| {
            format!(
                ", 'formatted_unit_price', {c} || ' ' || {l}.unit_price::text, 'formatted_total', {c} || ' ' || {l}.total::text"
            )
        })
        .unwrap_or_default();
    format!(
        "json_build_object('id', {l}.id, 'product', {l}.product_id,
            'product_name', (SELECT pr.name FROM product pr WHERE pr.id = {l}.product_id),
            'name', {l}.name, 'description', {l}.description, 'quantity', {l}.quantity::text,
            'unit_price', {l}.unit_price::text, 'discount_type', {l}.discount_type,
            'discount_value', {l}.discount_value::text, 'discount_amount', {l}.discount_amount::text,
            'tax_rate', {l}.tax_rate::text, 'tax_amount', {l}.tax_amount::text, 'subtotal', {l}.subtotal::text,
            'total', {l}.total::text, 'order', {l}.\"order\"{formatted})"
    )
}

/// Payment object of alias `p`.
pub const PAYMENT_OBJ: &str = "json_build_object('id', p.id, 'invoice', p.invoice_id, 'amount', p.amount::text,
    'payment_date', p.payment_date, 'payment_method', p.payment_method, 'reference_number', p.reference_number,
    'notes', p.notes, 'created_at', crm_ts(p.created_at))";

/// Account object nested in a document (alias `ac`): what the invoice pages read.
const ACCOUNT_OBJ: &str = "json_build_object('id', ac.id, 'name', ac.name, 'email', ac.email, 'phone', ac.phone,
    'website', ac.website, 'industry', ac.industry, 'billing_address_line', ac.address_line,
    'billing_city', ac.city, 'billing_state', ac.state, 'billing_postcode', ac.postcode,
    'billing_country', ac.country, 'address_line', ac.address_line, 'city', ac.city, 'state', ac.state,
    'postcode', ac.postcode, 'country', ac.country, 'is_active', ac.is_active)";

/// Template object (alias `tp`).
pub const TEMPLATE_OBJ: &str = "json_build_object('id', tp.id, 'name', tp.name, 'logo', tp.logo,
    'primary_color', tp.primary_color, 'secondary_color', tp.secondary_color,
    'template_html', tp.template_html, 'template_css', tp.template_css, 'default_notes', tp.default_notes,
    'default_terms', tp.default_terms, 'footer_text', tp.footer_text, 'is_default', tp.is_default,
    'created_at', crm_ts(tp.created_at), 'updated_at', crm_ts(tp.updated_at))";

/// The full invoice object (upstream's InvoiceSerializer keys; `org` without its API key) of
/// alias `i`, as jsonb (PostgreSQL caps one json_build_object at 100 arguments).
fn full_obj() -> String {
    format!(
        "jsonb_build_object('id', i.id, 'invoice_number', i.invoice_number, 'invoice_title', i.invoice_title,
            'status', i.status,
            'account', (SELECT {ACCOUNT_OBJ} FROM accounts ac WHERE ac.id = i.account_id),
            'contact', crm_contact_obj(i.contact_id),
            'opportunity', (SELECT json_build_object('id', o.id, 'name', o.name, 'amount', o.amount::text,
                                   'stage', o.stage, 'currency', o.currency) FROM opportunity o WHERE o.id = i.opportunity_id),
            'client_name', i.client_name, 'client_email', i.client_email, 'client_phone', i.client_phone,
            'billing_address_line', i.billing_address_line, 'billing_city', i.billing_city,
            'billing_state', i.billing_state, 'billing_postcode', i.billing_postcode,
            'billing_country', i.billing_country, 'client_address_line', i.client_address_line,
            'client_city', i.client_city, 'client_state', i.client_state, 'client_postcode', i.client_postcode,
            'client_country', i.client_country)
        || jsonb_build_object('subtotal', i.subtotal::text, 'discount_type', i.discount_type,
            'discount_value', i.discount_value::text, 'discount_amount', i.discount_amount::text,
            'tax_rate', i.tax_rate::text, 'tax_amount', i.tax_amount::text,
            'shipping_amount', i.shipping_amount::text, 'total_amount', i.total_amount::text,
            'currency', i.currency, 'amount_paid', i.amount_paid::text, 'amount_due', i.amount_due::text,
            'issue_date', i.issue_date, 'due_date', i.due_date, 'payment_terms', i.payment_terms,
            'sent_at', crm_ts(i.sent_at), 'viewed_at', crm_ts(i.viewed_at), 'paid_at', crm_ts(i.paid_at),
            'cancelled_at', crm_ts(i.cancelled_at),
            'reminder_enabled', i.reminder_enabled, 'reminder_days_before', i.reminder_days_before,
            'reminder_days_after', i.reminder_days_after, 'reminder_frequency', i.reminder_frequency,
            'last_reminder_sent', crm_ts(i.last_reminder_sent), 'reminder_count', i.reminder_count)
        || jsonb_build_object('public_token', i.public_token, 'public_link_enabled', i.public_link_enabled,
            'public_url', '/portal/invoice/' || i.public_token,
            'template', (SELECT {TEMPLATE_OBJ} FROM invoice_template tp WHERE tp.id = i.template_id),
            'notes', i.notes, 'terms', i.terms, 'details', i.details, 'billing_period', i.billing_period,
            'po_number', i.po_number,
            'line_items', (SELECT coalesce(json_agg({line} ORDER BY l.\"order\", l.created_at, l.id), '[]')
                             FROM invoice_line_item l WHERE l.invoice_id = i.id AND l.org_id = i.org_id),
            'payments', (SELECT coalesce(json_agg({PAYMENT_OBJ} ORDER BY p.payment_date DESC, p.created_at DESC), '[]')
                           FROM payment p WHERE p.invoice_id = i.id AND p.org_id = i.org_id),
            'assigned_to', (SELECT coalesce(json_agg(crm_profile_obj(x.profile_id) ORDER BY x.id), '[]')
                              FROM invoice_assigned_to x WHERE x.invoice_id = i.id),
            'teams', (SELECT coalesce(json_agg(crm_team_obj(x.teams_id) ORDER BY x.id), '[]')
                        FROM invoice_teams x WHERE x.invoice_id = i.id),
            'is_overdue', {over}, 'created_at', crm_ts(i.created_at), 'updated_at', crm_ts(i.updated_at),
            'created_by', crm_user_mini(i.created_by_id),
            'org', (SELECT json_build_object('id', og.id, 'name', og.name) FROM organization og WHERE og.id = i.org_id))",
        line = line_obj("l", Some("i.currency")),
        over = is_overdue("i"),
    )
}

/// The list page: `{count, results}` as JSON text (the handler adds `next`/`previous`), in one
/// statement.
pub async fn list_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    page: Page,
) -> Result<(i64, String), ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let mut cond = String::from("i.org_id = $1");
    let conds = LIST.conditions(q, &mut sql)?;
    let fast_count = v.admin && conds.is_empty();
    for c in conds {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    if !v.admin {
        let (u, p) = (
            sql.p(Bind::Uuid(v.user_id)),
            sql.p(Bind::Uuid(v.profile_id)),
        );
        cond.push_str(&format!(
            " AND i.id IN ({})",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
    }
    let counts = if fast_count {
        "SELECT coalesce(sum(n), 0)::bigint FROM row_counts WHERE org_id = $1 AND tbl = 'invoice'"
            .to_string()
    } else {
        format!("SELECT count(*) FROM invoice i WHERE {cond}")
    };
    // The frontend sends `ordering`; upstream's own parameter is `sort`.
    let order = match (q.get("ordering"), q.get("sort")) {
        (None, Some(s)) => LIST.order_by(&RawQuery(vec![("ordering".into(), s.to_string())])),
        _ => LIST.order_by(q),
    };
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "SELECT ({counts}),
                (SELECT coalesce(json_agg({obj} ORDER BY s.rn), '[]')::text FROM
                   (SELECT i.*, row_number() OVER () AS rn FROM
                      (SELECT i.* FROM invoice i WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) i) s)",
        obj = list_obj("s"),
    );
    let row: (i64, String) = sql::run(text, sql.binds)
        .try_map(|r: sqlx::postgres::PgRow| {
            use sqlx::Row;
            Ok((r.try_get(0)?, r.try_get(1)?))
        })
        .fetch_one(&mut **tx)
        .await?;
    Ok(row)
}

/// What a write or detail needs to know about an invoice: `None` when not in the org.
pub struct Current {
    pub visible: bool,
    pub status: String,
    pub created_by: Option<Uuid>,
}

/// Locks the invoice row (writes) and says whether the caller may act on it.
pub async fn current(tx: &mut Tx, v: &Viewer, id: Uuid) -> Result<Option<Current>, ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let text = format!(
        "SELECT {vis}, i.status, i.created_by_id FROM invoice i WHERE i.org_id = $1 AND i.id = $2 FOR UPDATE"
    );
    let row: Option<(bool, String, Option<Uuid>)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.admin)
        .bind(v.user_id)
        .bind(v.profile_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(visible, status, created_by)| Current {
        visible,
        status,
        created_by,
    }))
}

/// The full invoice object as JSON text.
pub async fn invoice_json(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "SELECT ({})::text FROM invoice i WHERE i.org_id = $1 AND i.id = $2",
        full_obj()
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// The InvoiceList object as JSON text.
pub async fn invoice_list_obj(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "SELECT ({})::text FROM invoice i WHERE i.org_id = $1 AND i.id = $2",
        list_obj("i")
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// History rows of an invoice, newest first, as a JSON array's text.
pub async fn history_json(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(json_agg(json_build_object('id', h.id, 'invoice', h.invoice_id,
                    'invoice_title', h.invoice_title, 'invoice_number', h.invoice_number, 'status', h.status,
                    'client_name', h.client_name, 'client_email', h.client_email,
                    'total_amount', h.total_amount::text, 'amount_due', h.amount_due::text, 'currency', h.currency,
                    'due_date', h.due_date, 'details', h.details,
                    'updated_by', crm_profile_obj(h.updated_by_id), 'created_at', crm_ts(h.created_at))
                ORDER BY h.created_at DESC, h.id DESC), '[]')::text
           FROM invoice_history h WHERE h.org_id = $1 AND h.invoice_id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Line items of an invoice (ordered), as a JSON array's text.
pub async fn lines_json(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "SELECT coalesce(json_agg({} ORDER BY l.\"order\", l.created_at, l.id), '[]')::text
           FROM invoice_line_item l JOIN invoice i ON i.id = l.invoice_id
          WHERE l.org_id = $1 AND l.invoice_id = $2",
        line_obj("l", Some("i.currency"))
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// One line item as JSON text (`None` when not on that invoice).
pub async fn line_json(
    tx: &mut Tx,
    org: Uuid,
    invoice: Uuid,
    line: Uuid,
) -> Result<Option<String>, ApiError> {
    let text = format!(
        "SELECT ({})::text FROM invoice_line_item l JOIN invoice i ON i.id = l.invoice_id
          WHERE l.org_id = $1 AND l.invoice_id = $2 AND l.id = $3",
        line_obj("l", Some("i.currency"))
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(invoice)
        .bind(line)
        .fetch_optional(&mut **tx)
        .await?)
}

/// Payments of an invoice, newest first, as a JSON array's text.
pub async fn payments_json(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "SELECT coalesce(json_agg({PAYMENT_OBJ} ORDER BY p.payment_date DESC, p.created_at DESC), '[]')::text
           FROM payment p WHERE p.org_id = $1 AND p.invoice_id = $2"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Deletes an invoice with what hangs on it (lines, payments, history, links); estimates
/// converted into it become convertible again.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "WITH l AS (DELETE FROM invoice_line_item WHERE org_id = $1 AND invoice_id = $2),
              p AS (DELETE FROM payment WHERE org_id = $1 AND invoice_id = $2),
              h AS (DELETE FROM invoice_history WHERE org_id = $1 AND invoice_id = $2),
              a AS (DELETE FROM invoice_assigned_to WHERE invoice_id = $2),
              t AS (DELETE FROM invoice_teams WHERE invoice_id = $2),
              e AS (UPDATE estimate SET converted_to_invoice_id = NULL WHERE org_id = $1 AND converted_to_invoice_id = $2)
         DELETE FROM invoice WHERE org_id = $1 AND id = $2 RETURNING invoice_number",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}
