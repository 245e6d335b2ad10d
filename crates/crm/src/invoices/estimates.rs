//! `/api/invoices/estimates/...`: estimates with nested line items (upstream dropped them),
//! accept/decline by PATCH `{"status": ...}` (what the frontend sends), send, convert to an
//! invoice. The frontend's `account`/`contact`/`opportunity` keys and `discount_type: "fixed"`
//! are accepted; the money is `money`'s, the numbers `EST-YYYYMMDD-NNNN` per org.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{self, DocSpec, Errors};
use super::handlers::{check_refs, message, not_found, paginated, path_id, raw_json, saved};
use super::service::{self, ESTIMATE, INVOICE, TODAY_SQL};
use crate::common::enums::{is_country, is_currency};
use crate::db::Tenant;
use crate::db::sql::{self, Bind, LinkList, Sql, Table, Val};
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::Kind;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;
use crate::state::AppState;

pub const STATUSES: &[&str] = &["Draft", "Sent", "Viewed", "Accepted", "Declined", "Expired"];

fn is_status(s: &str) -> bool {
    STATUSES.contains(&s)
}

const FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Text(100)),
    ("client_name", Kind::Text(255)),
    ("client_email", Kind::Email),
    ("client_phone", Kind::Text(25)),
    ("client_address_line", Kind::Text(255)),
    ("client_city", Kind::Text(100)),
    ("client_state", Kind::Text(100)),
    ("client_postcode", Kind::Text(20)),
    ("client_country", Kind::Choice(is_country)),
    ("discount_value", Kind::Money(10)),
    ("tax_rate", Kind::Money(3)),
    ("currency", Kind::Choice(is_currency)),
    ("issue_date", Kind::Date),
    ("expiry_date", Kind::Date),
    ("public_link_enabled", Kind::Bool),
    ("notes", Kind::Text(usize::MAX)),
    ("terms", Kind::Text(usize::MAX)),
];

const SPEC: DocSpec = DocSpec {
    fields: FIELDS,
    is_status,
};

const TABLE: Table = Table {
    name: "estimate",
    returning: "estimate_number",
};

pub const VISIBILITY: Visibility = Visibility {
    table: "estimate",
    alias: "e",
    fk: "estimate_id",
    assigned: "estimate_assigned_to",
    teams: "estimate_teams",
};

const LIST: ListSpec = ListSpec {
    alias: "e",
    filters: &[
        F::Search("search", &["e.estimate_number", "e.title", "e.client_name"]),
        F::Exact("status", "e.status"),
        F::Id("account", "e.account_id"),
        F::Id("contact", "e.contact_id"),
        F::Date("expiry_date_gte", "e.expiry_date", ">="),
        F::Date("expiry_date_lte", "e.expiry_date", "<="),
        F::Date("issue_date_gte", "e.issue_date", ">="),
        F::Date("issue_date_lte", "e.issue_date", "<="),
    ],
    orderable: &[
        "created_at",
        "issue_date",
        "expiry_date",
        "total_amount",
        "status",
        "estimate_number",
        "title",
    ],
};

/// Whether a client may set an estimate's status to `to` (from `from`; `None`: new). Accepting
/// or declining records the client's answer; Viewed and Expired are set by the portal and the
/// nightly job; an accepted or declined estimate keeps its status.
pub fn may_set_status(from: Option<&str>, to: &str) -> Result<(), String> {
    if from == Some(to) {
        return Ok(());
    }
    match (from, to) {
        (_, "Viewed") => Err("Viewed is set when the client opens the estimate link.".into()),
        (_, "Expired") => Err("Expired is set when the expiry date has passed.".into()),
        (None, "Draft" | "Sent") => Ok(()),
        (None, _) => Err(format!("A new estimate cannot be {to}.")),
        (Some(f @ ("Accepted" | "Declined")), _) => Err(format!(
            "A {} estimate cannot change status.",
            f.to_lowercase()
        )),
        (Some("Draft"), "Sent") => Ok(()),
        (Some("Draft" | "Sent" | "Viewed"), "Accepted" | "Declined") => Ok(()),
        (Some(f), _) => Err(format!("An estimate cannot go from {f} to {to}.")),
    }
}

/// The estimate object of alias `e` (list rows and detail): upstream's keys plus what the
/// frontend's list reads (`account_name`, `converted_to_invoice{id, invoice_number}`...).
fn obj(e: &str) -> String {
    format!(
        "(jsonb_build_object('id', {e}.id, 'estimate_number', {e}.estimate_number, 'title', {e}.title,
            'status', {e}.status, 'account', {e}.account_id,
            'account_name', (SELECT ac.name FROM accounts ac WHERE ac.id = {e}.account_id),
            'contact', {e}.contact_id,
            'contact_name', (SELECT nullif(trim(concat_ws(' ', c.first_name, c.last_name)), '') FROM contacts c WHERE c.id = {e}.contact_id),
            'opportunity', {e}.opportunity_id,
            'opportunity_name', (SELECT o.name FROM opportunity o WHERE o.id = {e}.opportunity_id),
            'converted_to_invoice', (SELECT json_build_object('id', i.id, 'invoice_number', i.invoice_number)
                                       FROM invoice i WHERE i.id = {e}.converted_to_invoice_id),
            'converted_to_invoice_number', (SELECT i.invoice_number FROM invoice i WHERE i.id = {e}.converted_to_invoice_id),
            'client_name', {e}.client_name, 'client_email', {e}.client_email, 'client_phone', {e}.client_phone,
            'client_address_line', {e}.client_address_line, 'client_city', {e}.client_city,
            'client_state', {e}.client_state, 'client_postcode', {e}.client_postcode,
            'client_country', {e}.client_country)
        || jsonb_build_object('subtotal', {e}.subtotal::text, 'discount_type', {e}.discount_type,
            'discount_value', {e}.discount_value::text, 'discount_amount', {e}.discount_amount::text,
            'tax_rate', {e}.tax_rate::text, 'tax_amount', {e}.tax_amount::text,
            'total_amount', {e}.total_amount::text, 'currency', {e}.currency, 'issue_date', {e}.issue_date,
            'expiry_date', {e}.expiry_date, 'sent_at', crm_ts({e}.sent_at), 'viewed_at', crm_ts({e}.viewed_at),
            'accepted_at', crm_ts({e}.accepted_at), 'declined_at', crm_ts({e}.declined_at),
            'public_token', {e}.public_token, 'public_link_enabled', {e}.public_link_enabled,
            'public_url', '/portal/estimate/' || {e}.public_token, 'notes', {e}.notes, 'terms', {e}.terms,
            'is_expired', ({e}.expiry_date IS NOT NULL AND {e}.status NOT IN ('Accepted', 'Declined')
                           AND {e}.expiry_date < {TODAY_SQL}),
            'line_items', (SELECT coalesce(json_agg({line} ORDER BY l.\"order\", l.created_at, l.id), '[]')
                             FROM estimate_line_item l WHERE l.estimate_id = {e}.id AND l.org_id = {e}.org_id),
            'assigned_to', (SELECT coalesce(json_agg(crm_profile_obj(x.profile_id) ORDER BY x.id), '[]')
                              FROM estimate_assigned_to x WHERE x.estimate_id = {e}.id),
            'teams', (SELECT coalesce(json_agg(crm_team_obj(x.teams_id) ORDER BY x.id), '[]')
                        FROM estimate_teams x WHERE x.estimate_id = {e}.id),
            'created_by', crm_user_mini({e}.created_by_id), 'created_at', crm_ts({e}.created_at),
            'updated_at', crm_ts({e}.updated_at)))",
        line = super::model::line_obj("l", None),
    )
}

async fn estimate_json(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "SELECT {}::text FROM estimate e WHERE e.org_id = $1 AND e.id = $2",
        obj("e")
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Locks the estimate; 404 outside the org, 403 when the caller may not see it.
async fn visible(
    t: &mut Tenant,
    id: Uuid,
) -> Result<(String, Option<Uuid>, Option<Uuid>), ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let text = format!(
        "SELECT {vis}, e.status, e.converted_to_invoice_id, e.created_by_id FROM estimate e
          WHERE e.org_id = $1 AND e.id = $2 FOR UPDATE"
    );
    let row: Option<(bool, String, Option<Uuid>, Option<Uuid>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(text))
            .bind(t.org_id)
            .bind(id)
            .bind(t.is_admin())
            .bind(t.user_id)
            .bind(t.profile_id)
            .fetch_optional(&mut *t.tx)
            .await?;
    let (vis, status, converted, created_by) = row.ok_or_else(|| not_found("Estimate"))?;
    if !vis {
        return Err(super::handlers::denied());
    }
    Ok((status, converted, created_by))
}

#[derive(Serialize, ToSchema)]
pub struct EstimateObj {
    pub id: Uuid,
    pub estimate_number: String,
    pub title: String,
    pub status: String,
    pub account: Option<Uuid>,
    pub account_name: Option<String>,
    pub contact: Option<Uuid>,
    pub contact_name: Option<String>,
    pub opportunity: Option<Uuid>,
    pub opportunity_name: Option<String>,
    /// `{id, invoice_number}` or null.
    pub converted_to_invoice: Option<Value>,
    pub converted_to_invoice_number: Option<String>,
    pub client_name: String,
    pub client_email: String,
    pub client_phone: String,
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
    pub total_amount: String,
    pub currency: String,
    pub issue_date: String,
    pub expiry_date: Option<String>,
    pub sent_at: Option<String>,
    pub viewed_at: Option<String>,
    pub accepted_at: Option<String>,
    pub declined_at: Option<String>,
    pub public_token: String,
    pub public_link_enabled: bool,
    pub public_url: String,
    pub notes: String,
    pub terms: String,
    pub is_expired: bool,
    /// Line items (without `formatted_*`).
    pub line_items: Vec<Value>,
    pub assigned_to: Vec<Value>,
    pub teams: Vec<Value>,
    pub created_by: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct EstimateListResponse {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<EstimateObj>,
}

#[derive(Serialize, ToSchema)]
pub struct EstimateDetail {
    pub estimate: EstimateObj,
}

#[derive(Serialize, ToSchema)]
pub struct EstimateSaved {
    pub error: bool,
    pub message: String,
    pub estimate: EstimateObj,
}

/// Body of estimate create (`title` required), PUT and PATCH (`{"status": "Accepted"}` accepts).
#[derive(serde::Deserialize, ToSchema)]
pub struct EstimateBody {
    pub title: Option<String>,
    pub status: Option<String>,
    /// `account_id` accepted too; null clears.
    pub account: Option<Uuid>,
    pub contact: Option<Uuid>,
    pub opportunity: Option<Uuid>,
    pub client_name: Option<String>,
    pub client_email: Option<String>,
    pub client_phone: Option<String>,
    pub client_address_line: Option<String>,
    pub client_city: Option<String>,
    pub client_state: Option<String>,
    pub client_postcode: Option<String>,
    pub client_country: Option<String>,
    /// `PERCENTAGE`, `FIXED` (any case) or `""`.
    pub discount_type: Option<String>,
    #[schema(value_type = Option<String>)]
    pub discount_value: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<Value>,
    pub currency: Option<String>,
    pub issue_date: Option<String>,
    pub expiry_date: Option<String>,
    pub public_link_enabled: Option<bool>,
    pub notes: Option<String>,
    pub terms: Option<String>,
    pub assigned_to: Option<Vec<Uuid>>,
    pub teams: Option<Vec<Uuid>>,
    /// Replaces every line when present.
    pub line_items: Option<Vec<dto::LineItemBody>>,
}

#[utoipa::path(get, path = "/api/invoices/estimates/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("search" = Option<String>, Query),
        ("status" = Option<String>, Query), ("account" = Option<Uuid>, Query), ("contact" = Option<Uuid>, Query),
        ("expiry_date_gte" = Option<String>, Query), ("expiry_date_lte" = Option<String>, Query),
        ("issue_date_gte" = Option<String>, Query), ("issue_date_lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query)),
    responses((status = 200, body = EstimateListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(t.org_id));
    let mut cond = String::from("e.org_id = $1");
    for c in LIST.conditions(&q, &mut sql)? {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    if !t.is_admin() {
        let (u, p) = (
            sql.p(Bind::Uuid(t.user_id)),
            sql.p(Bind::Uuid(t.profile_id)),
        );
        cond.push_str(&format!(
            " AND e.id IN ({})",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
    }
    let order = LIST.order_by(&q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "SELECT (SELECT count(*) FROM estimate e WHERE {cond})::text || ' ' ||
                (SELECT coalesce(json_agg({o} ORDER BY s.rn), '[]')::text FROM
                   (SELECT e.*, row_number() OVER () AS rn FROM
                      (SELECT e.* FROM estimate e WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) e) s)",
        o = obj("s"),
    );
    let out: String = sql::scalar(text, sql.binds).fetch_one(&mut *t.tx).await?;
    t.commit().await?;
    let (count, results) = out.split_once(' ').unwrap_or(("0", "[]"));
    let count: i64 = count.parse().unwrap_or(0);
    Ok(paginated(
        &state,
        "/api/invoices/estimates/",
        &q,
        page,
        count,
        results,
    ))
}

fn columns(input: &dto::DocInput) -> Vec<(&'static str, Val)> {
    let mut cols = input.fields.clone();
    for (col, v) in [
        ("account_id", input.account),
        ("contact_id", input.contact),
        ("opportunity_id", input.opportunity),
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

fn defaults() -> Vec<(&'static str, Val)> {
    let t = |s: &str| Val::Text(Some(s.to_string()));
    let mut d = vec![
        ("status", t("Draft")),
        ("currency", t("USD")),
        ("discount_type", t("")),
        ("public_link_enabled", Val::Bool(true)),
        ("title", t("")),
        ("issue_date", Val::Date(Some(service::today()))),
    ];
    for c in [
        "client_name",
        "client_email",
        "client_phone",
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
        "total_amount",
    ] {
        d.push((c, Val::Num(Some("0".into()))));
    }
    d
}

async fn stamp(tx: &mut Tx, org: Uuid, id: Uuid, status: &str) -> Result<(), ApiError> {
    let col = match status {
        "Sent" => "sent_at",
        "Accepted" => "accepted_at",
        "Declined" => "declined_at",
        _ => return Ok(()),
    };
    let text =
        format!("UPDATE estimate SET {col} = coalesce({col}, now()) WHERE org_id = $1 AND id = $2");
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn recompute(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<(), ApiError> {
    if let Err((field, msg)) = service::recompute(tx, &ESTIMATE, org, id).await? {
        let mut e = FieldErrors::new();
        e.add(field, msg);
        return Err(crate::http::fields::invalid(e));
    }
    Ok(())
}

async fn links(t: &mut Tenant, id: Uuid, input: &dto::DocInput) -> Result<(), ApiError> {
    let lists = [
        LinkList {
            table: "estimate_assigned_to",
            col: "profile_id",
            ids: input.assigned_to.as_deref(),
        },
        LinkList {
            table: "estimate_teams",
            col: "teams_id",
            ids: input.teams.as_deref(),
        },
    ];
    sql::sync_links(
        &mut t.tx,
        "estimate_id",
        id,
        t.profile_id,
        "estimate_assigned_to",
        &lists,
    )
    .await?;
    Ok(())
}

/// Any member creates; `title` required; account, contact and opportunity optional (checked
/// in the org when given). Status Draft or Sent.
#[utoipa::path(post, path = "/api/invoices/estimates/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    request_body = EstimateBody,
    responses((status = 201, body = EstimateSaved), (status = 400)))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let actor = t.actor();
    let mut errors = Errors::default();
    let mut input = dto::validate_spec(&body, &SPEC, &mut errors);
    if !body.contains_key("title") {
        errors.fields.add("title", "This field is required.");
    }
    if let Some(s) = &input.status
        && let Err(msg) = may_set_status(None, s)
    {
        errors.fields.add("status", msg);
    }
    input.template = None;
    check_refs(&mut t.tx, t.org_id, &mut input, &mut errors, None).await?;
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    let id = Uuid::new_v4();
    let number = service::allocate_number(&mut t.tx, t.org_id, &ESTIMATE).await?;
    let mut cols = columns(&input);
    cols.push(("estimate_number", Val::Text(Some(number))));
    cols.push(("public_token", Val::Text(Some(service::new_token()))));
    sql::insert(&mut t.tx, &TABLE, t.org_id, actor, id, &cols, &defaults()).await?;
    if let Some(lines) = &input.lines {
        service::insert_lines(&mut t.tx, &ESTIMATE, t.org_id, actor, id, lines).await?;
    }
    recompute(&mut t.tx, t.org_id, id).await?;
    if let Some(s) = &input.status {
        stamp(&mut t.tx, t.org_id, id, s).await?;
    }
    links(&mut t, id, &input).await?;
    let obj = estimate_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Estimate created",
        "estimate",
        &obj,
    ))
}

#[utoipa::path(get, path = "/api/invoices/estimates/{id}/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EstimateDetail), (status = 403), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "Estimate")?;
    visible(&mut t, id).await?;
    let obj = estimate_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, format!("{{\"estimate\":{obj}}}")))
}

async fn write(mut t: Tenant, raw: &str, body: Map<String, Value>) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(raw, "Estimate")?;
    let (status, _, _) = visible(&mut t, id).await?;
    let mut errors = Errors::default();
    let mut input = dto::validate_spec(&body, &SPEC, &mut errors);
    input.template = None;
    if let Some(s) = &input.status
        && let Err(msg) = may_set_status(Some(&status), s)
    {
        errors.fields.add("status", msg);
    }
    if input.status.as_deref() == Some(status.as_str()) {
        input.status = None;
    }
    check_refs(&mut t.tx, t.org_id, &mut input, &mut errors, None).await?;
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    sql::update(&mut t.tx, &TABLE, t.org_id, t.user_id, id, &columns(&input)).await?;
    if let Some(lines) = &input.lines {
        service::delete_lines(&mut t.tx, &ESTIMATE, t.org_id, id).await?;
        service::insert_lines(&mut t.tx, &ESTIMATE, t.org_id, actor, id, lines).await?;
    }
    recompute(&mut t.tx, t.org_id, id).await?;
    if let Some(s) = &input.status {
        stamp(&mut t.tx, t.org_id, id, s).await?;
    }
    links(&mut t, id, &input).await?;
    let obj = estimate_json(&mut t.tx, t.org_id, id).await?;
    t.commit().await?;
    Ok(saved(StatusCode::OK, "Estimate updated", "estimate", &obj))
}

#[utoipa::path(put, path = "/api/invoices/estimates/{id}/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = EstimateBody,
    responses((status = 200, body = EstimateSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

/// Partial update; `{"status": "Accepted"}` / `{"status": "Declined"}` is the frontend's
/// accept/decline.
#[utoipa::path(patch, path = "/api/invoices/estimates/{id}/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = EstimateBody, description = "Any of these"),
    responses((status = 200, body = EstimateSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

/// Admins or the creator; the lines and links go, an invoice converted from it stays.
#[utoipa::path(delete, path = "/api/invoices/estimates/{id}/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 403), (status = 404)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = path_id(&id, "Estimate")?;
    let (_, _, created_by) = visible(&mut t, id).await?;
    if !(t.is_admin() || created_by == Some(t.user_id)) {
        return Err(super::handlers::denied());
    }
    sqlx::query(
        "WITH l AS (DELETE FROM estimate_line_item WHERE org_id = $1 AND estimate_id = $2),
              a AS (DELETE FROM estimate_assigned_to WHERE estimate_id = $2),
              t AS (DELETE FROM estimate_teams WHERE estimate_id = $2)
         DELETE FROM estimate WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Estimate deleted"})))
}

/// Draft → Sent (`sent_at`).
#[utoipa::path(post, path = "/api/invoices/estimates/{id}/send/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::InvoiceMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn send(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let actor = t.actor();
    let id = path_id(&id, "Estimate")?;
    let (status, _, _) = visible(&mut t, id).await?;
    if matches!(status.as_str(), "Accepted" | "Declined" | "Expired") {
        return Err(message(
            StatusCode::BAD_REQUEST,
            format!("An estimate in status {status} cannot be sent"),
        ));
    }
    sqlx::query(
        "UPDATE estimate SET status = CASE WHEN status = 'Draft' THEN 'Sent' ELSE status END, sent_at = now(),
                updated_at = now(), updated_by_id = $3 WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(actor)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Estimate sent successfully"}),
    ))
}

/// Creates a Draft invoice from the estimate (same lines, discount, tax and currency, so the
/// same figures; issued today, NET_30), marks the estimate Accepted and links them. Once only;
/// a declined or expired estimate cannot be converted.
#[utoipa::path(post, path = "/api/invoices/estimates/{id}/convert/", tag = "estimates", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = dto::InvoiceSaved), (status = 400), (status = 403), (status = 404)))]
pub async fn convert(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let actor = t.actor();
    let id = path_id(&id, "Estimate")?;
    let (status, converted, _) = visible(&mut t, id).await?;
    if converted.is_some() {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "Estimate already converted to invoice",
        ));
    }
    if matches!(status.as_str(), "Declined" | "Expired") {
        return Err(message(
            StatusCode::BAD_REQUEST,
            format!("A {} estimate cannot be converted", status.to_lowercase()),
        ));
    }
    let inv = Uuid::new_v4();
    let number = service::allocate_number(&mut t.tx, t.org_id, &INVOICE).await?;
    sqlx::query(
        "INSERT INTO invoice (created_at, updated_at, id, org_id, created_by_id, updated_by_id, invoice_title,
            invoice_number, status, account_id, contact_id, opportunity_id, client_name, client_email, client_phone,
            billing_address_line, billing_city, billing_state, billing_postcode, billing_country,
            client_address_line, client_city, client_state, client_postcode, client_country,
            subtotal, discount_type, discount_value, discount_amount, tax_rate, tax_amount, shipping_amount,
            total_amount, currency, amount_paid, amount_due, issue_date, due_date, payment_terms,
            reminder_enabled, reminder_days_before, reminder_days_after, reminder_frequency, reminder_count,
            public_token, public_link_enabled, notes, terms, is_email_sent)
         SELECT now(), now(), $3, org_id, $4, $4, title, $5, 'Draft', account_id, contact_id, opportunity_id,
            client_name, client_email, client_phone, '', '', '', '', '',
            client_address_line, client_city, client_state, client_postcode, client_country,
            0, discount_type, discount_value, 0, tax_rate, 0, 0, 0, currency, 0, 0, $6, NULL, 'NET_30',
            true, 3, 7, 'ONCE', 0, $7, true, notes, terms, false
           FROM estimate WHERE org_id = $1 AND id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(inv)
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
           FROM estimate_line_item WHERE org_id = $1 AND estimate_id = $2",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(inv)
    .bind(actor)
    .execute(&mut *t.tx)
    .await?;
    super::handlers::refresh(&mut t.tx, t.org_id, inv).await?;
    let est: String = sqlx::query_scalar(
        "UPDATE estimate SET status = 'Accepted', accepted_at = coalesce(accepted_at, now()),
                converted_to_invoice_id = $3, updated_at = now(), updated_by_id = $4
          WHERE org_id = $1 AND id = $2 RETURNING estimate_number",
    )
    .bind(t.org_id)
    .bind(id)
    .bind(inv)
    .bind(actor)
    .fetch_one(&mut *t.tx)
    .await?;
    let what = format!("Invoice created from estimate {est}.");
    service::history(&mut t.tx, t.org_id, inv, actor, Some(t.profile_id), &what).await?;
    crate::common::activity::record(
        &mut t,
        crate::common::activity::Action::Create,
        "Invoice",
        inv,
        &number,
    )
    .await?;
    let obj = super::model::invoice_json(&mut t.tx, t.org_id, inv).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Estimate converted to invoice",
        "invoice",
        &obj,
    ))
}
