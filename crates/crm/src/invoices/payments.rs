//! Payments of an invoice: list, record (also `mark-paid`), delete. Each one re-derives the
//! invoice's paid/due amounts and status (`service::settle`) and leaves a history row. Amounts
//! must be > 0 and at most the amount due; a cancelled invoice takes no payment.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::dto::{self, PaymentInput};
use super::handlers::{message, not_found, path_id, raw_json, saved, visible};
use super::model;
use super::money;
use super::service;
use crate::common::activity::{self, Action};
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;

#[utoipa::path(get, path = "/api/invoices/{id}/payments/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::PaymentObj>), (status = 403), (status = 404)))]
pub async fn list(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let body = model::payments_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, body))
}

/// Checks the payment against the invoice and records it; returns the payment id.
async fn record(t: &mut Tenant, id: Uuid, status: &str, p: PaymentInput) -> Result<Uuid, ApiError> {
    let actor = t.actor();
    if status == "Cancelled" {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "A cancelled invoice cannot be paid",
        ));
    }
    let due: String =
        sqlx::query_scalar("SELECT amount_due::text FROM invoice WHERE org_id = $1 AND id = $2")
            .bind(t.org_id)
            .bind(id)
            .fetch_one(&mut *t.tx)
            .await?;
    let due = money::dec(&due);
    let amount = p.amount.unwrap_or(due);
    let mut fe = FieldErrors::new();
    if due <= Decimal::ZERO {
        fe.add("amount", "Nothing is due on this invoice.");
    } else if amount <= Decimal::ZERO {
        fe.add("amount", "Ensure this value is greater than 0.");
    } else if amount > due {
        fe.add(
            "amount",
            format!(
                "Ensure this value is less than or equal to the amount due ({}).",
                money::text(due)
            ),
        );
    }
    if !fe.is_empty() {
        return Err(invalid(fe));
    }
    let pid = Uuid::new_v4();
    let method = p.payment_method.unwrap_or_else(|| "OTHER".into());
    sqlx::query(
        "INSERT INTO payment (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_id, amount,
                              payment_date, payment_method, reference_number, notes)
         VALUES (now(), now(), $1, $2, $3, $3, $4, $5::numeric, $6, $7, $8, $9)",
    )
    .bind(pid)
    .bind(t.org_id)
    .bind(actor)
    .bind(id)
    .bind(money::text(amount))
    .bind(p.payment_date.unwrap_or_else(service::today))
    .bind(&method)
    .bind(&p.reference_number)
    .bind(&p.notes)
    .execute(&mut *t.tx)
    .await?;
    let new_status = service::settle(&mut t.tx, t.org_id, id).await?;
    let what = format!(
        "Payment of {} recorded ({method}); status: {status} → {new_status}",
        money::text(amount)
    );
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    activity::record(t, Action::Update, "Invoice", id, "payment").await?;
    Ok(pid)
}

/// Records a payment (amount > 0 and at most the amount due, date, method).
#[utoipa::path(post, path = "/api/invoices/{id}/payments/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::PaymentBody,
    responses((status = 201, body = dto::PaymentSaved),
              (status = 400, description = "field errors (`amount` above the amount due...) or a cancelled invoice"),
              (status = 403), (status = 404)))]
pub async fn create(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = path_id(&id, "Invoice")?;
    let cur = visible(&mut t, id).await?;
    let mut fe = FieldErrors::new();
    let p = dto::validate_payment(&body, true, &mut fe);
    if !fe.is_empty() {
        return Err(invalid(fe));
    }
    let pid = record(&mut t, id, &cur.status, p).await?;
    let payment: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT ({})::text FROM payment p WHERE p.org_id = $1 AND p.id = $2",
        model::PAYMENT_OBJ
    )))
    .bind(t.org_id)
    .bind(pid)
    .fetch_one(&mut *t.tx)
    .await?;
    let invoice = model::invoice_list_obj(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    let body = format!(
        "{{\"error\":false,\"message\":\"Payment recorded\",\"payment\":{payment},\"invoice\":{invoice}}}"
    );
    Ok(raw_json(StatusCode::CREATED, body))
}

/// Records a payment of the balance (or of `amount`), method OTHER and today unless given.
#[utoipa::path(post, path = "/api/invoices/{id}/mark-paid/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::PaymentBody, description = "All optional"),
    responses((status = 200, body = dto::InvoiceSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn mark_paid(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = path_id(&id, "Invoice")?;
    let cur = visible(&mut t, id).await?;
    let mut fe = FieldErrors::new();
    let p = dto::validate_payment(&body, false, &mut fe);
    if !fe.is_empty() {
        return Err(invalid(fe));
    }
    record(&mut t, id, &cur.status, p).await?;
    let obj = model::invoice_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::OK,
        "Payment recorded successfully",
        "invoice",
        &obj,
    ))
}

/// Deletes a payment; the invoice goes back to Partially_Paid, or to its unpaid status with
/// `paid_at` cleared when nothing is paid any more.
#[utoipa::path(delete, path = "/api/invoices/{id}/payments/{payment_id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("payment_id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 403), (status = 404)))]
pub async fn delete(
    mut t: Tenant,
    Path((id, payment_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    let payment_id = path_id(&payment_id, "Payment")?;
    let cur = visible(&mut t, id).await?;
    let amount: Option<String> = sqlx::query_scalar(
        "DELETE FROM payment WHERE org_id = $1 AND invoice_id = $2 AND id = $3 RETURNING amount::text",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(payment_id)
    .fetch_optional(&mut *t.tx)
    .await?;
    let amount = amount.ok_or_else(|| not_found("Payment"))?;
    let new_status = service::settle(&mut t.tx, t.org_id, id).await?;
    let what = format!(
        "Payment of {amount} deleted; status: {} → {new_status}",
        cur.status
    );
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    activity::record(&mut t, Action::Update, "Invoice", id, "payment deleted").await?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Payment deleted"})))
}
