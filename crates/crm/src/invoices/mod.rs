//! Invoicing (issue 14): invoices with line items, payments and history, on the module toolkit.
//! Money is computed in one place (`money`), numbers are allocated per org (`service`).

pub mod dto;
pub mod estimates;
pub mod handlers;
pub mod model;
pub mod money;
pub mod payments;
pub mod portal;
pub mod products;
pub mod service;

use axum::Router;
use axum::routing::{delete, get, post, put};
use utoipa::OpenApi;

use crate::state::AppState;

/// The module's part of the OpenAPI document (merged by `crate::openapi::document`).
#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::create, handlers::detail, handlers::put, handlers::patch,
        handlers::delete, handlers::lines, handlers::add_line, handlers::put_line,
        handlers::patch_line, handlers::delete_line, handlers::send, handlers::cancel,
        handlers::duplicate, handlers::history, payments::list, payments::create,
        payments::mark_paid, payments::delete, estimates::list, estimates::create,
        estimates::detail, estimates::put, estimates::patch, estimates::delete, estimates::send,
        estimates::convert, products::list, products::create, products::detail, products::put,
        products::patch, products::delete, portal::invoice, portal::estimate, portal::accept,
        portal::decline, portal::invoice_link, portal::estimate_link,
    ),
    components(schemas(
        dto::InvoiceMessage, dto::InvoiceListObj, dto::InvoiceListResponse, dto::LineItemObj,
        dto::PaymentObj, dto::InvoiceObj, dto::InvoiceSaved, dto::HistoryObj,
        dto::InvoiceDetailResponse, dto::LineItemSaved, dto::PaymentSaved, dto::LineItemBody,
        dto::InvoiceBody, dto::PaymentBody, estimates::EstimateObj, estimates::EstimateListResponse,
        estimates::EstimateDetail, estimates::EstimateSaved, estimates::EstimateBody,
        products::ProductObj, products::ProductListResponse, products::ProductSaved, products::ProductBody,
        portal::PublicInvoice, portal::PublicEstimate, portal::PortalMessage, portal::PublicLinkBody,
        portal::PublicLink,
    )),
    tags((name = "invoices", description = "Invoices, line items, payments"),
         (name = "estimates", description = "Estimates (quotes)"),
         (name = "products", description = "Product catalogue"),
         (name = "portal", description = "Client portal (no login: the link's token) and its link management"))
)]
pub struct InvoicesApi;

pub fn routes() -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/api/invoices/", get(h::list).post(h::create))
        .route(
            "/api/invoices/{id}/",
            get(h::detail).put(h::put).patch(h::patch).delete(h::delete),
        )
        .route(
            "/api/invoices/{id}/line-items/",
            get(h::lines).post(h::add_line),
        )
        .route(
            "/api/invoices/{id}/line-items/{line_id}/",
            put(h::put_line).patch(h::patch_line).delete(h::delete_line),
        )
        .route("/api/invoices/{id}/send/", post(h::send))
        .route("/api/invoices/{id}/cancel/", post(h::cancel))
        .route("/api/invoices/{id}/duplicate/", post(h::duplicate))
        .route("/api/invoices/{id}/history/", get(h::history))
        .route(
            "/api/invoices/{id}/payments/",
            get(payments::list).post(payments::create),
        )
        .route(
            "/api/invoices/{id}/payments/{payment_id}/",
            delete(payments::delete),
        )
        .route("/api/invoices/{id}/mark-paid/", post(payments::mark_paid))
        .route(
            "/api/invoices/estimates/",
            get(estimates::list).post(estimates::create),
        )
        .route(
            "/api/invoices/estimates/{id}/",
            get(estimates::detail)
                .put(estimates::put)
                .patch(estimates::patch)
                .delete(estimates::delete),
        )
        .route("/api/invoices/estimates/{id}/send/", post(estimates::send))
        .route(
            "/api/invoices/{id}/public-link/",
            post(portal::invoice_link),
        )
        .route(
            "/api/invoices/estimates/{id}/public-link/",
            post(portal::estimate_link),
        )
        .route("/api/public/invoice/{token}/", get(portal::invoice))
        .route("/api/public/estimate/{token}/", get(portal::estimate))
        .route("/api/public/estimate/{token}/accept/", post(portal::accept))
        .route(
            "/api/public/estimate/{token}/decline/",
            post(portal::decline),
        )
        .route(
            "/api/invoices/products/",
            get(products::list).post(products::create),
        )
        .route(
            "/api/invoices/products/{id}/",
            get(products::detail)
                .put(products::put)
                .patch(products::patch)
                .delete(products::delete),
        )
        .route(
            "/api/invoices/estimates/{id}/convert/",
            post(estimates::convert),
        )
}
