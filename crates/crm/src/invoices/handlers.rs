//! `/api/invoices/...`: invoices and their line items, send / cancel / duplicate, history.
//! Upstream's envelopes (`{"error": false, "message", "invoice"}`, DRF's paginated list);
//! upstream's 500s are 4xx, its permission bugs fixed (creator, assignee or team member, or an
//! admin, on every invoice endpoint).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, DocInput, Errors};
use super::model::{self, Viewer};
use super::money;
use super::service::{self, INVOICE, Line};
use crate::common::activity::{self, Action};
use crate::common::comments::{self, INVOICES};
use crate::common::relations::{self, Kind, Rel};
use crate::db::Tenant;
use crate::db::sql::{self, LinkList, Val};
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::pagination::Page;
use crate::http::query::RawQuery;
use crate::state::AppState;

/// `{"error": true, "message": ...}` with a status (upstream's invoice envelope).
pub fn message(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(status, json!({"error": true, "message": msg.into()}))
}

pub fn not_found(thing: &str) -> ApiError {
    message(StatusCode::NOT_FOUND, format!("{thing} not found"))
}

pub fn denied() -> ApiError {
    message(StatusCode::FORBIDDEN, "Permission denied")
}

/// A path id: malformed = not found (upstream's URL pattern does not match).
pub fn path_id(raw: &str, thing: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| not_found(thing))
}

pub fn raw_json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `{"error": false, "message": msg, key: <json text>}` with a status.
pub fn saved(status: StatusCode, msg: &str, key: &str, obj: &str) -> Response {
    let head = serde_json::to_string(&json!({"error": false, "message": msg})).unwrap_or_default();
    let mut body = head[..head.len() - 1].to_string();
    body.push_str(&format!(",{}:{obj}}}", Value::String(key.into())));
    raw_json(status, body)
}

/// Locks the invoice and checks the caller may act on it (404 outside the org, 403 otherwise).
pub async fn visible(t: &mut Tenant, id: Uuid) -> Result<model::Current, ApiError> {
    let v = Viewer::of(t);
    let cur = model::current(&mut t.tx, &v, id)
        .await?
        .ok_or_else(|| not_found("Invoice"))?;
    if !cur.visible {
        return Err(denied());
    }
    Ok(cur)
}

/// DRF's `next`/`previous` links for a limit/offset page.
fn page_links(
    state: &AppState,
    path: &str,
    q: &RawQuery,
    page: Page,
    count: i64,
) -> (Value, Value) {
    let base = crate::http::base_url::current(&state.cfg);
    let link = |offset: i64| {
        let mut pairs: Vec<(String, String)> =
            q.0.iter()
                .filter(|(k, _)| k != "limit" && k != "offset")
                .cloned()
                .collect();
        pairs.push(("limit".into(), page.limit.to_string()));
        if offset > 0 {
            pairs.push(("offset".into(), offset.to_string()));
        }
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        Value::String(format!("{base}{path}?{qs}"))
    };
    let after = page.offset.saturating_add(page.limit);
    let next = if after < count {
        link(after)
    } else {
        Value::Null
    };
    let previous = if page.offset > 0 {
        link(page.offset.saturating_sub(page.limit).max(0))
    } else {
        Value::Null
    };
    (next, previous)
}

/// `{count, next, previous, results}` around a rendered results array.
pub fn paginated(
    state: &AppState,
    path: &str,
    q: &RawQuery,
    page: Page,
    count: i64,
    results: &str,
) -> Response {
    let (next, previous) = page_links(state, path, q, page, count);
    raw_json(
        StatusCode::OK,
        format!(
            "{{\"count\":{count},\"next\":{next},\"previous\":{previous},\"results\":{results}}}"
        ),
    )
}

/// Invoices the caller may see (admins: all; others: created by them, assigned to them or to
/// one of their teams), DRF-paginated, newest first.
#[utoipa::path(get, path = "/api/invoices/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "title, number, client name or e-mail contains"),
        ("status" = Option<String>, Query), ("account" = Option<Uuid>, Query), ("contact" = Option<Uuid>, Query),
        ("opportunity" = Option<Uuid>, Query), ("created_by" = Option<Uuid>, Query, description = "user id"),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids"),
        ("issue_date_gte" = Option<String>, Query), ("issue_date_lte" = Option<String>, Query),
        ("due_date_gte" = Option<String>, Query), ("due_date_lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "created_at, due_date, issue_date, total_amount, status, invoice_number, amount_due; `-` for descending (`sort` accepted too)"),
    ),
    responses((status = 200, body = dto::InvoiceListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let v = Viewer::of(&t);
    let (count, results) = model::list_json(&mut t.tx, &v, &q, page).await?;
    t.commit().await?;
    Ok(paginated(
        &state,
        "/api/invoices/",
        &q,
        page,
        count,
        &results,
    ))
}

/// Checks every id the body names against the org (another org's id is a 400 on its field),
/// the contact against the account, and the products of the lines.
pub async fn check_refs(
    tx: &mut Tx,
    org: Uuid,
    input: &mut DocInput,
    errors: &mut Errors,
    template_table: Option<&str>,
) -> Result<(), ApiError> {
    let products: Vec<Uuid> = input
        .lines
        .iter()
        .flatten()
        .filter_map(|l| l.product)
        .collect();
    let (account, contact, opportunity, template) = (
        input.account.flatten(),
        input.contact.flatten(),
        input.opportunity.flatten(),
        input.template.flatten(),
    );
    let template_table = template_table.unwrap_or("invoice_template");
    let text = format!(
        "SELECT ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE org_id = $1 AND id = $2)),
                ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM contacts WHERE org_id = $1 AND id = $3)),
                ($2::uuid IS NULL OR $3::uuid IS NULL OR EXISTS (
                    SELECT 1 FROM contacts c WHERE c.org_id = $1 AND c.id = $3
                       AND (c.account_id IS NULL OR c.account_id = $2
                            OR EXISTS (SELECT 1 FROM accounts_contacts x WHERE x.contact_id = c.id AND x.account_id = $2)))),
                ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM opportunity WHERE org_id = $1 AND id = $4)),
                ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM {template_table} WHERE org_id = $1 AND id = $5)),
                ARRAY(SELECT x FROM unnest($6::uuid[]) x
                       WHERE NOT EXISTS (SELECT 1 FROM product p WHERE p.org_id = $1 AND p.id = x))"
    );
    let row: (bool, bool, bool, bool, bool, Vec<Uuid>) = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(account)
        .bind(contact)
        .bind(opportunity)
        .bind(template)
        .bind(&products)
        .fetch_one(&mut **tx)
        .await?;
    let fe = &mut errors.fields;
    let key = |k: &'static str| k;
    if !row.0 {
        fe.add(
            key("account_id"),
            "Account not found or does not belong to your organization",
        );
    }
    if !row.1 {
        fe.add(
            "contact_id",
            "Contact not found or does not belong to your organization",
        );
    } else if row.0 && !row.2 {
        fe.add(
            "contact_id",
            "Contact does not belong to the selected account",
        );
    }
    if !row.3 {
        fe.add(
            "opportunity_id",
            "Opportunity not found or does not belong to your organization",
        );
    }
    if !row.4 {
        fe.add(
            "template_id",
            "Template not found or does not belong to your organization",
        );
    }
    if !row.5.is_empty()
        && let Some(lines) = &input.lines
    {
        for (i, l) in lines.iter().enumerate() {
            if let Some(p) = l.product
                && row.5.contains(&p)
            {
                while errors.lines.len() <= i {
                    errors.lines.push(FieldErrors::new());
                }
                errors.lines[i].add(
                    "product",
                    format!("Invalid pk \"{p}\" - object does not exist."),
                );
            }
        }
    }
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
    ];
    relations::check(tx, org, &mut rels, None, &mut errors.fields).await
}

/// The header check before anything is written: the lines' and header's discounts and rates.
fn precheck_totals(input: &DocInput, current: Option<&money::HeaderIn>, errors: &mut Errors) {
    let Some(lines) = &input.lines else { return };
    if !errors.is_empty() {
        return;
    }
    let mut h = current.cloned().unwrap_or_default();
    if let Some(t) = input.discount_type {
        h.discount_type = t;
    }
    let num = |c: &str| match input.get(c) {
        Some(Val::Num(Some(s))) => Some(money::dec(s)),
        _ => None,
    };
    if let Some(v) = num("discount_value") {
        h.discount_value = v;
    }
    if let Some(v) = num("tax_rate") {
        h.tax_rate = v;
    }
    let totals: Vec<money::LineTotals> = lines.iter().map(|l| l.totals).collect();
    if let Err((field, msg)) = money::header(&totals, &h) {
        errors.fields.add(field, msg);
    }
}

/// The body's columns plus FKs, discount type and status, as `Val`s.
fn columns(input: &DocInput) -> Vec<(&'static str, Val)> {
    let mut cols = input.fields.clone();
    for (col, v) in [
        ("account_id", input.account),
        ("contact_id", input.contact),
        ("opportunity_id", input.opportunity),
        ("template_id", input.template),
    ] {
        if let Some(v) = v {
            cols.push((col, Val::Uuid(v)));
        }
    }
    if let Some(t) = input.discount_type {
        cols.push(("discount_type", Val::Text(Some(t.as_str().into()))));
    }
    if let Some(s) = &input.status {
        cols.push(("status", Val::Text(Some(s.clone()))));
    }
    cols
}

/// Sets the timestamps a status implies (`sent_at` on Sent, `cancelled_at` on Cancelled).
async fn stamp_status(tx: &mut Tx, org: Uuid, id: Uuid, status: &str) -> Result<(), ApiError> {
    let col = match status {
        "Sent" => "sent_at",
        "Cancelled" => "cancelled_at",
        _ => return Ok(()),
    };
    let text =
        format!("UPDATE invoice SET {col} = coalesce({col}, now()) WHERE org_id = $1 AND id = $2");
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Recomputes the header, re-derives the payment state and fills an empty due date; a refused
/// recomputation is a 400 naming the field.
pub async fn refresh(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    if let Err((field, msg)) = service::recompute(tx, &INVOICE, org, id).await? {
        let mut e = FieldErrors::new();
        e.add(field, msg);
        return Err(crate::http::fields::invalid(e));
    }
    let terms = dto::PAYMENT_TERMS
        .iter()
        .map(|t| format!("WHEN '{t}' THEN {}", dto::term_days(t)))
        .collect::<Vec<_>>()
        .join(" ");
    let text = format!(
        "UPDATE invoice SET due_date = issue_date + (CASE payment_terms {terms} ELSE 30 END)
          WHERE org_id = $1 AND id = $2 AND due_date IS NULL"
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    service::settle(tx, org, id).await
}

async fn sync_links(t: &mut Tenant, id: Uuid, input: &DocInput) -> Result<(), ApiError> {
    let lists = [
        LinkList {
            table: "invoice_assigned_to",
            col: "profile_id",
            ids: input.assigned_to.as_deref(),
        },
        LinkList {
            table: "invoice_teams",
            col: "teams_id",
            ids: input.teams.as_deref(),
        },
    ];
    let assigned = sql::sync_links(
        &mut t.tx,
        "invoice_id",
        id,
        t.profile_id,
        "invoice_assigned_to",
        &lists,
    )
    .await?;
    let name = sqlx::query_scalar::<_, String>(
        "SELECT invoice_number FROM invoice WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .fetch_one(&mut *t.tx)
    .await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Invoice",
        &INVOICES.page_path(id),
        &name,
        &by,
    )
    .await
}

/// Any member creates; `account_id` and `contact_id` of the org are required. Status may be
/// Draft, Sent or Pending. Numbers are allocated per org (`INV-YYYYMMDD-NNNN`, UTC date).
#[utoipa::path(post, path = "/api/invoices/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::InvoiceBody,
    responses((status = 201, body = dto::InvoiceSaved),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg], line_items: [{field: [msg]}]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let actor = t.actor();
    let mut errors = Errors::default();
    let mut input = dto::validate_doc(&body, &mut errors);
    for (key, present) in [
        ("invoice_title", body.contains_key("invoice_title")),
        (
            "account_id",
            input.account.flatten().is_some() || errors.fields.has("account_id"),
        ),
        (
            "contact_id",
            input.contact.flatten().is_some() || errors.fields.has("contact_id"),
        ),
    ] {
        if !present {
            errors.fields.add(key, "This field is required.");
        }
    }
    if let Some(s) = &input.status
        && let Err(msg) = service::may_set_status(None, s)
    {
        errors.fields.add("status", msg);
    }
    check_refs(&mut t.tx, t.org_id, &mut input, &mut errors, None).await?;
    precheck_totals(&input, None, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let id = Uuid::new_v4();
    let number = service::allocate_number(&mut t.tx, t.org_id, &INVOICE).await?;
    let mut cols = columns(&input);
    cols.push(("invoice_number", Val::Text(Some(number.clone()))));
    cols.push(("public_token", Val::Text(Some(service::new_token()))));
    if input.get("issue_date").is_none() {
        cols.push(("issue_date", Val::Date(Some(service::today()))));
    }
    sql::insert(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        actor,
        id,
        &cols,
        &dto::defaults(),
    )
    .await?;
    if let Some(lines) = &input.lines {
        service::insert_lines(&mut t.tx, &INVOICE, t.org_id, actor, id, lines).await?;
    }
    refresh(&mut t.tx, t.org_id, id).await?;
    if let Some(s) = &input.status {
        stamp_status(&mut t.tx, t.org_id, id, s).await?;
    }
    sync_links(&mut t, id, &input).await?;
    service::history(
        &mut t.tx,
        t.org_id,
        id,
        actor,
        Some(t.profile_id),
        "Invoice created.",
    )
    .await?;
    activity::record(&mut t, Action::Create, "Invoice", id, &number).await?;
    let obj = model::invoice_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Invoice created successfully",
        "invoice",
        &obj,
    ))
}

/// `{"invoice", "attachments", "comments", "history"}`.
#[utoipa::path(get, path = "/api/invoices/{id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let invoice: Value = serde_json::from_str(&model::invoice_json(&mut t.tx, t.org_id, id).await?)
        .map_err(ApiError::internal)?;
    let history: Value = serde_json::from_str(&model::history_json(&mut t.tx, t.org_id, id).await?)
        .map_err(ApiError::internal)?;
    let (comments, attachments) =
        comments::comments_and_attachments(&state, &mut t.tx, t.org_id, &INVOICES, id).await?;
    t.commit().await?;
    Ok(Json(json!({
        "invoice": invoice,
        "attachments": attachments,
        "comments": comments,
        "history": history,
    })))
}

/// PUT and PATCH: partial (upstream's PUT is partial; the frontend's PUT re-sends everything).
/// `line_items` present replaces every line. `status` only through allowed transitions.
async fn write(mut t: Tenant, raw_id: &str, body: Map<String, Value>) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(raw_id, "Invoice")?;
    let cur = visible(&mut t, id).await?;
    let mut errors = Errors::default();
    let mut input = dto::validate_doc(&body, &mut errors);
    if let Some(s) = &input.status
        && let Err(msg) = service::may_set_status(Some(&cur.status), s)
    {
        errors.fields.add("status", msg);
    }
    if input.status.as_deref() == Some(cur.status.as_str()) {
        input.status = None;
    }
    check_refs(&mut t.tx, t.org_id, &mut input, &mut errors, None).await?;
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let before = service::snapshot(&mut t.tx, t.org_id, id)
        .await?
        .unwrap_or_default();
    sql::update(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        t.user_id,
        id,
        &columns(&input),
    )
    .await?;
    if let Some(lines) = &input.lines {
        service::delete_lines(&mut t.tx, &INVOICE, t.org_id, id).await?;
        service::insert_lines(&mut t.tx, &INVOICE, t.org_id, actor, id, lines).await?;
    }
    refresh(&mut t.tx, t.org_id, id).await?;
    if let Some(s) = &input.status {
        stamp_status(&mut t.tx, t.org_id, id, s).await?;
    }
    sync_links(&mut t, id, &input).await?;
    let after = service::snapshot(&mut t.tx, t.org_id, id)
        .await?
        .unwrap_or_default();
    let changes = service::changes(&before, &after);
    if !changes.is_empty() {
        service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &changes).await?;
    }
    let number = after
        .iter()
        .find(|(k, _)| k == "invoice_title")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    activity::record(&mut t, Action::Update, "Invoice", id, &number).await?;
    let obj = model::invoice_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::OK,
        "Invoice updated successfully",
        "invoice",
        &obj,
    ))
}

#[utoipa::path(put, path = "/api/invoices/{id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::InvoiceBody,
    responses((status = 200, body = dto::InvoiceSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

#[utoipa::path(patch, path = "/api/invoices/{id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::InvoiceBody, description = "Any of these"),
    responses((status = 200, body = dto::InvoiceSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

/// Admins only (upstream had no delete API): the invoice with its lines, payments, history,
/// links, comments and attachments; estimates converted into it become convertible again.
#[utoipa::path(delete, path = "/api/invoices/{id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    if !t.is_admin() {
        return Err(denied());
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &INVOICES, id).await?;
    let number = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Invoice", id, &number).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Invoice deleted successfully"}),
    ))
}

// ---- line items ----

#[utoipa::path(get, path = "/api/invoices/{id}/line-items/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::LineItemObj>), (status = 403), (status = 404)))]
pub async fn lines(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let body = model::lines_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, body))
}

/// A line's stored inputs, to apply a partial update on.
async fn load_line(tx: &mut Tx, org: Uuid, invoice: Uuid, line: Uuid) -> Result<Line, ApiError> {
    type Row = (
        Option<Uuid>,
        Option<String>,
        String,
        String,
        String,
        String,
        String,
        String,
        i32,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT product_id, name, description, quantity::text, unit_price::text, discount_type,
                discount_value::text, tax_rate::text, \"order\"
           FROM invoice_line_item WHERE org_id = $1 AND invoice_id = $2 AND id = $3 FOR UPDATE",
    )
    .bind(org)
    .bind(invoice)
    .bind(line)
    .fetch_optional(&mut **tx)
    .await?;
    let (product, name, description, q, p, dt, dv, tr, order) =
        row.ok_or_else(|| not_found("Line item"))?;
    Ok(Line {
        product,
        name,
        description,
        input: money::LineIn {
            quantity: money::dec(&q),
            unit_price: money::dec(&p),
            discount_type: money::DiscountType::parse(&dt).unwrap_or_default(),
            discount_value: money::dec(&dv),
            tax_rate: money::dec(&tr),
        },
        order,
        totals: Default::default(),
    })
}

/// Validates a line body (on top of `base`) and checks its product.
async fn line_input(
    t: &mut Tenant,
    body: &Map<String, Value>,
    base: Option<&Line>,
) -> Result<Line, ApiError> {
    let mut fe = FieldErrors::new();
    let line = validate_line_checked(&mut t.tx, t.org_id, body, base, &mut fe).await?;
    if !fe.is_empty() {
        return Err(crate::http::fields::invalid(fe));
    }
    Ok(line)
}

pub async fn validate_line_checked(
    tx: &mut Tx,
    org: Uuid,
    body: &Map<String, Value>,
    base: Option<&Line>,
    fe: &mut FieldErrors,
) -> Result<Line, ApiError> {
    let line = dto::validate_line(body, base, 0, fe);
    if let Some(p) = line.product {
        let ok: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM product WHERE org_id = $1 AND id = $2)",
        )
        .bind(org)
        .bind(p)
        .fetch_one(&mut **tx)
        .await?;
        if !ok {
            fe.add(
                "product",
                format!("Invalid pk \"{p}\" - object does not exist."),
            );
        }
    }
    Ok(line)
}

#[utoipa::path(post, path = "/api/invoices/{id}/line-items/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = dto::LineItemBody,
    responses((status = 201, body = dto::LineItemSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn add_line(
    mut t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let mut line = line_input(&mut t, &body, None).await?;
    if !body.contains_key("order") {
        line.order = 0;
    }
    let ids =
        service::insert_lines(&mut t.tx, &INVOICE, t.org_id, actor, id, &[line.clone()]).await?;
    refresh(&mut t.tx, t.org_id, id).await?;
    let what = format!("Line item added: {}", line_label(&line));
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    let obj = model::line_json(&mut t.tx, t.org_id, id, ids[0])
        .await?
        .unwrap_or_default();
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Line item added",
        "line_item",
        &obj,
    ))
}

fn line_label(l: &Line) -> String {
    let name = l.name.clone().unwrap_or_else(|| l.description.clone());
    format!(
        "{} ({} × {})",
        name.chars().take(60).collect::<String>(),
        money::text(l.input.quantity),
        money::text(l.input.unit_price)
    )
}

async fn write_line(
    mut t: Tenant,
    id: &str,
    line_id: &str,
    body: Map<String, Value>,
) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(id, "Invoice")?;
    let line_id = path_id(line_id, "Line item")?;
    visible(&mut t, id).await?;
    let base = load_line(&mut t.tx, t.org_id, id, line_id).await?;
    let line = line_input(&mut t, &body, Some(&base)).await?;
    let l = &line;
    sqlx::query(
        "UPDATE invoice_line_item SET updated_at = now(), updated_by_id = $4, product_id = $5, name = $6,
                description = $7, quantity = $8::numeric, unit_price = $9::numeric, discount_type = $10,
                discount_value = $11::numeric, discount_amount = $12::numeric, tax_rate = $13::numeric,
                tax_amount = $14::numeric, subtotal = $15::numeric, total = $16::numeric, \"order\" = $17
          WHERE org_id = $1 AND invoice_id = $2 AND id = $3",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(line_id)
    .bind(actor)
    .bind(l.product)
    .bind(&l.name)
    .bind(&l.description)
    .bind(money::text(l.input.quantity))
    .bind(money::text(l.input.unit_price))
    .bind(l.input.discount_type.as_str())
    .bind(money::text(l.input.discount_value))
    .bind(money::text(l.totals.discount_amount))
    .bind(money::text(l.input.tax_rate))
    .bind(money::text(l.totals.tax_amount))
    .bind(money::text(l.totals.subtotal))
    .bind(money::text(l.totals.total))
    .bind(l.order)
    .execute(&mut *t.tx)
    .await?;
    refresh(&mut t.tx, t.org_id, id).await?;
    let what = format!(
        "Line item updated: {} → {}",
        line_label(&base),
        line_label(&line)
    );
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    let obj = model::line_json(&mut t.tx, t.org_id, id, line_id)
        .await?
        .unwrap_or_default();
    t.commit().await?;
    Ok(saved(
        StatusCode::OK,
        "Line item updated",
        "line_item",
        &obj,
    ))
}

#[utoipa::path(put, path = "/api/invoices/{id}/line-items/{line_id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)), request_body(content = dto::LineItemBody, description = "Any of these"),
    responses((status = 200, body = dto::LineItemSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn put_line(
    t: Tenant,
    Path((id, line_id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_line(t, &id, &line_id, body).await
}

#[utoipa::path(patch, path = "/api/invoices/{id}/line-items/{line_id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)), request_body(content = dto::LineItemBody, description = "Any of these"),
    responses((status = 200, body = dto::LineItemSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn patch_line(
    t: Tenant,
    Path((id, line_id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write_line(t, &id, &line_id, body).await
}

#[utoipa::path(delete, path = "/api/invoices/{id}/line-items/{line_id}/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path), ("line_id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn delete_line(
    mut t: Tenant,
    Path((id, line_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    let line_id = path_id(&line_id, "Line item")?;
    visible(&mut t, id).await?;
    let base = load_line(&mut t.tx, t.org_id, id, line_id).await?;
    sqlx::query("DELETE FROM invoice_line_item WHERE org_id = $1 AND invoice_id = $2 AND id = $3")
        .bind(t.org_id)
        .bind(id)
        .bind(line_id)
        .execute(&mut *t.tx)
        .await?;
    refresh(&mut t.tx, t.org_id, id).await?;
    let what = format!("Line item deleted: {}", line_label(&base));
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Line item deleted"}),
    ))
}

// ---- actions ----

/// Draft → Sent (`sent_at`); a cancelled invoice cannot be sent.
#[utoipa::path(post, path = "/api/invoices/{id}/send/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn send(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    let cur = visible(&mut t, id).await?;
    if cur.status == "Cancelled" {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "A cancelled invoice cannot be sent",
        ));
    }
    sqlx::query(
        "UPDATE invoice SET status = CASE WHEN status = 'Draft' THEN 'Sent' ELSE status END,
                sent_at = now(), is_email_sent = true, updated_at = now(), updated_by_id = $3
          WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(actor)
    .execute(&mut *t.tx)
    .await?;
    service::history(
        &mut t.tx,
        t.org_id,
        id,
        actor,
        Some(t.profile_id),
        "Invoice sent.",
    )
    .await?;
    activity::record(&mut t, Action::Update, "Invoice", id, "sent").await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Invoice sent successfully"}),
    ))
}

/// Cancels an unpaid invoice (payments are kept).
#[utoipa::path(post, path = "/api/invoices/{id}/cancel/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn cancel(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    let cur = visible(&mut t, id).await?;
    match cur.status.as_str() {
        "Cancelled" => {
            return Err(message(
                StatusCode::BAD_REQUEST,
                "Invoice is already cancelled",
            ));
        }
        "Paid" => {
            return Err(message(
                StatusCode::BAD_REQUEST,
                "Cannot cancel a paid invoice",
            ));
        }
        _ => {}
    }
    sqlx::query(
        "UPDATE invoice SET status = 'Cancelled', cancelled_at = now(), updated_at = now(), updated_by_id = $3
          WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(actor)
    .execute(&mut *t.tx)
    .await?;
    let what = format!("status: {} → Cancelled", cur.status);
    service::history(&mut t.tx, t.org_id, id, actor, Some(t.profile_id), &what).await?;
    activity::record(&mut t, Action::Update, "Invoice", id, "cancelled").await?;
    let obj = model::invoice_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::OK,
        "Invoice cancelled successfully",
        "invoice",
        &obj,
    ))
}

/// A Draft copy ("Copy of ..."), new number and token, issued today; lines copied; payments,
/// history, PO number and billing period not.
#[utoipa::path(post, path = "/api/invoices/{id}/duplicate/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = dto::InvoiceSaved), (status = 403), (status = 404)))]
pub async fn duplicate(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let new_id = Uuid::new_v4();
    let number = service::allocate_number(&mut t.tx, t.org_id, &INVOICE).await?;
    sqlx::query(
        "INSERT INTO invoice (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_title,
            invoice_number, status, account_id, contact_id, opportunity_id, client_name, client_email, client_phone,
            billing_address_line, billing_city, billing_state, billing_postcode, billing_country,
            client_address_line, client_city, client_state, client_postcode, client_country,
            subtotal, discount_type, discount_value, discount_amount, tax_rate, tax_amount, shipping_amount,
            total_amount, currency, amount_paid, amount_due, issue_date, due_date, payment_terms,
            reminder_enabled, reminder_days_before, reminder_days_after, reminder_frequency, reminder_count,
            public_token, public_link_enabled, template_id, notes, terms, is_email_sent)
         SELECT now(), now(), $3, org_id, $4, $4, left('Copy of ' || invoice_title, 100), $5, 'Draft', account_id,
            contact_id, opportunity_id, client_name, client_email, client_phone,
            billing_address_line, billing_city, billing_state, billing_postcode, billing_country,
            client_address_line, client_city, client_state, client_postcode, client_country,
            0, discount_type, discount_value, 0, tax_rate, 0, shipping_amount, 0, currency, 0, 0, $6, NULL,
            payment_terms, reminder_enabled, reminder_days_before, reminder_days_after, reminder_frequency, 0,
            $7, true, template_id, notes, terms, false
           FROM invoice WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(new_id)
    .bind(actor)
    .bind(&number)
    .bind(service::today())
    .bind(service::new_token())
    .execute(&mut *t.tx)
    .await?;
    sqlx::query(
        "INSERT INTO invoice_line_item (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_id,
            product_id, name, description, quantity, unit_price, discount_type, discount_value, discount_amount,
            tax_rate, tax_amount, subtotal, total, \"order\")
         SELECT now(), now(), gen_random_uuid(), org_id, $4, $4, $3, product_id, name, description, quantity,
            unit_price, discount_type, discount_value, discount_amount, tax_rate, tax_amount, subtotal, total, \"order\"
           FROM invoice_line_item WHERE org_id = $1 AND invoice_id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(new_id)
    .bind(actor)
    .execute(&mut *t.tx)
    .await?;
    refresh(&mut t.tx, t.org_id, new_id).await?;
    let old: String =
        sqlx::query_scalar("SELECT invoice_number FROM invoice WHERE org_id = $1 AND id = $2")
            .bind(t.org_id)
            .bind(id)
            .fetch_one(&mut *t.tx)
            .await?;
    let what = format!("Invoice created as a copy of {old}.");
    service::history(
        &mut t.tx,
        t.org_id,
        new_id,
        actor,
        Some(t.profile_id),
        &what,
    )
    .await?;
    activity::record(&mut t, Action::Create, "Invoice", new_id, &number).await?;
    let obj = model::invoice_json(&mut t.tx, t.org_id, new_id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Invoice duplicated successfully",
        "invoice",
        &obj,
    ))
}

/// The invoice's history, newest first (who, what changed).
#[utoipa::path(get, path = "/api/invoices/{id}/history/", tag = "invoices", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<dto::HistoryObj>), (status = 403), (status = 404)))]
pub async fn history(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "Invoice")?;
    visible(&mut t, id).await?;
    let body = model::history_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, body))
}
