//! The client portal, without login: `/api/public/invoice/<token>/`,
//! `/api/public/estimate/<token>/` and the estimate's accept/decline. The token (256 random
//! bits) is the authorization: a transaction that presents it reads exactly that document
//! (policies of migration 0201: enabled, unexpired link), then runs in the document's org
//! context. No other org's row, no API key, no internal user data is rendered. Links are rotated,
//! disabled or given an expiry by members with `POST /api/invoices/<id>/public-link/` (and the
//! estimate's).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::handlers::{message, path_id, raw_json};
use crate::db::Tenant;
use crate::db::tenant::{self, Tx};
use crate::error::{ApiError, ApiResult};
use crate::http::body::JsonBody;
use crate::state::AppState;

fn gone(kind: &str) -> ApiError {
    message(
        StatusCode::NOT_FOUND,
        format!("{kind} not found or link expired"),
    )
}

/// Opens a transaction for the document carrying `token` in `table`, in its org's context.
async fn open(
    state: &AppState,
    table: &str,
    kind: &str,
    token: &str,
) -> Result<(Tx, Uuid), ApiError> {
    let plausible = (20..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(gone(kind));
    }
    let mut tx = tenant::begin(&state.pool, None, None).await?;
    sqlx::query("SELECT set_config('app.portal_token', $1, true)")
        .bind(token)
        .execute(&mut *tx)
        .await?;
    let text = format!("SELECT id, org_id FROM {table} WHERE public_token = $1");
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(token)
        .fetch_optional(&mut *tx)
        .await?;
    let (id, org) = row.ok_or_else(|| gone(kind))?;
    sqlx::query(
        "SELECT set_config('app.current_org', $1, true), set_config('app.portal_token', '', true)",
    )
    .bind(org.to_string())
    .execute(&mut *tx)
    .await?;
    Ok((tx, id))
}

/// Template colours and footer: the document's template, else the org's default.
const TEMPLATE: &str = "coalesce(
    (SELECT json_build_object('primary_color', tp.primary_color, 'secondary_color', tp.secondary_color,
                              'footer_text', tp.footer_text)
       FROM invoice_template tp WHERE tp.org_id = d.org_id AND (tp.id = d.tid OR (d.tid IS NULL AND tp.is_default))
      ORDER BY tp.id = d.tid DESC LIMIT 1),
    json_build_object('primary_color', '#3B82F6', 'secondary_color', '#1E40AF', 'footer_text', ''))";

fn lines(table: &str, fk: &str) -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object('name', coalesce(l.name, ''), 'description', l.description,
                 'quantity', l.quantity::text, 'unit_price', l.unit_price::text, 'discount_amount', l.discount_amount::text,
                 'tax_amount', l.tax_amount::text, 'total', l.total::text) ORDER BY l.\"order\", l.created_at), '[]')
            FROM {table} l WHERE l.{fk} = d.id AND l.org_id = d.org_id)"
    )
}

#[derive(Serialize, ToSchema)]
pub struct PublicInvoice {
    pub id: Uuid,
    pub invoice_number: String,
    pub invoice_title: String,
    pub status: String,
    pub client_name: String,
    pub client_email: String,
    pub issue_date: String,
    pub due_date: Option<String>,
    /// Stored values, 2 places (upstream leaked unrounded strings on the first view).
    pub subtotal: String,
    pub discount_amount: String,
    pub tax_amount: String,
    pub shipping_amount: String,
    pub total_amount: String,
    pub amount_paid: String,
    pub amount_due: String,
    pub currency: String,
    pub notes: String,
    pub terms: String,
    /// The sender's address `{line, city, state, postcode, country}`.
    pub billing_address: Value,
    /// `[{name, description, quantity, unit_price, discount_amount, tax_amount, total}]`
    pub line_items: Vec<Value>,
    /// `[{amount, payment_date, payment_method}]`
    pub payments: Vec<Value>,
    /// `{name}`
    pub org: Value,
    /// `{primary_color, secondary_color, footer_text}`
    pub template: Value,
}

#[derive(Serialize, ToSchema)]
pub struct PublicEstimate {
    pub id: Uuid,
    pub estimate_number: String,
    pub title: String,
    pub status: String,
    pub client_name: String,
    pub client_email: String,
    pub issue_date: String,
    pub expiry_date: Option<String>,
    pub subtotal: String,
    pub discount_amount: String,
    pub tax_amount: String,
    pub total_amount: String,
    pub currency: String,
    pub notes: String,
    pub terms: String,
    /// `{line, city, state, postcode, country}`
    pub client_address: Value,
    pub line_items: Vec<Value>,
    pub org: Value,
    pub template: Value,
}

#[derive(Serialize, ToSchema)]
pub struct PortalMessage {
    pub error: bool,
    pub message: String,
}

/// The invoice behind a portal link. The first view marks it viewed (Sent → Viewed) and adds a
/// history row; the creator and audit columns are left alone.
#[utoipa::path(get, path = "/api/public/invoice/{token}/", tag = "portal",
    params(("token" = String, Path)),
    responses((status = 200, body = PublicInvoice), (status = 404, body = PortalMessage)))]
pub async fn invoice(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let (mut tx, id) = open(&state, "invoice", "Invoice", &token).await?;
    let first: Option<String> = sqlx::query_scalar(
        "UPDATE invoice SET viewed_at = now(), status = CASE WHEN status = 'Sent' THEN 'Viewed' ELSE status END
          WHERE id = $1 AND viewed_at IS NULL RETURNING status",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if first.is_some() {
        let org: Uuid = sqlx::query_scalar("SELECT org_id FROM invoice WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        super::service::history(
            &mut tx,
            org,
            id,
            None,
            None,
            "Viewed by the client (portal link).",
        )
        .await?;
    }
    let text = format!(
        "SELECT json_build_object('id', d.id, 'invoice_number', d.invoice_number, 'invoice_title', d.invoice_title,
            'status', d.status, 'client_name', d.client_name, 'client_email', d.client_email,
            'issue_date', d.issue_date, 'due_date', d.due_date, 'subtotal', d.subtotal::text,
            'discount_amount', d.discount_amount::text, 'tax_amount', d.tax_amount::text,
            'shipping_amount', d.shipping_amount::text, 'total_amount', d.total_amount::text,
            'amount_paid', d.amount_paid::text, 'amount_due', d.amount_due::text, 'currency', d.currency,
            'notes', d.notes, 'terms', d.terms,
            'billing_address', json_build_object('line', d.billing_address_line, 'city', d.billing_city,
                'state', d.billing_state, 'postcode', d.billing_postcode, 'country', d.billing_country),
            'line_items', {lines},
            'payments', (SELECT coalesce(json_agg(json_build_object('amount', p.amount::text, 'payment_date', p.payment_date,
                             'payment_method', p.payment_method) ORDER BY p.payment_date DESC, p.created_at DESC), '[]')
                           FROM payment p WHERE p.invoice_id = d.id AND p.org_id = d.org_id),
            'org', (SELECT json_build_object('name', o.name) FROM organization o WHERE o.id = d.org_id),
            'template', {TEMPLATE})::text
           FROM (SELECT i.*, i.template_id AS tid FROM invoice i WHERE i.id = $1) d",
        lines = lines("invoice_line_item", "invoice_id"),
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tenant::commit(tx).await?;
    Ok(raw_json(StatusCode::OK, body))
}

/// The estimate behind a portal link (first view: Sent → Viewed).
#[utoipa::path(get, path = "/api/public/estimate/{token}/", tag = "portal",
    params(("token" = String, Path)),
    responses((status = 200, body = PublicEstimate), (status = 404, body = PortalMessage)))]
pub async fn estimate(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let (mut tx, id) = open(&state, "estimate", "Estimate", &token).await?;
    sqlx::query(
        "UPDATE estimate SET viewed_at = now(), status = CASE WHEN status = 'Sent' THEN 'Viewed' ELSE status END
          WHERE id = $1 AND viewed_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let text = format!(
        "SELECT json_build_object('id', d.id, 'estimate_number', d.estimate_number, 'title', d.title,
            'status', d.status, 'client_name', d.client_name, 'client_email', d.client_email,
            'issue_date', d.issue_date, 'expiry_date', d.expiry_date, 'subtotal', d.subtotal::text,
            'discount_amount', d.discount_amount::text, 'tax_amount', d.tax_amount::text,
            'total_amount', d.total_amount::text, 'currency', d.currency, 'notes', d.notes, 'terms', d.terms,
            'client_address', json_build_object('line', d.client_address_line, 'city', d.client_city,
                'state', d.client_state, 'postcode', d.client_postcode, 'country', d.client_country),
            'line_items', {lines},
            'org', (SELECT json_build_object('name', o.name) FROM organization o WHERE o.id = d.org_id),
            'template', {TEMPLATE})::text
           FROM (SELECT e.*, NULL::uuid AS tid FROM estimate e WHERE e.id = $1) d",
        lines = lines("estimate_line_item", "estimate_id"),
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tenant::commit(tx).await?;
    Ok(raw_json(StatusCode::OK, body))
}

async fn answer(state: &AppState, token: &str, to: &str) -> ApiResult<Json<Value>> {
    let (mut tx, id) = open(state, "estimate", "Estimate", token).await?;
    let (status, expired): (String, bool) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT status, (expiry_date IS NOT NULL AND expiry_date < {}) FROM estimate WHERE id = $1 FOR UPDATE",
        super::service::TODAY_SQL
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let verb = if to == "Accepted" {
        "accepted"
    } else {
        "declined"
    };
    if !matches!(status.as_str(), "Sent" | "Viewed") || expired {
        return Err(message(
            StatusCode::BAD_REQUEST,
            format!("Estimate cannot be {verb} in current state"),
        ));
    }
    let col = if to == "Accepted" {
        "accepted_at"
    } else {
        "declined_at"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE estimate SET status = $2, {col} = now() WHERE id = $1"
    )))
    .bind(id)
    .bind(to)
    .execute(&mut *tx)
    .await?;
    tenant::commit(tx).await?;
    let msg = if to == "Accepted" {
        "Estimate accepted successfully"
    } else {
        "Estimate declined"
    };
    Ok(Json(json!({"error": false, "message": msg})))
}

/// The client accepts a Sent or Viewed, unexpired estimate.
#[utoipa::path(post, path = "/api/public/estimate/{token}/accept/", tag = "portal",
    params(("token" = String, Path)),
    responses((status = 200, body = PortalMessage), (status = 400, body = PortalMessage), (status = 404, body = PortalMessage)))]
pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&state, &token, "Accepted").await
}

/// The client declines a Sent or Viewed, unexpired estimate.
#[utoipa::path(post, path = "/api/public/estimate/{token}/decline/", tag = "portal",
    params(("token" = String, Path)),
    responses((status = 200, body = PortalMessage), (status = 400, body = PortalMessage), (status = 404, body = PortalMessage)))]
pub async fn decline(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&state, &token, "Declined").await
}

/// Body of `POST .../public-link/`: all optional.
#[derive(Deserialize, ToSchema)]
pub struct PublicLinkBody {
    /// Issue a new token (the old link stops working). Default true.
    pub rotate: Option<bool>,
    /// Enable or disable the link.
    pub enabled: Option<bool>,
    /// Days until the link expires (null: never).
    pub expires_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicLink {
    pub error: bool,
    pub public_token: String,
    pub public_url: String,
    pub public_link_enabled: bool,
    pub public_link_expires_at: Option<String>,
}

async fn relink(
    mut t: Tenant,
    table: &'static str,
    kind: &str,
    raw: &str,
    body: serde_json::Map<String, Value>,
) -> ApiResult<Response> {
    let id = path_id(raw, kind)?;
    let vis = match table {
        "invoice" => super::model::VISIBILITY.sql("$3", "$4", "$5"),
        _ => super::estimates::VISIBILITY.sql("$3", "$4", "$5"),
    };
    let alias = if table == "invoice" { "i" } else { "e" };
    let text = format!(
        "SELECT {vis} FROM {table} {alias} WHERE {alias}.org_id = $1 AND {alias}.id = $2 FOR UPDATE"
    );
    let visible: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    match visible {
        None => return Err(super::handlers::not_found(kind)),
        Some(false) => return Err(super::handlers::denied()),
        Some(true) => {}
    }
    let mut fe = crate::error::FieldErrors::new();
    let rotate = match body.get("rotate") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            fe.add("rotate", "Must be a valid boolean.");
            true
        }
    };
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            fe.add("enabled", "Must be a valid boolean.");
            None
        }
    };
    let expires = match body.get("expires_in_days") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => match v.as_i64().filter(|d| (1..=3650).contains(d)) {
            Some(d) => Some(Some(d)),
            None => {
                fe.add(
                    "expires_in_days",
                    "Ensure this value is an integer between 1 and 3650.",
                );
                None
            }
        },
    };
    if !fe.is_empty() {
        return Err(crate::http::fields::invalid(fe));
    }
    let text = format!(
        "UPDATE {table} SET public_token = CASE WHEN $3 THEN $4 ELSE public_token END,
                public_link_enabled = coalesce($5, public_link_enabled),
                public_link_expires_at = CASE WHEN $6 THEN now() + make_interval(days => $7::int) ELSE
                                         CASE WHEN $8 THEN NULL ELSE public_link_expires_at END END,
                updated_at = now()
          WHERE org_id = $1 AND id = $2
          RETURNING json_build_object('error', false, 'public_token', public_token,
                    'public_url', '/portal/{kind_l}/' || public_token, 'public_link_enabled', public_link_enabled,
                    'public_link_expires_at', crm_ts(public_link_expires_at))::text",
        kind_l = kind.to_lowercase(),
    );
    let days = expires.flatten();
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(rotate)
        .bind(super::service::new_token())
        .bind(enabled)
        .bind(days.is_some())
        .bind(days.unwrap_or(0) as i32)
        .bind(matches!(expires, Some(None)))
        .fetch_one(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, body))
}

/// Rotates (default), disables/enables or sets the expiry of an invoice's portal link.
#[utoipa::path(post, path = "/api/invoices/{id}/public-link/", tag = "portal", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = PublicLinkBody, description = "All optional"),
    responses((status = 200, body = PublicLink), (status = 400), (status = 403), (status = 404)))]
pub async fn invoice_link(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    relink(t, "invoice", "Invoice", &id, body).await
}

/// The same for an estimate's portal link.
#[utoipa::path(post, path = "/api/invoices/estimates/{id}/public-link/", tag = "portal", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = PublicLinkBody, description = "All optional"),
    responses((status = 200, body = PublicLink), (status = 400), (status = 403), (status = 404)))]
pub async fn estimate_link(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    relink(t, "estimate", "Estimate", &id, body).await
}
