//! The accounts list and detail pages, each rendered to JSON by PostgreSQL in one statement on the
//! module toolkit: filters and ordering (`LIST`), USER visibility (`VISIBILITY`), nested
//! profiles, teams, tags and contacts rendered once per page (`NESTS`).

use std::sync::OnceLock;

use uuid::Uuid;

use crate::common::choices::COUNTRIES;
use crate::common::render::{self, Nest, Obj, TAG_OBJ};
use crate::db::Tenant;
use crate::db::sql::{self, Bind, Sql};
use crate::error::ApiError;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

/// Who may see and edit an account (alias `acc`): an admin, its creator, an assignee, or a member
/// of one of its teams.
pub const VISIBILITY: Visibility = Visibility {
    table: "accounts",
    alias: "acc",
    fk: "account_id",
    assigned: "accounts_assigned_to",
    teams: "accounts_teams",
};

/// The list's filters (what upstream and the frontend send) and orderable columns.
pub const LIST: ListSpec = ListSpec {
    alias: "acc",
    filters: &[
        F::Contains("name", "acc.name"),
        F::Contains("city", "acc.city"),
        F::Contains("industry", "acc.industry"),
        F::Search("search", &["acc.name"]),
        F::Ids {
            key: "tags",
            table: "accounts_tags",
            fk: "account_id",
            col: "tags_id",
        },
        F::Ids {
            key: "assigned_to",
            table: "accounts_assigned_to",
            fk: "account_id",
            col: "profile_id",
        },
        F::Ids {
            key: "teams",
            table: "accounts_teams",
            fk: "account_id",
            col: "teams_id",
        },
        F::Since("created_at__gte", "acc.created_at"),
        F::Until("created_at__lte", "acc.created_at"),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "name",
        "email",
        "industry",
        "city",
        "state",
        "country",
        "annual_revenue",
        "number_of_employees",
    ],
};

const NESTS: &[Nest] = &[
    Nest {
        key: "assigned_to",
        table: "accounts_assigned_to",
        fk: "account_id",
        col: "profile_id",
        obj: Obj::Profile,
    },
    Nest {
        key: "teams",
        table: "accounts_teams",
        fk: "account_id",
        col: "teams_id",
        obj: Obj::Team,
    },
    Nest {
        key: "contacts",
        table: "accounts_contacts",
        fk: "account_id",
        col: "contact_id",
        obj: Obj::Contact,
    },
    Nest {
        key: "tags",
        table: "accounts_tags",
        fk: "account_id",
        col: "tags_id",
        obj: Obj::Tag,
    },
];

/// `{"GB": "United Kingdom", ...}`, bound as a parameter for `country_display`.
fn country_names() -> &'static str {
    static NAMES: OnceLock<String> = OnceLock::new();
    NAMES.get_or_init(|| {
        let map: serde_json::Map<String, serde_json::Value> = COUNTRIES
            .iter()
            .map(|(c, n)| (c.to_string(), serde_json::Value::from(*n)))
            .collect();
        serde_json::Value::Object(map).to_string()
    })
}

/// Per account of CTE `pg`: its opportunities, cases and tasks as upstream's small objects
/// (`x_op`, `x_case`, `x_task`), and the org's mini-object (`x_org`). `$1` is the org.
fn related_ctes() -> String {
    let per = |name: &str, table: &str, obj: &str| {
        format!(
            "{name} AS MATERIALIZED (SELECT r.account_id AS id, json_agg({obj} ORDER BY r.created_at DESC, r.id) AS j
                 FROM {table} r WHERE r.org_id = $1 AND r.account_id IN (SELECT id FROM pg) GROUP BY r.account_id)"
        )
    };
    [
        per(
            "x_op",
            "opportunity",
            "json_build_object('id', r.id, 'name', r.name, 'stage', r.stage,
                               'amount', coalesce(nullif(r.amount, 0)::text, '0'))",
        ),
        per(
            "x_case",
            "\"case\"",
            "json_build_object('id', r.id, 'name', r.name)",
        ),
        per(
            "x_task",
            "task",
            "json_build_object('id', r.id, 'title', r.title)",
        ),
        "x_org AS (SELECT json_build_object('id', o.id, 'name', o.name) AS o FROM organization o WHERE o.id = $1)"
            .to_string(),
    ]
    .join(",\n")
}

/// AccountObj over alias `acc` (upstream's key order, plus `updated_at`); `countries` is the
/// placeholder of `country_names`. Needs `account_joins`.
fn account_obj(countries: &str) -> String {
    format!(
        "json_build_object(
            'id', acc.id, 'name', acc.name, 'email', acc.email, 'phone', acc.phone, 'website', acc.website,
            'industry', acc.industry, 'number_of_employees', acc.number_of_employees,
            'annual_revenue', acc.annual_revenue::text, 'currency', acc.currency,
            'address_line', acc.address_line, 'city', acc.city, 'state', acc.state, 'postcode', acc.postcode,
            'country', acc.country, 'country_display', {countries}::json ->> acc.country,
            'assigned_to', {}, 'teams', {}, 'contacts', {}, 'tags', {},
            'description', acc.description,
            'cases', coalesce(x_case.j, '[]'), 'tasks', coalesce(x_task.j, '[]'),
            'opportunities', coalesce(x_op.j, '[]'),
            'created_by', {}, 'created_at', crm_ts(acc.created_at), 'is_active', acc.is_active,
            'org', x_org.o, 'updated_at', crm_ts(acc.updated_at))",
        render::nested("assigned_to"),
        render::nested("teams"),
        render::nested("contacts"),
        render::nested("tags"),
        render::CREATOR,
    )
}

fn account_joins() -> String {
    format!(
        "{} LEFT JOIN x_op ON x_op.id = acc.id LEFT JOIN x_case ON x_case.id = acc.id
         LEFT JOIN x_task ON x_task.id = acc.id CROSS JOIN x_org",
        render::nested_joins("acc", NESTS)
    )
}

/// Up to 100 open leads the caller can see, newest first, as small objects; `admin`, `user`,
/// `profile` are placeholders.
fn open_leads(admin: &str, user: &str, profile: &str) -> String {
    let visible = crate::leads::model::visible_sql(admin, user, profile);
    format!(
        "(SELECT coalesce(json_agg(json_build_object('id', l.id, 'title', l.title, 'first_name', l.first_name,
                'last_name', l.last_name, 'email', l.email, 'company_name', l.company_name, 'status', l.status)
                ORDER BY l.created_at DESC, l.id DESC), '[]')
          FROM (SELECT l.* FROM lead l WHERE l.org_id = $1 AND l.status IS DISTINCT FROM 'converted'
                  AND l.status IS DISTINCT FROM 'closed' AND {visible}
                ORDER BY l.created_at DESC, l.id DESC LIMIT 100) l)"
    )
}

/// The list page as JSON text, without the static choice lists (the handler appends them).
pub async fn list_json(t: &mut Tenant, q: &RawQuery, page: Page) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(t.org_id));
    let conds = LIST.conditions(q, &mut sql)?;
    let countries = sql.p(Bind::Text(country_names().to_string()));
    let admin = sql.p(Bind::Bool(t.is_admin()));
    let user = sql.p(Bind::Uuid(t.user_id));
    let profile = sql.p(Bind::Uuid(t.profile_id));
    let mut cond = String::from("acc.org_id = $1");
    for c in &conds {
        cond.push_str(" AND ");
        cond.push_str(c);
    }
    // A USER's accounts are gathered from their own links first (cost follows what they see).
    let vis = if t.is_admin() {
        String::new()
    } else {
        cond.push_str(" AND acc.id IN (SELECT id FROM vis)");
        format!(
            "vis AS MATERIALIZED ({}),",
            VISIBILITY.ids_sql("$1", &user, &profile)
        )
    };
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let section = |part: &str| {
        format!(
            "(SELECT s.*, row_number() OVER () AS rn FROM (
                 SELECT acc.* FROM accounts acc WHERE {cond} AND {part}
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}) s)"
        )
    };
    let objects = |sec: &str| {
        format!(
            "(SELECT coalesce(json_agg({} ORDER BY acc.rn), '[]') FROM {sec} acc {})",
            account_obj(&countries),
            account_joins()
        )
    };
    let next = |rows: &str, total: &str| {
        format!(
            "CASE WHEN json_array_length({rows}) = 0 THEN 0
                  WHEN {offset} + json_array_length({rows}) >= {total} THEN NULL
                  ELSE {offset} + json_array_length({rows}) END"
        )
    };
    let text = format!(
        "WITH {vis}
         op AS MATERIALIZED {active}, cp AS MATERIALIZED {closed},
         pg AS MATERIALIZED (SELECT id, created_by_id FROM op UNION ALL SELECT id, created_by_id FROM cp),
         {nested}, {related},
         ops AS MATERIALIZED (SELECT {op_rows} AS rows), cps AS MATERIALIZED (SELECT {cp_rows} AS rows),
         cnt AS MATERIALIZED (SELECT count(*) FILTER (WHERE acc.is_active) AS o,
                                     count(*) FILTER (WHERE NOT acc.is_active) AS c
                              FROM accounts acc WHERE {cond})
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'active_accounts', json_build_object('offset', {open_next}, 'open_accounts', ops.rows,
                                                 'open_accounts_count', cnt.o),
            'contacts', {contacts_lookup},
            'closed_accounts', json_build_object('offset', {closed_next}, 'close_accounts', cps.rows,
                                                 'close_accounts_count', cnt.c),
            'teams', (SELECT coalesce(json_agg(crm_team_obj(t.id) ORDER BY t.created_at DESC), '[]')
                      FROM teams t WHERE t.org_id = $1),
            'tags', (SELECT coalesce(json_agg({TAG_OBJ} ORDER BY t.name), '[]')
                     FROM tags t WHERE t.org_id = $1 AND t.is_active),
            'users', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'user__email', u.email)
                                               ORDER BY p.created_at DESC), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active),
            'leads', {leads}
         )::text FROM ops, cps, cnt",
        active = section("acc.is_active"),
        closed = section("NOT acc.is_active"),
        nested = render::nested_ctes("pg", NESTS),
        related = related_ctes(),
        op_rows = objects("op"),
        cp_rows = objects("cp"),
        open_next = next("ops.rows", "cnt.o"),
        contacts_lookup = crate::contacts::model::lookup_sql("$1", &crate::http::list::Viewer::of(t)),
        closed_next = next("cps.rows", "cnt.c"),
        leads = open_leads(&admin, &user, &profile),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut *t.tx).await?)
}

/// The detail page as JSON text (without comments, attachments and the static lists), `None`
/// when the account is not in the org, `Some((false, None))` when the caller may not see it.
pub async fn detail_json(
    t: &mut Tenant,
    id: Uuid,
) -> Result<Option<(bool, Option<String>)>, ApiError> {
    let can_see = VISIBILITY.sql("$3", "$4", "$5");
    let sub = |inner: &str| format!("(SELECT coalesce(json_agg({inner}), '[]') FROM");
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT acc.*, {can_see} AS can_see FROM accounts acc
                                  WHERE acc.org_id = $1 AND acc.id = $2),
              {nested}, {related}
         SELECT pg.can_see, CASE WHEN pg.can_see THEN json_build_object(
            'account_obj', (SELECT {obj} FROM pg acc {joins}),
            'contacts', (SELECT {contacts} FROM pg acc {joins}),
            'opportunity_list', {opps} opportunity o WHERE o.org_id = $1 AND o.account_id = $2),
            'users', (SELECT coalesce(json_agg(crm_profile_obj(p.id) ORDER BY u.email), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active),
            'cases', {cases} \"case\" c WHERE c.org_id = $1 AND c.account_id = $2),
            'teams', (SELECT coalesce(json_agg(crm_team_obj(t.id) ORDER BY t.created_at DESC), '[]')
                      FROM teams t WHERE t.org_id = $1),
            'comment_permission', $3 OR pg.created_by_id = $4,
            'tasks', {tasks} task k WHERE k.org_id = $1 AND k.account_id = $2),
            'invoices', {invoices} invoice i WHERE i.org_id = $1 AND i.account_id = $2),
            'emails', {emails} account_email e WHERE e.org_id = $1 AND e.from_account_id = $2),
            'users_mention', CASE WHEN $3 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM accounts_assigned_to x JOIN profile p ON p.id = x.profile_id
                     JOIN users u ON u.id = p.user_id WHERE x.account_id = $2)
                END,
            'leads', {leads}
         )::text END FROM pg",
        nested = render::nested_ctes("pg", NESTS),
        related = related_ctes(),
        obj = account_obj("$6"),
        contacts = render::nested("contacts"),
        joins = account_joins(),
        opps = sub(
            "json_build_object('id', o.id, 'name', o.name, 'stage', o.stage, 'opportunity_type', o.opportunity_type,
                'currency', o.currency, 'amount', o.amount::text, 'probability', o.probability,
                'closed_on', o.closed_on, 'lead_source', o.lead_source, 'description', o.description,
                'created_at', crm_ts(o.created_at), 'is_active', o.is_active) ORDER BY o.created_at DESC, o.id"
        ),
        cases = sub(
            "json_build_object('id', c.id, 'name', c.name, 'status', c.status, 'priority', c.priority,
                'case_type', c.case_type, 'closed_on', c.closed_on, 'description', c.description,
                'created_at', crm_ts(c.created_at), 'is_active', c.is_active) ORDER BY c.created_at DESC, c.id"
        ),
        tasks = sub(
            "json_build_object('id', k.id, 'title', k.title, 'status', k.status, 'priority', k.priority,
                'due_date', k.due_date, 'description', k.description, 'created_at', crm_ts(k.created_at))
                ORDER BY k.created_at DESC, k.id"
        ),
        invoices = sub(
            "json_build_object('id', i.id, 'invoice_number', i.invoice_number, 'invoice_title', i.invoice_title,
                'status', i.status, 'total_amount', i.total_amount::text, 'amount_due', i.amount_due::text,
                'currency', i.currency, 'issue_date', i.issue_date, 'due_date', i.due_date,
                'created_at', crm_ts(i.created_at)) ORDER BY i.created_at DESC, i.id"
        ),
        emails = sub(
            "json_build_object('id', e.id, 'message_subject', e.message_subject, 'message_body', e.message_body,
                'timezone', e.timezone, 'scheduled_date_time', crm_ts(e.scheduled_date_time),
                'scheduled_later', e.scheduled_later, 'created_at', crm_ts(e.created_at),
                'from_email', e.from_email, 'rendered_message_body', e.rendered_message_body,
                'recipients', (SELECT coalesce(json_agg(json_build_object(
                        'contact', json_build_object('id', c.id, 'first_name', c.first_name,
                                                     'last_name', c.last_name, 'email', c.email),
                        'is_sent', g.is_sent) ORDER BY c.first_name, c.id), '[]')
                    FROM \"emailLogs\" g JOIN contacts c ON c.id = g.contact_id WHERE g.email_id = e.id))
                ORDER BY e.created_at DESC, e.id"
        ),
        leads = open_leads("$3", "$4", "$5"),
    );
    let row: Option<(bool, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .bind(country_names())
        .fetch_optional(&mut *t.tx)
        .await?;
    Ok(row)
}
