//! Opportunity rows and their SQL, on the shared toolkit: the list page and the detail are
//! rendered to JSON by PostgreSQL in one statement each (nested objects set-wise); writes lock
//! the row; line items are written with the opportunity's amount in the same statement.

use uuid::Uuid;

use crate::common::render::{self, CREATOR, Nest, Obj, PROFILE_OBJ, TAG_OBJ};
use crate::db::Tenant;
use crate::db::sql::{self, Bind, Sql, Table};
use crate::db::tenant::Tx;
use crate::error::ApiError;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

pub const TABLE: Table = Table {
    name: "opportunity",
    returning: "name",
};

/// Who may see and edit an opportunity (alias `o`): an admin, its creator, an assignee, or a
/// member of one of its teams.
pub const VISIBILITY: Visibility = Visibility {
    table: "opportunity",
    alias: "o",
    fk: "opportunity_id",
    assigned: "opportunity_assigned_to",
    teams: "opportunity_teams",
};

/// The list's filters (upstream's and what the frontend sends) and orderable columns.
pub const LIST: ListSpec = ListSpec {
    alias: "o",
    filters: &[
        F::Contains("name", "o.name"),
        F::Id("account", "o.account_id"),
        // Upstream's `stage` and `lead_source` filters are "contains": `CLOSED` finds both.
        F::Contains("stage", "o.stage"),
        F::Contains("lead_source", "o.lead_source"),
        F::Exact("opportunity_type", "o.opportunity_type"),
        F::Exact("currency", "o.currency"),
        F::Bool("is_active", "o.is_active"),
        F::Search("search", &["o.name"]),
        F::Ids {
            key: "tags",
            table: "opportunity_tags",
            fk: "opportunity_id",
            col: "tags_id",
        },
        F::Ids {
            key: "assigned_to",
            table: "opportunity_assigned_to",
            fk: "opportunity_id",
            col: "profile_id",
        },
        F::Ids {
            key: "teams",
            table: "opportunity_teams",
            fk: "opportunity_id",
            col: "teams_id",
        },
        F::Ids {
            key: "contacts",
            table: "opportunity_contacts",
            fk: "opportunity_id",
            col: "contact_id",
        },
        F::Since("created_at__gte", "o.created_at"),
        F::Until("created_at__lte", "o.created_at"),
        F::Date("closed_on__gte", "o.closed_on", ">="),
        F::Date("closed_on__lte", "o.closed_on", "<="),
        F::Num("amount__gte", "o.amount", ">="),
        F::Num("amount__lte", "o.amount", "<="),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "name",
        "amount",
        "probability",
        "closed_on",
        "stage",
        "opportunity_type",
        "lead_source",
    ],
};

const fn nest(key: &'static str, table: &'static str, col: &'static str, obj: Obj) -> Nest {
    Nest {
        key,
        table,
        fk: "opportunity_id",
        col,
        obj,
    }
}

/// What each opportunity nests, and the tasks it counts.
const NESTS: &[Nest] = &[
    nest(
        "assigned_to",
        "opportunity_assigned_to",
        "profile_id",
        Obj::Profile,
    ),
    nest("teams", "opportunity_teams", "teams_id", Obj::Team),
    nest("tags", "opportunity_tags", "tags_id", Obj::Tag),
    nest(
        "contacts",
        "opportunity_contacts",
        "contact_id",
        Obj::Contact,
    ),
    nest("task_count", "task", "id", Obj::Count),
];

/// ProductObj over alias `pr`.
pub const PRODUCT_OBJ: &str = "json_build_object('id', pr.id, 'name', pr.name, 'description', pr.description,
    'sku', pr.sku, 'price', pr.price::text, 'currency', pr.currency, 'category', pr.category,
    'is_active', pr.is_active, 'created_at', crm_ts(pr.created_at), 'updated_at', crm_ts(pr.updated_at))";

/// LineItemObj over aliases `li` (the line item) and `pr` (its product, LEFT JOINed); `cur` is
/// the SQL of the opportunity's currency (USD when none).
pub fn line_item_obj(cur: &str) -> String {
    format!(
        "json_build_object('id', li.id, 'product', CASE WHEN pr.id IS NULL THEN NULL ELSE {PRODUCT_OBJ} END,
            'name', li.name, 'description', li.description, 'quantity', li.quantity::text,
            'unit_price', li.unit_price::text, 'discount_type', li.discount_type,
            'discount_value', li.discount_value::text, 'discount_amount', li.discount_amount::text,
            'subtotal', li.subtotal::text, 'total', li.total::text, 'order', li.\"order\",
            'formatted_unit_price', {cur} || ' ' || to_char(li.unit_price, 'FM999,999,999,990.00'),
            'formatted_total', {cur} || ' ' || to_char(li.total, 'FM999,999,999,990.00'),
            'created_at', crm_ts(li.created_at), 'updated_at', crm_ts(li.updated_at))"
    )
}

const LINE_ORDER: &str = "li.\"order\", li.created_at, li.id";
const CURRENCY: &str = "coalesce(nullif(o.currency, ''), 'USD')";

/// Per opportunity of CTE `pg`: its account (`x_acc`), who closed it (`x_cb`), its line items
/// and their total (`x_li`), and the org's mini-object (`x_org`). `$1` is the org.
fn related_ctes() -> String {
    format!(
        "x_acc AS MATERIALIZED (SELECT a.id, json_build_object('id', a.id, 'name', a.name, 'email', a.email,
                'phone', a.phone, 'website', a.website, 'industry', a.industry, 'currency', a.currency,
                'city', a.city, 'country', a.country, 'is_active', a.is_active) AS o
             FROM accounts a WHERE a.org_id = $1 AND a.id IN (SELECT account_id FROM pg)),
         x_cb AS MATERIALIZED (SELECT p.id, {PROFILE_OBJ} AS o FROM profile p JOIN users u ON u.id = p.user_id
             WHERE p.id IN (SELECT closed_by_id FROM pg)),
         x_li AS MATERIALIZED (SELECT li.opportunity_id AS id, json_agg({li} ORDER BY {LINE_ORDER}) AS j,
                 sum(li.total) AS total
             FROM opportunity_line_item li JOIN pg o ON o.id = li.opportunity_id
                  LEFT JOIN product pr ON pr.id = li.product_id AND pr.org_id = li.org_id
             WHERE li.org_id = $1 GROUP BY li.opportunity_id),
         x_org AS (SELECT json_build_object('id', g.id, 'name', g.name) AS o FROM organization g WHERE g.id = $1)",
        li = line_item_obj(CURRENCY),
    )
}

/// OpportunityObj over alias `o` (upstream's key order, plus `updated_at`, `task_count` and
/// `event_count`). Needs `opportunity_joins`.
fn opportunity_obj() -> String {
    format!(
        "json_build_object(
            'id', o.id, 'name', o.name, 'account', x_acc.o, 'stage', o.stage,
            'opportunity_type', o.opportunity_type, 'currency', o.currency, 'amount', o.amount::text,
            'amount_source', o.amount_source, 'probability', o.probability, 'closed_on', o.closed_on,
            'lead_source', o.lead_source, 'contacts', {contacts},
            'line_items', coalesce(x_li.j, '[]'), 'line_items_total', coalesce(x_li.total, 0),
            'assigned_to', {assigned}, 'teams', {teams}, 'closed_by', x_cb.o, 'tags', {tags},
            'description', o.description, 'created_by', {CREATOR}, 'created_at', crm_ts(o.created_at),
            'updated_at', crm_ts(o.updated_at), 'is_active', o.is_active, 'org', x_org.o,
            'created_on_arrow', crm_timesince(o.created_at), 'task_count', {tasks}, 'event_count', 0)",
        contacts = render::nested("contacts"),
        assigned = render::nested("assigned_to"),
        teams = render::nested("teams"),
        tags = render::nested("tags"),
        tasks = render::count("task_count"),
    )
}

fn opportunity_joins() -> String {
    format!(
        "{} LEFT JOIN x_acc ON x_acc.id = o.account_id LEFT JOIN x_cb ON x_cb.id = o.closed_by_id
         LEFT JOIN x_li ON x_li.id = o.id CROSS JOIN x_org",
        render::nested_joins("o", NESTS)
    )
}

/// The list page as JSON text, without the static choice lists (the handler appends them).
pub async fn list_json(t: &mut Tenant, q: &RawQuery, page: Page) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(t.org_id));
    let conds = LIST.conditions(q, &mut sql)?;
    // An admin's unfiltered list reads the org's row count (migration 0120) instead of counting.
    let fast_count = t.is_admin() && conds.is_empty();
    let mut cond = String::from("o.org_id = $1");
    for c in &conds {
        cond.push_str(" AND ");
        cond.push_str(c);
    }
    let (mut acc_vis, mut con_vis) = (String::new(), String::new());
    if !t.is_admin() {
        let (u, p) = (
            sql.p(Bind::Uuid(t.user_id)),
            sql.p(Bind::Uuid(t.profile_id)),
        );
        cond.push_str(&format!(
            " AND o.id IN ({})",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
        acc_vis = format!(
            " AND a.id IN ({})",
            crate::accounts::pages::VISIBILITY.ids_sql("$1", &u, &p)
        );
        con_vis = format!(
            " AND c.id IN ({})",
            crate::contacts::model::VISIBILITY.ids_sql("$1", &u, &p)
        );
    }
    let counts = if fast_count {
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM row_counts WHERE org_id = $1 AND tbl = 'opportunity'"
            .to_string()
    } else {
        format!("SELECT count(*) AS n FROM opportunity o WHERE {cond}")
    };
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT o.* FROM opportunity o WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s),
         {nested}, {related},
         objs AS MATERIALIZED (SELECT coalesce(json_agg({obj} ORDER BY o.rn), '[]') AS rows FROM pg o {joins}),
         cnt AS MATERIALIZED ({counts})
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'opportunities_count', cnt.n,
            'offset', CASE WHEN json_array_length(objs.rows) = 0 THEN 0
                           WHEN {offset} + json_array_length(objs.rows) >= cnt.n THEN NULL
                           ELSE {offset} + json_array_length(objs.rows) END,
            'opportunities', objs.rows,
            'accounts_list', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name)
                                                       ORDER BY a.created_at DESC, a.id), '[]')
                              FROM (SELECT a.id, a.name, a.created_at FROM accounts a WHERE a.org_id = $1{acc_vis}
                                    ORDER BY a.created_at DESC, a.id LIMIT 1000) a),
            'contacts_list', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'first_name', c.first_name,
                                     'last_name', c.last_name, 'email', c.email) ORDER BY c.created_at DESC, c.id), '[]')
                              FROM (SELECT c.id, c.first_name, c.last_name, c.email, c.created_at FROM contacts c
                                    WHERE c.org_id = $1{con_vis} ORDER BY c.created_at DESC, c.id LIMIT 1000) c),
            'tags', (SELECT coalesce(json_agg({TAG_OBJ} ORDER BY t.name), '[]')
                     FROM tags t WHERE t.org_id = $1 AND t.is_active)
         )::text FROM objs, cnt",
        nested = render::nested_ctes("pg", NESTS),
        related = related_ctes(),
        obj = opportunity_obj(),
        joins = opportunity_joins(),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut *t.tx).await?)
}

/// The detail page as JSON text (without comments, attachments and the static lists), `None`
/// when the opportunity is not in the org, `Some((false, None))` when the caller may not see it.
pub async fn detail_json(
    t: &mut Tenant,
    id: Uuid,
) -> Result<Option<(bool, Option<String>)>, ApiError> {
    let can_see = VISIBILITY.sql("$3", "$4", "$5");
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT o.*, 1 AS rn, {can_see} AS can_see FROM opportunity o
                                  WHERE o.org_id = $1 AND o.id = $2),
              {nested}, {related}
         SELECT pg.can_see, CASE WHEN pg.can_see THEN json_build_object(
            'opportunity_obj', (SELECT {obj} FROM pg o {joins}),
            'contacts', (SELECT {contacts} FROM pg o LEFT JOIN n_contacts ON n_contacts.id = o.id),
            'users', (SELECT coalesce(json_agg(crm_profile_obj(p.id) ORDER BY u.email), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active),
            'comment_permission', $3 OR pg.created_by_id = $4,
            'users_mention', CASE WHEN $3 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM opportunity_assigned_to x JOIN profile p ON p.id = x.profile_id
                     JOIN users u ON u.id = p.user_id WHERE x.opportunity_id = $2)
                END
         )::text END FROM pg",
        nested = render::nested_ctes("pg", NESTS),
        related = related_ctes(),
        obj = opportunity_obj(),
        joins = opportunity_joins(),
        contacts = render::nested("contacts"),
    );
    let row: Option<(bool, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    Ok(row)
}

/// What a write needs to know about an existing opportunity (row locked for the transaction).
#[derive(Debug, Clone)]
pub struct Current {
    pub name: String,
    pub created_by: Option<Uuid>,
    pub can_edit: bool,
    pub stage: String,
    pub probability: Option<i32>,
    /// Decimal text.
    pub amount: Option<String>,
    pub closed_on: Option<chrono::NaiveDate>,
    pub closed_by: Option<Uuid>,
    pub amount_source: String,
    /// The currency line items are formatted in (USD when none).
    pub currency: String,
}

type CurrentRow = (
    String,
    Option<Uuid>,
    bool,
    String,
    Option<i32>,
    Option<String>,
    Option<chrono::NaiveDate>,
    Option<Uuid>,
    String,
    String,
);

pub async fn lock(t: &mut Tenant, id: Uuid) -> Result<Option<Current>, ApiError> {
    let text = format!(
        "SELECT o.name, o.created_by_id, {}, o.stage, o.probability, o.amount::text, o.closed_on,
                o.closed_by_id, o.amount_source, {CURRENCY}
         FROM opportunity o WHERE o.org_id = $1 AND o.id = $2 FOR UPDATE",
        VISIBILITY.sql("$3", "$4", "$5")
    );
    let row: Option<CurrentRow> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    Ok(row.map(|r| Current {
        name: r.0,
        created_by: r.1,
        can_edit: r.2,
        stage: r.3,
        probability: r.4,
        amount: r.5,
        closed_on: r.6,
        closed_by: r.7,
        amount_source: r.8,
        currency: r.9,
    }))
}

/// Deletes an opportunity as upstream's cascades do, explicitly: its line items and links go;
/// tasks, board cards, invoices, estimates and recurring invoices that point at it stay,
/// unlinked. Its comments and attachments are removed by the caller. Returns its name.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let mut ctes: Vec<String> = [
        "opportunity_line_item",
        "opportunity_assigned_to",
        "opportunity_teams",
        "opportunity_tags",
        "opportunity_contacts",
    ]
    .iter()
    .map(|t| format!("d_{t} AS (DELETE FROM {t} WHERE opportunity_id = $2)"))
    .collect();
    for t in [
        "task",
        "board_task",
        "invoice",
        "estimate",
        "recurring_invoice",
    ] {
        ctes.push(format!(
            "n_{t} AS (UPDATE {t} SET opportunity_id = NULL WHERE org_id = $1 AND opportunity_id = $2)"
        ));
    }
    let text = format!(
        "WITH {} DELETE FROM opportunity WHERE org_id = $1 AND id = $2 RETURNING name",
        ctes.join(",\n")
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

// ---- Line items ----

/// The sum of the opportunity's line-item totals other than `except` (decimal text).
pub async fn other_items_total(
    tx: &mut Tx,
    org: Uuid,
    opportunity: Uuid,
    except: Option<Uuid>,
) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(total), 0)::text FROM opportunity_line_item
         WHERE org_id = $1 AND opportunity_id = $2 AND id IS DISTINCT FROM $3",
    )
    .bind(org)
    .bind(opportunity)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?)
}

/// A stored line item's writable columns (decimals as text).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineItem {
    pub name: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub discount_type: String,
    pub discount_value: String,
    pub order: i32,
    pub product_id: Option<Uuid>,
}

pub async fn line_item(
    tx: &mut Tx,
    org: Uuid,
    opportunity: Uuid,
    id: Uuid,
) -> Result<Option<LineItem>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT name, description, quantity::text AS quantity, unit_price::text AS unit_price, discount_type,
                discount_value::text AS discount_value, \"order\", product_id
         FROM opportunity_line_item WHERE org_id = $1 AND opportunity_id = $2 AND id = $3 FOR UPDATE",
    )
    .bind(org)
    .bind(opportunity)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A product of the org: its name and price (decimal text).
pub async fn product(
    tx: &mut Tx,
    org: Uuid,
    id: Uuid,
) -> Result<Option<(String, String)>, ApiError> {
    Ok(
        sqlx::query_as("SELECT name, price::text FROM product WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// A line item with every column computed (decimals as canonical text).
pub struct LineItemRow {
    pub item: LineItem,
    pub discount_amount: String,
    pub subtotal: String,
    pub total: String,
}

/// Inserts (`existing: None`) or updates a line item, and in the same statement sets the
/// opportunity's amount to the sum of its line items (`others`, the other items' sum, plus this
/// one) with `amount_source` CALCULATED. Returns the LineItemObj and the new amount (text).
#[allow(clippy::too_many_arguments)]
pub async fn write_line_item(
    t: &mut Tenant,
    opportunity: Uuid,
    id: Uuid,
    existing: bool,
    row: &LineItemRow,
    currency: &str,
) -> Result<(String, Option<String>), ApiError> {
    let write = if existing {
        "UPDATE opportunity_line_item SET updated_at = now(), updated_by_id = $4, name = $5, description = $6,
                quantity = $7::numeric, unit_price = $8::numeric, discount_type = $9, discount_value = $10::numeric,
                discount_amount = $11::numeric, subtotal = $12::numeric, total = $13::numeric, \"order\" = $14,
                product_id = $15
         WHERE org_id = $1 AND opportunity_id = $2 AND id = $3 RETURNING *"
    } else {
        "INSERT INTO opportunity_line_item (id, created_at, updated_at, created_by_id, updated_by_id, name,
                description, quantity, unit_price, discount_type, discount_value, discount_amount, subtotal,
                total, \"order\", opportunity_id, product_id, org_id)
         VALUES ($3, now(), now(), $4, $4, $5, $6, $7::numeric, $8::numeric, $9, $10::numeric, $11::numeric,
                 $12::numeric, $13::numeric, $14, $2, $15, $1) RETURNING *"
    };
    let text = format!(
        "WITH w AS ({write}),
              s AS (SELECT coalesce(sum(x.total), 0) + (SELECT total FROM w) AS total
                    FROM opportunity_line_item x WHERE x.org_id = $1 AND x.opportunity_id = $2 AND x.id <> $3),
              u AS (UPDATE opportunity o SET amount = s.total, amount_source = 'CALCULATED' FROM s
                    WHERE o.org_id = $1 AND o.id = $2 RETURNING o.amount)
         SELECT (SELECT {obj} FROM w li LEFT JOIN product pr ON pr.id = li.product_id AND pr.org_id = li.org_id)::text,
                (SELECT amount::text FROM u)",
        obj = line_item_obj("$16"),
    );
    let it = &row.item;
    let out: (String, Option<String>) = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(opportunity)
        .bind(id)
        .bind(t.user_id)
        .bind(&it.name)
        .bind(&it.description)
        .bind(&it.quantity)
        .bind(&it.unit_price)
        .bind(&it.discount_type)
        .bind(&it.discount_value)
        .bind(&row.discount_amount)
        .bind(&row.subtotal)
        .bind(&row.total)
        .bind(it.order)
        .bind(it.product_id)
        .bind(currency)
        .fetch_one(&mut *t.tx)
        .await?;
    Ok(out)
}

/// Deletes a line item and recalculates the opportunity in the same statement: the sum of the
/// remaining items (CALCULATED), or, when none remain, 0 and MANUAL if it was calculated (a
/// manual amount stays). Returns whether the item existed and the new amount (text).
pub async fn delete_line_item(
    tx: &mut Tx,
    org: Uuid,
    opportunity: Uuid,
    id: Uuid,
) -> Result<(bool, Option<String>), ApiError> {
    Ok(sqlx::query_as(
        "WITH d AS (DELETE FROM opportunity_line_item WHERE org_id = $1 AND opportunity_id = $2 AND id = $3 RETURNING id),
              s AS (SELECT sum(x.total) AS total, count(*) AS n FROM opportunity_line_item x
                    WHERE x.org_id = $1 AND x.opportunity_id = $2 AND x.id <> $3),
              u AS (UPDATE opportunity o SET
                        amount = CASE WHEN s.n > 0 THEN s.total WHEN o.amount_source = 'CALCULATED' THEN 0 ELSE o.amount END,
                        amount_source = CASE WHEN s.n > 0 THEN 'CALCULATED' ELSE 'MANUAL' END
                    FROM s WHERE o.org_id = $1 AND o.id = $2 AND EXISTS (SELECT 1 FROM d) RETURNING o.amount)
         SELECT EXISTS (SELECT 1 FROM d), (SELECT amount::text FROM u)",
    )
    .bind(org)
    .bind(opportunity)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

/// One line item as LineItemObj text.
pub async fn line_item_json(
    tx: &mut Tx,
    org: Uuid,
    opportunity: Uuid,
    id: Uuid,
    currency: &str,
) -> Result<Option<String>, ApiError> {
    let text = format!(
        "SELECT {}::text FROM opportunity_line_item li
                LEFT JOIN product pr ON pr.id = li.product_id AND pr.org_id = li.org_id
         WHERE li.org_id = $1 AND li.opportunity_id = $2 AND li.id = $3",
        line_item_obj("$4")
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(opportunity)
        .bind(id)
        .bind(currency)
        .fetch_optional(&mut **tx)
        .await?)
}

/// The line-items page: the items in display order, the org's active products, and the
/// opportunity's amount (a JSON number) and its source.
pub async fn line_items_json(
    tx: &mut Tx,
    org: Uuid,
    opportunity: Uuid,
    currency: &str,
) -> Result<String, ApiError> {
    let text = format!(
        "SELECT json_build_object(
            'line_items', (SELECT coalesce(json_agg({obj} ORDER BY {LINE_ORDER}), '[]')
                           FROM opportunity_line_item li
                                LEFT JOIN product pr ON pr.id = li.product_id AND pr.org_id = li.org_id
                           WHERE li.org_id = $1 AND li.opportunity_id = $2),
            'products', (SELECT coalesce(json_agg({PRODUCT_OBJ} ORDER BY pr.name, pr.id), '[]')
                         FROM product pr WHERE pr.org_id = $1 AND pr.is_active),
            'opportunity_amount', o.amount, 'opportunity_amount_source', o.amount_source)::text
         FROM opportunity o WHERE o.org_id = $1 AND o.id = $2",
        obj = line_item_obj("$3"),
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(opportunity)
        .bind(currency)
        .fetch_one(&mut **tx)
        .await?)
}
