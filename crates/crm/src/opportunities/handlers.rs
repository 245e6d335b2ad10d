//! `/api/opportunities/...`: HTTP in and out. Bodies keep upstream's envelopes; upstream's 500s
//! are 4xx; detail GETs work for every member who may see the opportunity.

use std::str::FromStr;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dto::{self, LineItemInput, OpportunityInput};
use super::model::{self, Current, LineItem, LineItemRow};
use super::service;
use crate::common::activity::{self, Action};
use crate::common::choices::{OPPORTUNITY_SOURCES, STAGES, pairs_json};
use crate::common::comments::{self, OPPORTUNITIES, envelope};
use crate::common::enums::CURRENCY_CODES;
use crate::common::relations::{self, Kind, Rel, Unique};
use crate::db::Tenant;
use crate::db::sql::{self, LinkList, Val};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;
use crate::http::list::{CacheSlot, Cached};
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;
use crate::state::AppState;
use crate::storage::FormData;

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        json!("You do not have Permission to perform this action"),
    )
}

/// `,"stage":[...],"lead_source":[...],"currency":[...]}` (list page).
fn list_tail() -> &'static str {
    static TAIL: OnceLock<String> = OnceLock::new();
    TAIL.get_or_init(|| {
        format!(
            ",\"stage\":{},\"lead_source\":{},\"currency\":{}}}",
            pairs_json(STAGES),
            pairs_json(OPPORTUNITY_SOURCES),
            pairs_json(CURRENCY_CODES)
        )
    })
}

/// Opportunities the caller may see (admins: all; others: created by them, assigned to them or
/// to one of their teams), `limit`/`offset`-paginated (the last of repeated keys wins), with
/// the lookup lists the frontend's forms read. Cached per org and caller.
#[utoipa::path(get, path = "/api/opportunities/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query, description = "repeated: the last wins"), ("offset" = Option<i64>, Query),
        ("search" = Option<String>, Query, description = "name contains"),
        ("name" = Option<String>, Query), ("account" = Option<Uuid>, Query),
        ("stage" = Option<String>, Query, description = "stage contains (`CLOSED` finds both closed stages)"),
        ("lead_source" = Option<String>, Query), ("opportunity_type" = Option<String>, Query),
        ("currency" = Option<String>, Query), ("is_active" = Option<bool>, Query),
        ("assigned_to" = Option<Vec<Uuid>>, Query, description = "profile ids (repeat the key or comma-separate)"),
        ("tags" = Option<Vec<Uuid>>, Query), ("teams" = Option<Vec<Uuid>>, Query), ("contacts" = Option<Vec<Uuid>>, Query),
        ("created_at__gte" = Option<String>, Query), ("created_at__lte" = Option<String>, Query, description = "a bare date includes that day"),
        ("closed_on__gte" = Option<String>, Query), ("closed_on__lte" = Option<String>, Query),
        ("amount__gte" = Option<String>, Query), ("amount__lte" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "e.g. `-amount`, `closed_on`, `name`; comma-separated"),
    ),
    responses((status = 200, body = dto::OpportunityListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let (mut t, slot) = match CacheSlot::lookup("opportunities", &state.cache, t, &q).await? {
        Cached::Hit(page) => return Ok(page),
        Cached::Miss(t, slot) => (t, slot),
    };
    let body = model::list_json(&mut t, &q, page).await?;
    slot.fill(&state.cache, t, body, list_tail()).await
}

async fn detail_body(state: &AppState, t: &mut Tenant, id: Uuid) -> ApiResult<Value> {
    let (allowed, body) = model::detail_json(t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(body) = body.filter(|_| allowed) else {
        return Err(no_permission());
    };
    let mut out: Map<String, Value> = serde_json::from_str(&body).map_err(ApiError::internal)?;
    let (comments, files) =
        comments::comments_and_attachments(state, &mut t.tx, t.org_id, &OPPORTUNITIES, id).await?;
    out.insert("comments".into(), json!(comments));
    out.insert("attachments".into(), json!(files));
    out.insert("stage".into(), pairs_json(STAGES));
    out.insert("lead_source".into(), pairs_json(OPPORTUNITY_SOURCES));
    out.insert("currency".into(), pairs_json(CURRENCY_CODES));
    Ok(Value::Object(out))
}

/// The opportunity with its line items, comments, attachments and contacts (upstream: 500 for
/// every non-admin). Admins, its creator, assignees and team members.
#[utoipa::path(get, path = "/api/opportunities/{id}/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::OpportunityDetailResponse), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let out = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(out))
}

/// Upstream's detail form: `POST /api/opportunities/<id>/` with a `comment` and/or an
/// `opportunity_attachment` file (multipart or JSON); answers with the detail, like GET.
#[utoipa::path(post, path = "/api/opportunities/{id}/", tag = "opportunities", params(("id" = Uuid, Path)),
    security(("jwt" = []), ("api_key" = [])),
    request_body(content_type = "multipart/form-data", content = dto::OpportunityDetailForm, description = "`comment` and/or an `opportunity_attachment` file"),
    responses((status = 200, body = dto::OpportunityDetailResponse), (status = 400), (status = 404), (status = 413)))]
pub async fn detail_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: FormData,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut t = form.tenant(&state).await?;
    comments::detail_post(&state, &mut t, &OPPORTUNITIES, id, form).await?;
    let out = detail_body(&state, &mut t, id).await?;
    t.commit().await?;
    Ok(Json(out))
}

/// Checks the relation ids, the account and the name's uniqueness in the org (a member's user
/// id in `assigned_to` becomes their profile id); adds field errors. Inactive assignees and
/// archived tags that the frontend re-sends are kept, not refused.
async fn check(
    t: &mut Tenant,
    input: &mut OpportunityInput,
    opportunity: Option<Uuid>,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    let name = sql_text(input.get("name"));
    let mut account = input.account.flatten().map(|a| vec![a]);
    let mut rels = [
        Rel::new("assigned_to", Kind::Profile, &mut input.assigned_to),
        Rel::new("teams", Kind::Team, &mut input.teams),
        Rel::new("tags", Kind::Tag, &mut input.tags),
        Rel::new("contacts", Kind::Contact, &mut input.contacts),
        Rel::new("account", Kind::Account, &mut account),
    ];
    let unique = Unique {
        field: "name",
        table: "opportunity",
        column: "name",
        value: name.as_deref(),
        except: opportunity,
        message: "Opportunity already exists with this name",
    };
    relations::check(&mut t.tx, t.org_id, &mut rels, Some(unique), errors).await
}

fn sql_text(v: Option<&Val>) -> Option<String> {
    match v {
        Some(Val::Text(Some(s))) => Some(s.clone()),
        _ => None,
    }
}

fn links(input: &OpportunityInput) -> [LinkList<'_>; 4] {
    [
        LinkList {
            table: "opportunity_assigned_to",
            col: "profile_id",
            ids: input.assigned_to.as_deref(),
        },
        LinkList {
            table: "opportunity_teams",
            col: "teams_id",
            ids: input.teams.as_deref(),
        },
        LinkList {
            table: "opportunity_tags",
            col: "tags_id",
            ids: input.tags.as_deref(),
        },
        LinkList {
            table: "opportunity_contacts",
            col: "contact_id",
            ids: input.contacts.as_deref(),
        },
    ]
}

/// The body's columns plus the `account` FK when it names one.
fn columns(input: &OpportunityInput) -> Vec<(&'static str, Val)> {
    let mut cols = input.fields.clone();
    if let Some(account) = input.account {
        cols.push(("account_id", Val::Uuid(account)));
    }
    cols
}

/// Links the lists, records the activity and e-mails newly assigned members.
async fn finish_write(
    t: &mut Tenant,
    id: Uuid,
    name: &str,
    input: &OpportunityInput,
    action: Action,
) -> Result<(), ApiError> {
    let assigned = sql::sync_links(
        &mut t.tx,
        "opportunity_id",
        id,
        t.profile_id,
        "opportunity_assigned_to",
        &links(input),
    )
    .await?;
    activity::record(t, action, "Opportunity", id, name).await?;
    let by = t.email.clone();
    relations::notify_assigned(
        &mut t.tx,
        t.org_id,
        assigned,
        "Opportunity",
        &OPPORTUNITIES.page_path(id),
        name,
        &by,
    )
    .await
}

/// Any member may create. A probability of 0 or null takes the stage's default; a closed stage
/// needs `closed_on` (and CLOSED_WON an `amount`) and records the caller as `closed_by`.
#[utoipa::path(post, path = "/api/opportunities/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    request_body = dto::OpportunityBody,
    responses((status = 200, body = dto::OpportunityCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`")))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, false, &mut errors);
    service::apply_stage_rules(&mut input, None, true, t.profile_id, &mut errors);
    check(&mut t, &mut input, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let id = Uuid::new_v4();
    let defaults = [
        ("stage", Val::Text(Some("PROSPECTING".into()))),
        ("amount_source", Val::Text(Some("MANUAL".into()))),
        ("is_active", Val::Bool(true)),
    ];
    let name = sql::insert(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        Some(t.user_id),
        id,
        &columns(&input),
        &defaults,
    )
    .await?;
    finish_write(&mut t, id, &name, &input, Action::Create).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Opportunity Created Successfully", "id": id}),
    ))
}

/// PUT and PATCH: admins, the creator, assignees and team members. PUT requires `name`,
/// replaces every relation list (an absent one is emptied) and clears an absent `closed_on`, as
/// upstream; PATCH changes what it carries.
async fn write(
    mut t: Tenant,
    raw_id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let id = parse_id(raw_id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !current.can_edit {
        return Err(no_permission());
    }
    let mut errors = FieldErrors::new();
    let mut input = dto::validate(&body, partial, &mut errors);
    if !partial {
        input.replace_all_lists();
    }
    service::apply_stage_rules(
        &mut input,
        Some(&current),
        !partial,
        t.profile_id,
        &mut errors,
    );
    check(&mut t, &mut input, Some(id), &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let name = sql::update(
        &mut t.tx,
        &model::TABLE,
        t.org_id,
        t.user_id,
        id,
        &columns(&input),
    )
    .await?;
    finish_write(&mut t, id, &name, &input, Action::Update).await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Opportunity Updated Successfully"}),
    ))
}

#[utoipa::path(put, path = "/api/opportunities/{id}/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::OpportunityBody, description = "As POST; lists not sent are emptied, an absent `closed_on` is cleared"),
    responses((status = 200, body = dto::OpportunityMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, false).await
}

/// Partial update: the frontend's drawer save, inline edits and stage changes (Mark Won/Lost).
#[utoipa::path(patch, path = "/api/opportunities/{id}/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = dto::OpportunityBody, description = "Any of these"),
    responses((status = 200, body = dto::OpportunityMessage), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    write(t, &id, body, true).await
}

/// Admins, or the opportunity's creator. Line items and links go with it; tasks, board cards
/// and invoices that point at it stay, unlinked.
#[utoipa::path(delete, path = "/api/opportunities/{id}/", tag = "opportunities", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = dto::OpportunityMessage), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    mut t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let current = model::lock(&mut t, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !(t.is_admin() || current.created_by == Some(t.user_id)) {
        return Err(no_permission());
    }
    let files = comments::delete_all_for(&mut t.tx, t.org_id, &OPPORTUNITIES, id).await?;
    let name = model::delete(&mut t.tx, t.org_id, id).await?;
    activity::record(&mut t, Action::Delete, "Opportunity", id, &name).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(Json(
        json!({"error": false, "message": "Opportunity Deleted Successfully."}),
    ))
}

// ---- Line items ----

fn li_error(status: StatusCode, message: &str) -> ApiError {
    ApiError::new(status, json!({"error": true, "message": message}))
}

/// The opportunity of a line-item route, locked, when the caller may work on it: 404 `Opportunity
/// not found` outside the org (or a malformed id), 403 when they may not see it.
async fn item_opportunity(t: &mut Tenant, raw: &str) -> Result<(Uuid, Current), ApiError> {
    let not_found = || li_error(StatusCode::NOT_FOUND, "Opportunity not found");
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    let current = model::lock(t, id).await?.ok_or_else(not_found)?;
    if !current.can_edit {
        return Err(li_error(
            StatusCode::FORBIDDEN,
            "You do not have permission to access this opportunity",
        ));
    }
    Ok((id, current))
}

fn item_not_found() -> ApiError {
    li_error(StatusCode::NOT_FOUND, "Line item not found")
}

fn item_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| item_not_found())
}

/// `opportunity_amount`: a JSON number (upstream sends a raw Decimal), null when none.
fn amount_number(v: Option<&str>) -> Value {
    v.and_then(|s| s.parse::<f64>().ok())
        .map_or(Value::Null, |f| json!(f))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// Merges a body onto a line item (new: upstream's defaults), fills a blank name and a zero
/// price from the product, computes the totals and checks them and the opportunity's new sum.
async fn merge_line_item(
    t: &mut Tenant,
    opportunity: Uuid,
    id: Option<Uuid>,
    base: LineItem,
    input: &LineItemInput,
    errors: &mut FieldErrors,
) -> Result<LineItemRow, ApiError> {
    let mut item = base;
    for (col, v) in &input.fields {
        match (*col, v) {
            ("name", Val::Text(Some(s))) => item.name = s.clone(),
            ("description", Val::Text(Some(s))) => item.description = s.clone(),
            ("quantity", Val::Num(Some(s))) => item.quantity = s.clone(),
            ("unit_price", Val::Num(Some(s))) => item.unit_price = s.clone(),
            ("discount_type", Val::Text(Some(s))) => item.discount_type = s.clone(),
            ("discount_value", Val::Num(Some(s))) => item.discount_value = s.clone(),
            ("order", Val::Int(Some(n))) => item.order = *n,
            _ => {}
        }
    }
    if let Some(product) = input.product {
        item.product_id = product;
    }
    if let Some(pid) = item.product_id {
        match model::product(&mut t.tx, t.org_id, pid).await? {
            Some((name, price)) => {
                if item.name.trim().is_empty() {
                    item.name = name.chars().take(255).collect();
                }
                if dec(&item.unit_price).is_zero() {
                    item.unit_price = price;
                }
            }
            None if input.product.is_some() => errors.add(
                "product_id",
                format!("Invalid pk \"{pid}\" - object does not exist."),
            ),
            // A product deleted since: the item keeps its own values.
            None => item.product_id = None,
        }
    }
    let value = dec(&item.discount_value);
    let totals = service::totals(
        dec(&item.quantity),
        dec(&item.unit_price),
        &item.discount_type,
        value,
    );
    if errors.is_empty() {
        service::check_totals(&totals, &item.discount_type, value, errors);
    }
    if errors.is_empty() {
        let others = model::other_items_total(&mut t.tx, t.org_id, opportunity, id).await?;
        if dec(&others) + totals.total > service::max_money() {
            errors.add(
                "quantity",
                "The opportunity's amount would have more than 10 digits before the decimal point.",
            );
        }
    }
    Ok(LineItemRow {
        item,
        discount_amount: totals.discount_amount.to_string(),
        subtotal: totals.subtotal.to_string(),
        total: totals.total.to_string(),
    })
}

/// The opportunity's line items in display order, the org's active products, and the
/// opportunity's amount and its source.
#[utoipa::path(get, path = "/api/opportunities/{opportunity_id}/line-items/", tag = "opportunities",
    security(("jwt" = []), ("api_key" = [])), params(("opportunity_id" = Uuid, Path)),
    responses((status = 200, body = dto::LineItemListResponse),
              (status = 403, body = dto::LineItemError), (status = 404, body = dto::LineItemError)))]
pub async fn line_items(mut t: Tenant, Path(opportunity): Path<String>) -> ApiResult<Json<Value>> {
    let (id, current) = item_opportunity(&mut t, &opportunity).await?;
    let body = model::line_items_json(&mut t.tx, t.org_id, id, &current.currency).await?;
    t.commit().await?;
    Ok(Json(
        serde_json::from_str(&body).map_err(ApiError::internal)?,
    ))
}

/// Adds a line item (201). The opportunity's amount becomes the sum of its items
/// (`amount_source` CALCULATED), in the same transaction.
#[utoipa::path(post, path = "/api/opportunities/{opportunity_id}/line-items/", tag = "opportunities",
    security(("jwt" = []), ("api_key" = [])), params(("opportunity_id" = Uuid, Path)),
    request_body = dto::LineItemBody,
    responses((status = 201, body = dto::LineItemWritten),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"),
              (status = 403, body = dto::LineItemError), (status = 404, body = dto::LineItemError)))]
pub async fn create_line_item(
    mut t: Tenant,
    Path(opportunity): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (opp, current) = item_opportunity(&mut t, &opportunity).await?;
    let mut errors = FieldErrors::new();
    let input = dto::validate_line_item(&body, &mut errors);
    let base = LineItem {
        name: String::new(),
        description: String::new(),
        quantity: "1".into(),
        unit_price: "0".into(),
        discount_type: String::new(),
        discount_value: "0".into(),
        order: 0,
        product_id: None,
    };
    let row = merge_line_item(&mut t, opp, None, base, &input, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let id = Uuid::new_v4();
    let (obj, amount) =
        model::write_line_item(&mut t, opp, id, false, &row, &current.currency).await?;
    activity::record(&mut t, Action::Update, "Opportunity", opp, &current.name).await?;
    t.commit().await?;
    let line_item: Value = serde_json::from_str(&obj).map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "error": false, "message": "Line item created successfully", "line_item": line_item,
            "opportunity_amount": amount_number(amount.as_deref()),
        })),
    ))
}

/// One line item (a bare LineItemObj).
#[utoipa::path(get, path = "/api/opportunities/{opportunity_id}/line-items/{line_item_id}/", tag = "opportunities",
    security(("jwt" = []), ("api_key" = [])), params(("opportunity_id" = Uuid, Path), ("line_item_id" = Uuid, Path)),
    responses((status = 200, body = dto::LineItemObj),
              (status = 403, body = dto::LineItemError), (status = 404, body = dto::LineItemError)))]
pub async fn line_item(
    mut t: Tenant,
    Path((opportunity, item)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (opp, current) = item_opportunity(&mut t, &opportunity).await?;
    let item = item_id(&item)?;
    let obj = model::line_item_json(&mut t.tx, t.org_id, opp, item, &current.currency)
        .await?
        .ok_or_else(item_not_found)?;
    t.commit().await?;
    Ok(Json(
        serde_json::from_str(&obj).map_err(ApiError::internal)?,
    ))
}

/// Changes the keys the body carries (always partial, as upstream and the frontend); totals
/// and the opportunity's amount are recomputed in the same transaction.
#[utoipa::path(put, path = "/api/opportunities/{opportunity_id}/line-items/{line_item_id}/", tag = "opportunities",
    security(("jwt" = []), ("api_key" = [])), params(("opportunity_id" = Uuid, Path), ("line_item_id" = Uuid, Path)),
    request_body(content = dto::LineItemBody, description = "Any of these"),
    responses((status = 200, body = dto::LineItemWritten),
              (status = 400, description = "`{\"error\": true, \"errors\": {field: [msg]}}`"),
              (status = 403, body = dto::LineItemError), (status = 404, body = dto::LineItemError)))]
pub async fn update_line_item(
    mut t: Tenant,
    Path((opportunity, item)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let (opp, current) = item_opportunity(&mut t, &opportunity).await?;
    let item = item_id(&item)?;
    let base = model::line_item(&mut t.tx, t.org_id, opp, item)
        .await?
        .ok_or_else(item_not_found)?;
    let mut errors = FieldErrors::new();
    let input = dto::validate_line_item(&body, &mut errors);
    let row = merge_line_item(&mut t, opp, Some(item), base, &input, &mut errors).await?;
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let (obj, amount) =
        model::write_line_item(&mut t, opp, item, true, &row, &current.currency).await?;
    activity::record(&mut t, Action::Update, "Opportunity", opp, &current.name).await?;
    t.commit().await?;
    let line_item: Value = serde_json::from_str(&obj).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "error": false, "message": "Line item updated successfully", "line_item": line_item,
        "opportunity_amount": amount_number(amount.as_deref()),
    })))
}

/// Removes a line item and answers with the opportunity's new amount (a JSON body: the
/// frontend reads it). No items left: a calculated amount goes back to 0 and MANUAL.
#[utoipa::path(delete, path = "/api/opportunities/{opportunity_id}/line-items/{line_item_id}/", tag = "opportunities",
    security(("jwt" = []), ("api_key" = [])), params(("opportunity_id" = Uuid, Path), ("line_item_id" = Uuid, Path)),
    responses((status = 200, body = dto::LineItemDeleted),
              (status = 403, body = dto::LineItemError), (status = 404, body = dto::LineItemError)))]
pub async fn delete_line_item(
    mut t: Tenant,
    Path((opportunity, item)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (opp, current) = item_opportunity(&mut t, &opportunity).await?;
    let item = item_id(&item)?;
    let (found, amount) = model::delete_line_item(&mut t.tx, t.org_id, opp, item).await?;
    if !found {
        return Err(item_not_found());
    }
    activity::record(&mut t, Action::Update, "Opportunity", opp, &current.name).await?;
    t.commit().await?;
    Ok(Json(json!({
        "error": false, "message": "Line item deleted successfully",
        "opportunity_amount": amount_number(amount.as_deref()),
    })))
}
