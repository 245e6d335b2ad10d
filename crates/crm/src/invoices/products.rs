//! `/api/invoices/products/...`: the product catalogue. SKUs are unique per org, an empty SKU
//! is no SKU (the frontend sends `""` for every product without one; upstream answered 500 to
//! the second), a taken SKU is a 400 on `sku`. Currency defaults to the org's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::handlers::{not_found, paginated, path_id, raw_json, saved};
use crate::common::enums::is_currency;
use crate::db::Tenant;
use crate::db::sql::{self, Bind, Sql, Table, Val};
use crate::error::{ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::{self, Kind, invalid};
use crate::http::list::{Filter as F, ListSpec};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;
use crate::state::AppState;

const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Required(255)),
    ("description", Kind::Text(usize::MAX)),
    ("sku", Kind::Text(100)),
    ("price", Kind::Money(10)),
    ("currency", Kind::Choice(is_currency)),
    ("category", Kind::Text(100)),
    ("is_active", Kind::Bool),
];

const TABLE: Table = Table {
    name: "product",
    returning: "name",
};

const LIST: ListSpec = ListSpec {
    alias: "p",
    filters: &[
        F::Search("search", &["p.name", "p.sku", "p.description"]),
        F::Exact("category", "p.category"),
        F::Bool("is_active", "p.is_active"),
    ],
    orderable: &["name", "price", "created_at", "sku", "category"],
};

const OBJ: &str = "json_build_object('id', p.id, 'name', p.name, 'description', p.description, 'sku', p.sku,
    'price', p.price::text, 'currency', p.currency, 'category', p.category, 'is_active', p.is_active,
    'created_at', crm_ts(p.created_at), 'updated_at', crm_ts(p.updated_at))";

#[derive(Serialize, ToSchema)]
pub struct ProductObj {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub sku: Option<String>,
    /// Decimal string with 2 places.
    pub price: String,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProductListResponse {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<ProductObj>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductSaved {
    pub error: bool,
    pub message: String,
    pub product: ProductObj,
}

/// Body of product create (`name` required), PUT and PATCH.
#[derive(Deserialize, ToSchema)]
pub struct ProductBody {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Unique in the org; `""` means none.
    pub sku: Option<String>,
    /// Decimal >= 0 (string or number).
    #[schema(value_type = Option<String>)]
    pub price: Option<Value>,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub is_active: Option<bool>,
}

#[utoipa::path(get, path = "/api/invoices/products/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("search" = Option<String>, Query),
        ("category" = Option<String>, Query), ("is_active" = Option<bool>, Query),
        ("ordering" = Option<String>, Query, description = "default: name")),
    responses((status = 200, body = ProductListResponse), (status = 400, description = "malformed filter value")))]
pub async fn list(
    State(state): State<AppState>,
    mut t: Tenant,
    q: RawQuery,
    page: Page,
) -> ApiResult<Response> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(t.org_id));
    let mut cond = String::from("p.org_id = $1");
    for c in LIST.conditions(&q, &mut sql)? {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    let order = if q.get("ordering").is_some() {
        LIST.order_by(&q)
    } else {
        "p.name ASC, p.id ASC".to_string()
    };
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "SELECT (SELECT count(*) FROM product p WHERE {cond})::text || ' ' ||
                (SELECT coalesce(json_agg({OBJ} ORDER BY p.rn), '[]')::text FROM
                   (SELECT p.*, row_number() OVER () AS rn FROM
                      (SELECT p.* FROM product p WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) p) p)"
    );
    let out: String = sql::scalar(text, sql.binds).fetch_one(&mut *t.tx).await?;
    t.commit().await?;
    let (count, results) = out.split_once(' ').unwrap_or(("0", "[]"));
    Ok(paginated(
        &state,
        "/api/invoices/products/",
        &q,
        page,
        count.parse().unwrap_or(0),
        results,
    ))
}

async fn product_json(t: &mut Tenant, id: Uuid) -> Result<String, crate::error::ApiError> {
    let text = format!("SELECT {OBJ}::text FROM product p WHERE p.org_id = $1 AND p.id = $2");
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .fetch_optional(&mut *t.tx)
        .await?
        .ok_or_else(|| not_found("Product"))
}

/// Validates; an empty SKU becomes NULL; a SKU taken in the org is a 400 on `sku`.
async fn validate(
    t: &mut Tenant,
    body: &Map<String, Value>,
    create: bool,
    except: Option<Uuid>,
) -> ApiResult<Vec<(&'static str, Val)>> {
    let mut fe = FieldErrors::new();
    let mut cols = fields::validate(body, FIELDS, &mut fe);
    if create && !body.contains_key("name") {
        fe.add("name", "This field is required.");
    }
    for (c, v) in cols.iter_mut() {
        match (*c, &v) {
            ("sku" | "category" | "description", Val::Text(Some(s))) if s.is_empty() => {
                *v = Val::Text(None)
            }
            ("price", Val::Num(None)) => *v = Val::Num(Some("0.00".into())),
            ("currency", Val::Text(Some(s))) if s.is_empty() => *v = Val::Text(None),
            _ => {}
        }
    }
    if let Some(sku) = fields::text(&cols, "sku") {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM product WHERE org_id = $1 AND sku = $2 AND id IS DISTINCT FROM $3)",
        )
        .bind(t.org_id)
        .bind(sku)
        .bind(except)
        .fetch_one(&mut *t.tx)
        .await?;
        if taken {
            fe.add("sku", "A product with this SKU already exists.");
        }
    }
    if !fe.is_empty() {
        return Err(invalid(fe));
    }
    if create
        && !cols
            .iter()
            .any(|(c, v)| *c == "currency" && *v != Val::Text(None))
    {
        let cur: Option<String> =
            sqlx::query_scalar("SELECT default_currency FROM organization WHERE id = $1")
                .bind(t.org_id)
                .fetch_optional(&mut *t.tx)
                .await?
                .flatten();
        cols.retain(|(c, _)| *c != "currency");
        cols.push((
            "currency",
            Val::Text(Some(cur.unwrap_or_else(|| "USD".into()))),
        ));
    }
    Ok(cols)
}

#[utoipa::path(post, path = "/api/invoices/products/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    request_body = ProductBody,
    responses((status = 201, body = ProductSaved), (status = 400), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Response> {
    admin_only(&t)?;
    let cols = validate(&mut t, &body, true, None).await?;
    let id = Uuid::new_v4();
    let actor = t.actor();
    let defaults = [
        ("price", Val::Num(Some("0".into()))),
        ("is_active", Val::Bool(true)),
    ];
    sql::insert(&mut t.tx, &TABLE, t.org_id, actor, id, &cols, &defaults).await?;
    let obj = product_json(&mut t, id).await?;
    t.commit().await?;
    Ok(saved(
        StatusCode::CREATED,
        "Product created",
        "product",
        &obj,
    ))
}

#[utoipa::path(get, path = "/api/invoices/products/{id}/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ProductObj), (status = 404)))]
pub async fn detail(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Response> {
    let id = path_id(&id, "Product")?;
    let obj = product_json(&mut t, id).await?;
    t.commit().await?;
    Ok(raw_json(StatusCode::OK, obj))
}

/// The catalogue is the org's: members read it (line items pick from it), admins change it.
fn admin_only(t: &Tenant) -> Result<(), crate::error::ApiError> {
    if t.is_admin() {
        Ok(())
    } else {
        Err(crate::error::ApiError::permission_denied())
    }
}

async fn write(mut t: Tenant, raw: &str, body: Map<String, Value>) -> ApiResult<Response> {
    admin_only(&t)?;
    let id = path_id(raw, "Product")?;
    product_json(&mut t, id).await?;
    let cols = validate(&mut t, &body, false, Some(id)).await?;
    sql::update(&mut t.tx, &TABLE, t.org_id, t.user_id, id, &cols).await?;
    let obj = product_json(&mut t, id).await?;
    t.commit().await?;
    Ok(saved(StatusCode::OK, "Product updated", "product", &obj))
}

#[utoipa::path(put, path = "/api/invoices/products/{id}/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body = ProductBody,
    responses((status = 200, body = ProductSaved), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn put(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

#[utoipa::path(patch, path = "/api/invoices/products/{id}/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)), request_body(content = ProductBody, description = "Any of these"),
    responses((status = 200, body = ProductSaved), (status = 400), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn patch(
    t: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    write(t, &id, body).await
}

/// Deletes the product; line items that named it keep their data without it.
#[utoipa::path(delete, path = "/api/invoices/products/{id}/", tag = "products", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = super::dto::InvoiceMessage), (status = 403), (status = 404)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    admin_only(&t)?;
    let id = path_id(&id, "Product")?;
    let done: Option<Uuid> = sqlx::query_scalar(
        "WITH a AS (UPDATE invoice_line_item SET product_id = NULL WHERE org_id = $1 AND product_id = $2),
              b AS (UPDATE estimate_line_item SET product_id = NULL WHERE org_id = $1 AND product_id = $2),
              c AS (UPDATE recurring_invoice_line_item SET product_id = NULL WHERE org_id = $1 AND product_id = $2),
              d AS (UPDATE opportunity_line_item SET product_id = NULL WHERE org_id = $1 AND product_id = $2)
         DELETE FROM product WHERE org_id = $1 AND id = $2 RETURNING id",
    )
    .bind(t.org_id)
    .bind(id)
    .fetch_optional(&mut *t.tx)
    .await?;
    done.ok_or_else(|| not_found("Product"))?;
    t.commit().await?;
    Ok(Json(json!({"error": false, "message": "Product deleted"})))
}
