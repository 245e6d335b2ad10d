//! Contact rows and their SQL, on the shared toolkit: the list page (and a detail's contact
//! object) is rendered by PostgreSQL in one statement, nested objects set-wise.

use uuid::Uuid;

use crate::common::render::{self, Nest, Obj};
use crate::db::sql::{self, Bind, LinkList, Sql, Table, Val};
use crate::db::tenant::Tx;
use crate::error::ApiError;
pub use crate::http::list::Viewer;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

/// The name activity records and e-mails use.
pub const NAME_SQL: &str = "coalesce(nullif(trim(concat_ws(' ', first_name, last_name)), ''), nullif(email, ''), 'Contact ' || id)";

pub const TABLE: Table = Table {
    name: "contacts",
    returning: NAME_SQL,
};

/// Who may see and edit a contact: an admin, its creator, an assignee, or a member of one of its
/// teams.
pub const VISIBILITY: Visibility = Visibility {
    table: "contacts",
    alias: "c",
    fk: "contact_id",
    assigned: "contacts_assigned_to",
    teams: "contacts_teams",
};

/// The `contacts` lookup that list pages embed: the newest 1,000 contacts the caller may see,
/// as `[{id, first_name}]` (a scalar subquery; `org` is the org's placeholder). A USER's are
/// gathered from their own links, as their contact list is.
pub fn lookup_sql(org: &str, v: &crate::http::list::Viewer) -> String {
    let scope = if v.admin {
        String::new()
    } else {
        // Ids formatted from parsed UUIDs: injection-safe literals.
        let (user, profile) = (
            format!("'{}'::uuid", v.user_id),
            format!("'{}'::uuid", v.profile_id),
        );
        format!(" AND id IN ({})", VISIBILITY.ids_sql(org, &user, &profile))
    };
    format!(
        "(SELECT coalesce(json_agg(json_build_object('id', c.id, 'first_name', c.first_name)), '[]')
          FROM (SELECT id, first_name FROM contacts WHERE org_id = {org}{scope}
                ORDER BY created_at DESC, id LIMIT 1000) c)"
    )
}

pub const LIST: ListSpec = ListSpec {
    alias: "c",
    filters: &[
        F::Contains("name", "concat_ws(' ', c.first_name, c.last_name)"),
        F::Contains("city", "c.city"),
        F::Contains("phone", "c.phone"),
        F::Contains("email", "c.email"),
        F::Contains("organization", "c.organization"),
        F::Exact("country", "c.country"),
        F::Id("account", "c.account_id"),
        F::Bool("is_active", "c.is_active"),
        F::Search(
            "search",
            &[
                "c.first_name",
                "c.last_name",
                "c.email",
                "c.phone",
                "c.organization",
            ],
        ),
        F::Ids {
            key: "assigned_to",
            table: "contacts_assigned_to",
            fk: "contact_id",
            col: "profile_id",
        },
        F::Ids {
            key: "tags",
            table: "contacts_tags",
            fk: "contact_id",
            col: "tags_id",
        },
        F::Ids {
            key: "teams",
            table: "contacts_teams",
            fk: "contact_id",
            col: "teams_id",
        },
        F::Since("created_at__gte", "c.created_at"),
        F::Until("created_at__lte", "c.created_at"),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "first_name",
        "last_name",
        "email",
        "phone",
        "organization",
        "title",
        "department",
        "city",
        "country",
    ],
};

const fn nest(key: &'static str, table: &'static str, col: &'static str, obj: Obj) -> Nest {
    Nest {
        key,
        table,
        fk: "contact_id",
        col,
        obj,
    }
}

/// What each contact nests, and the related records it counts.
const NESTS: &[Nest] = &[
    nest(
        "assigned_to",
        "contacts_assigned_to",
        "profile_id",
        Obj::Profile,
    ),
    nest("teams", "contacts_teams", "teams_id", Obj::Team),
    nest("tags", "contacts_tags", "tags_id", Obj::Tag),
    nest("accounts", "accounts_contacts", "account_id", Obj::Account),
    nest("task_count", "task_contacts", "task_id", Obj::Count),
    nest(
        "opportunity_count",
        "opportunity_contacts",
        "opportunity_id",
        Obj::Count,
    ),
    nest("case_count", "case_contacts", "case_id", Obj::Count),
    nest("event_count", "event_contacts", "event_id", Obj::Count),
];

/// ContactObj of page CTE `pg` (position `rn`) as a JSON array; needs `render::nested_ctes`.
fn contact_objects() -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object(
            'id', c.id, 'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
            'phone', c.phone, 'organization', c.organization, 'title', c.title, 'department', c.department,
            'do_not_call', c.do_not_call, 'linkedin_url', c.linkedin_url, 'address_line', c.address_line,
            'city', c.city, 'state', c.state, 'postcode', c.postcode, 'country', c.country,
            'assigned_to', {}, 'teams', {}, 'tags', {},
            'description', c.description, 'created_by', {}, 'created_at', crm_ts(c.created_at),
            'updated_at', crm_ts(c.updated_at), 'is_active', c.is_active,
            'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = c.org_id),
            'account', c.account_id, 'accounts', {},
            'task_count', {}, 'opportunity_count', {}, 'case_count', {}, 'event_count', {})
            ORDER BY c.rn), '[]')
         FROM pg c{})",
        render::nested("assigned_to"),
        render::nested("teams"),
        render::nested("tags"),
        render::CREATOR,
        render::nested("accounts"),
        render::count("task_count"),
        render::count("opportunity_count"),
        render::count("case_count"),
        render::count("event_count"),
        render::nested_joins("c", NESTS),
    )
}

/// The list page as JSON text, without the static country list (the handler appends it).
pub async fn list_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    page: Page,
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let mut cond = String::from("c.org_id = $1");
    let conds = LIST.conditions(q, &mut sql)?;
    // An admin's unfiltered list reads the org's row count (migration 0111) instead of counting.
    let counts = if v.admin && conds.is_empty() {
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM row_counts WHERE org_id = $1 AND tbl = 'contacts'"
            .to_string()
    } else {
        String::new()
    };
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
            " AND c.id IN ({})",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
    }
    let counts = if counts.is_empty() {
        format!("SELECT count(*) AS n FROM contacts c WHERE {cond}")
    } else {
        counts
    };
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT c.* FROM contacts c WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s),
         {nested},
         objs AS MATERIALIZED (SELECT {objects} AS rows),
         cnt AS MATERIALIZED ({counts})
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'count', cnt.n, 'results', objs.rows,
            'contacts_count', cnt.n,
            'offset', CASE WHEN json_array_length(objs.rows) = 0 THEN 0
                           WHEN {offset} + json_array_length(objs.rows) >= cnt.n THEN NULL
                           ELSE {offset} + json_array_length(objs.rows) END,
            'contact_obj_list', objs.rows,
            'users', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'user__email', u.email) ORDER BY p.created_at DESC), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
         )::text FROM objs, cnt",
        nested = render::nested_ctes("pg", NESTS),
        objects = contact_objects(),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// What a detail or a write needs to know about a contact (row locked when `lock`): `None` when
/// it is not in the org.
pub struct Current {
    pub created_by: Option<Uuid>,
    pub visible: bool,
    /// ContactObj as JSON text (when asked for and visible).
    pub obj: Option<String>,
}

pub async fn current(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    render_obj: bool,
) -> Result<Option<Current>, ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let text = if render_obj {
        format!(
            "WITH pg AS MATERIALIZED (SELECT c.*, 1 AS rn, {vis} AS visible FROM contacts c WHERE c.org_id = $1 AND c.id = $2),
             {nested}
             SELECT created_by_id, visible, CASE WHEN visible THEN ({objects} ->> 0) END FROM pg",
            nested = render::nested_ctes("pg", NESTS),
            objects = contact_objects(),
        )
    } else {
        format!(
            "SELECT c.created_by_id, {vis}, NULL::text FROM contacts c WHERE c.org_id = $1 AND c.id = $2 FOR UPDATE"
        )
    };
    let row: Option<(Option<Uuid>, bool, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(text))
            .bind(v.org_id)
            .bind(id)
            .bind(v.admin)
            .bind(v.user_id)
            .bind(v.profile_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(created_by, visible, obj)| Current {
        created_by,
        visible,
        obj,
    }))
}

/// The rest of the detail page: assignees (`{id: user id, name}`), tasks listing the contact and
/// whom a comment may mention, as one JSON object's text.
pub async fn detail_extras(tx: &mut Tx, v: &Viewer, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT json_build_object(
            'assigned_data', (SELECT coalesce(json_agg(json_build_object('id', u.id, 'name', u.email) ORDER BY a.id), '[]')
                FROM contacts_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                WHERE a.contact_id = $2),
            'tasks', (SELECT coalesce(json_agg(json_build_object('id', t.id, 'title', t.title, 'status', t.status,
                        'priority', t.priority, 'due_date', t.due_date) ORDER BY t.created_at DESC), '[]')
                FROM task_contacts x JOIN task t ON t.id = x.task_id WHERE x.contact_id = $2 AND t.org_id = $1),
            'users_mention', CASE WHEN $3 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM contacts_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                     WHERE a.contact_id = $2)
                END)::text",
    )
    .bind(v.org_id)
    .bind(id)
    .bind(v.admin)
    .fetch_one(&mut **tx)
    .await?)
}

/// Replaces the relation lists that are `Some` and returns the e-mails of profiles newly
/// assigned, except the actor's own. A primary account set here also lists the contact on that
/// account (the account page shows its `contacts`).
pub async fn sync_relations(
    tx: &mut Tx,
    contact: Uuid,
    actor_profile: Uuid,
    assigned_to: Option<&[Uuid]>,
    teams: Option<&[Uuid]>,
    tags: Option<&[Uuid]>,
    account: Option<Uuid>,
) -> Result<Vec<String>, ApiError> {
    if let Some(account) = account {
        sqlx::query(
            "INSERT INTO accounts_contacts (account_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(contact)
        .execute(&mut **tx)
        .await?;
    }
    let lists = [
        LinkList {
            table: "contacts_assigned_to",
            col: "profile_id",
            ids: assigned_to,
        },
        LinkList {
            table: "contacts_teams",
            col: "teams_id",
            ids: teams,
        },
        LinkList {
            table: "contacts_tags",
            col: "tags_id",
            ids: tags,
        },
    ];
    sql::sync_links(
        tx,
        "contact_id",
        contact,
        actor_profile,
        "contacts_assigned_to",
        &lists,
    )
    .await
}

/// Inserts a contact (upstream defaults: active, may be called).
pub async fn insert(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    let defaults = [
        ("is_active", Val::Bool(true)),
        ("do_not_call", Val::Bool(false)),
    ];
    sql::insert(tx, &TABLE, org, Some(user), id, fields, &defaults).await
}

/// Deletes a contact with its links, as upstream's cascades do: every join row naming it goes,
/// the records that point at it (board cards, e-mail logs, invoices, estimates, recurring
/// invoices) keep existing without it. Its comments and attachments are removed by the caller.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "WITH j1 AS (DELETE FROM contacts_assigned_to WHERE contact_id = $2),
              j2 AS (DELETE FROM contacts_teams WHERE contact_id = $2),
              j3 AS (DELETE FROM contacts_tags WHERE contact_id = $2),
              j4 AS (DELETE FROM accounts_contacts WHERE contact_id = $2),
              j5 AS (DELETE FROM lead_contacts WHERE contact_id = $2),
              j6 AS (DELETE FROM opportunity_contacts WHERE contact_id = $2),
              j7 AS (DELETE FROM case_contacts WHERE contact_id = $2),
              j8 AS (DELETE FROM task_contacts WHERE contact_id = $2),
              j9 AS (DELETE FROM account_email_recipients WHERE contact_id = $2),
              n1 AS (UPDATE board_task SET contact_id = NULL WHERE org_id = $1 AND contact_id = $2),
              n2 AS (UPDATE \"emailLogs\" SET contact_id = NULL WHERE org_id = $1 AND contact_id = $2),
              n3 AS (UPDATE invoice SET contact_id = NULL WHERE org_id = $1 AND contact_id = $2),
              n4 AS (UPDATE estimate SET contact_id = NULL WHERE org_id = $1 AND contact_id = $2),
              n5 AS (UPDATE recurring_invoice SET contact_id = NULL WHERE org_id = $1 AND contact_id = $2)
         DELETE FROM contacts WHERE org_id = $1 AND id = $2 RETURNING {NAME_SQL}"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}
