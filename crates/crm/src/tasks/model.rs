//! Task rows and their SQL, on the shared toolkit: a list page (and a detail's task object) is
//! rendered by PostgreSQL in one statement, nested objects set-wise.

use chrono::NaiveDate;
use serde_json::Value;
use uuid::Uuid;

use crate::common::comments::{ACCOUNTS, CONTACTS};
use crate::common::render::{self, Nest, Obj, PROFILE_OBJ};
use crate::db::sql::{self, Bind, LinkList, Sql, Table, Val};
use crate::db::tenant::Tx;
use crate::error::ApiError;
pub use crate::http::list::Viewer;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

pub const TABLE: Table = Table {
    name: "task",
    returning: "title",
};

/// Who may see and edit a task: an admin, its creator, an assignee, or a member of one of its
/// teams.
pub const VISIBILITY: Visibility = Visibility {
    table: "task",
    alias: "t",
    fk: "task_id",
    assigned: "task_assigned_to",
    teams: "task_teams",
};

pub const LIST: ListSpec = ListSpec {
    alias: "t",
    filters: &[
        F::Contains("title", "t.title"),
        F::Exact("status", "t.status"),
        F::Exact("priority", "t.priority"),
        F::Search("search", &["t.title", "t.description"]),
        F::Id("account", "t.account_id"),
        F::Id("opportunity", "t.opportunity_id"),
        F::Id("case", "t.case_id"),
        F::Id("lead", "t.lead_id"),
        F::Ids {
            key: "assigned_to",
            table: "task_assigned_to",
            fk: "task_id",
            col: "profile_id",
        },
        F::Ids {
            key: "tags",
            table: "task_tags",
            fk: "task_id",
            col: "tags_id",
        },
        F::Ids {
            key: "teams",
            table: "task_teams",
            fk: "task_id",
            col: "teams_id",
        },
        F::Ids {
            key: "contacts",
            table: "task_contacts",
            fk: "task_id",
            col: "contact_id",
        },
        F::Date("due_date__gte", "t.due_date", ">="),
        F::Date("due_date__lte", "t.due_date", "<="),
        F::Since("created_at__gte", "t.created_at"),
        F::Until("created_at__lte", "t.created_at"),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "title",
        "status",
        "priority",
        "due_date",
    ],
};

const fn nest(key: &'static str, table: &'static str, col: &'static str, obj: Obj) -> Nest {
    Nest {
        key,
        table,
        fk: "task_id",
        col,
        obj,
    }
}

/// What each task nests.
const NESTS: &[Nest] = &[
    nest("contacts", "task_contacts", "contact_id", Obj::Contact),
    nest("teams", "task_teams", "teams_id", Obj::Team),
    nest(
        "assigned_to",
        "task_assigned_to",
        "profile_id",
        Obj::Profile,
    ),
    nest("tags", "task_tags", "tags_id", Obj::Tag),
];

/// `{id, name}` of a parent record (alias `x`, display expression `name`), or null.
fn parent(x: &str, name: &str) -> String {
    format!("CASE WHEN {x}.id IS NOT NULL THEN json_build_object('id', {x}.id, 'name', {name}) END")
}

/// TaskObj of page CTE `pg` (position `rn`) as a JSON array; needs `render::nested_ctes`.
/// The parents are `{id, name}` objects (the frontend reads an object or a bare id).
fn task_objects() -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object(
            'id', t.id, 'title', t.title, 'status', t.status, 'priority', t.priority,
            'due_date', t.due_date, 'description', t.description,
            'account', {}, 'opportunity', {}, 'case', {}, 'lead', {},
            'created_by', {}, 'created_at', crm_ts(t.created_at), 'updated_at', crm_ts(t.updated_at),
            'contacts', {}, 'teams', {}, 'assigned_to', {}, 'tags', {})
            ORDER BY t.rn), '[]')
         FROM pg t{}
              LEFT JOIN accounts pa ON pa.id = t.account_id AND pa.org_id = t.org_id
              LEFT JOIN opportunity po ON po.id = t.opportunity_id AND po.org_id = t.org_id
              LEFT JOIN \"case\" pc ON pc.id = t.case_id AND pc.org_id = t.org_id
              LEFT JOIN lead pl ON pl.id = t.lead_id AND pl.org_id = t.org_id)",
        parent("pa", "pa.name"),
        parent("po", "po.name"),
        parent("pc", "pc.name"),
        parent(
            "pl",
            "coalesce(nullif(pl.title, ''), nullif(trim(concat_ws(' ', pl.first_name, pl.last_name)), ''), pl.email)"
        ),
        render::CREATOR,
        render::nested("contacts"),
        render::nested("teams"),
        render::nested("assigned_to"),
        render::nested("tags"),
        render::nested_joins("t", NESTS),
    )
}

/// The lookup lists upstream's task list carries (`accounts_list`, `contacts_list`), slim and
/// limited to what the caller may see (newest 1,000). `$1` org, `admin`/`user`/`profile`
/// placeholders of the caller.
fn lookups(admin: &str, user: &str, profile: &str) -> String {
    format!(
        "'accounts_list', (SELECT coalesce(json_agg(json_build_object('id', x.id, 'name', x.name)), '[]') FROM
             (SELECT a.id, a.name FROM accounts a WHERE a.org_id = $1 AND a.is_active AND {acc}
              ORDER BY a.created_at DESC, a.id DESC LIMIT 1000) x),
         'contacts_list', (SELECT coalesce(json_agg(json_build_object('id', x.id, 'first_name', x.first_name,
                  'last_name', x.last_name, 'email', x.email)), '[]') FROM
             (SELECT c.id, c.first_name, c.last_name, c.email FROM contacts c WHERE c.org_id = $1 AND {con}
              ORDER BY c.created_at DESC, c.id DESC LIMIT 1000) x)",
        acc = ACCOUNTS.visible_cond("a", admin, user, profile),
        con = CONTACTS.visible_cond("c", admin, user, profile),
    )
}

/// The list page as JSON text, without the static choice lists (the handler appends them).
pub async fn list_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    page: Page,
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let mut cond = String::from("t.org_id = $1");
    let conds = LIST.conditions(q, &mut sql)?;
    let unfiltered_admin = v.admin && conds.is_empty();
    for c in conds {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    let (padmin, pu, pp) = (
        sql.p(Bind::Bool(v.admin)),
        sql.p(Bind::Uuid(v.user_id)),
        sql.p(Bind::Uuid(v.profile_id)),
    );
    if !v.admin {
        cond.push_str(&format!(
            " AND t.id IN ({})",
            VISIBILITY.ids_sql("$1", &pu, &pp)
        ));
    }
    // An admin's unfiltered list reads the org's row count (migration 0140) instead of counting.
    let counts = if unfiltered_admin {
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM row_counts WHERE org_id = $1 AND tbl = 'task'"
            .to_string()
    } else {
        format!("SELECT count(*) AS n FROM task t WHERE {cond}")
    };
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT t.* FROM task t WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s),
         {nested},
         objs AS MATERIALIZED (SELECT {objects} AS rows),
         cnt AS MATERIALIZED ({counts})
         SELECT json_build_object(
            'tasks_count', cnt.n,
            'offset', CASE WHEN json_array_length(objs.rows) = 0 THEN 0
                           WHEN {offset} + json_array_length(objs.rows) >= cnt.n THEN NULL
                           ELSE {offset} + json_array_length(objs.rows) END,
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'tasks', objs.rows,
            {lookups}
         )::text FROM objs, cnt",
        nested = render::nested_ctes("pg", NESTS),
        objects = task_objects(),
        lookups = lookups(&padmin, &pu, &pp),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// What a detail or a write needs to know about a task (row locked for writes): `None` when it
/// is not in the org.
pub struct Current {
    pub created_by: Option<Uuid>,
    pub visible: bool,
    /// The parents as stored: account, opportunity, case, lead.
    pub parents: [Option<Uuid>; 4],
    /// The detail page without comments and attachments (when asked for and visible).
    pub page: Option<Value>,
}

/// The detail page's own part: `task_obj`, `users_mention`, `assigned_data`, `users`,
/// `users_excluding_team`, `teams`. `$1` org, `$3` admin.
fn detail_page() -> String {
    format!(
        "json_build_object(
            'task_obj', {objects} -> 0,
            'users_mention', CASE WHEN $3 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM task_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                     WHERE a.task_id = $2)
                END,
            'assigned_data', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'user__email', u.email) ORDER BY a.id), '[]')
                FROM task_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                WHERE a.task_id = $2),
            'users', (SELECT coalesce(json_agg({PROFILE_OBJ} ORDER BY u.email), '[]')
                FROM profile p JOIN users u ON u.id = p.user_id
                WHERE p.org_id = $1 AND p.is_active AND ($3 OR p.role = 'ADMIN')),
            'users_excluding_team', (SELECT coalesce(json_agg({PROFILE_OBJ} ORDER BY u.email), '[]')
                FROM profile p JOIN users u ON u.id = p.user_id
                WHERE p.org_id = $1 AND p.is_active AND ($3 OR p.role = 'ADMIN')
                  AND NOT EXISTS (SELECT 1 FROM task_teams tt JOIN teams_users tu ON tu.teams_id = tt.teams_id
                                  WHERE tt.task_id = $2 AND tu.profile_id = p.id)),
            'teams', (SELECT coalesce(json_agg(json_build_object('id', tm.id, 'name', tm.name) ORDER BY tm.name), '[]')
                FROM teams tm WHERE tm.org_id = $1))",
        objects = task_objects(),
    )
}

pub async fn current(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    render_page: bool,
) -> Result<Option<Current>, ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let cols = "created_by_id, visible, account_id, opportunity_id, case_id, lead_id";
    let text = if render_page {
        format!(
            "WITH pg AS MATERIALIZED (SELECT t.*, 1 AS rn, {vis} AS visible FROM task t WHERE t.org_id = $1 AND t.id = $2),
             {nested}
             SELECT {cols}, CASE WHEN visible THEN {page} END FROM pg",
            nested = render::nested_ctes("pg", NESTS),
            page = detail_page(),
        )
    } else {
        format!(
            "SELECT {cols}, NULL::json FROM (SELECT t.*, {vis} AS visible FROM task t
             WHERE t.org_id = $1 AND t.id = $2 FOR UPDATE) t"
        )
    };
    type Row = (
        Option<Uuid>,
        bool,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
        Option<Value>,
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.admin)
        .bind(v.user_id)
        .bind(v.profile_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(created_by, visible, a, o, c, l, page)| Current {
        created_by,
        visible,
        parents: [a, o, c, l],
        page,
    }))
}

/// Replaces the relation lists that are `Some` and returns the e-mails of profiles newly
/// assigned, except the actor's own.
pub async fn sync_relations(
    tx: &mut Tx,
    task: Uuid,
    actor_profile: Uuid,
    lists: [(&'static str, &'static str, Option<&[Uuid]>); 4],
) -> Result<Vec<String>, ApiError> {
    let lists = lists.map(|(table, col, ids)| LinkList { table, col, ids });
    sql::sync_links(
        tx,
        "task_id",
        task,
        actor_profile,
        "task_assigned_to",
        &lists,
    )
    .await
}

/// Inserts a task.
pub async fn insert(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    sql::insert(tx, &TABLE, org, Some(user), id, fields, &[]).await
}

/// Deletes a task with its links (its comments and attachments are removed by the caller; its
/// reminder ledger goes by cascade).
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "WITH j1 AS (DELETE FROM task_assigned_to WHERE task_id = $2),
              j2 AS (DELETE FROM task_teams WHERE task_id = $2),
              j3 AS (DELETE FROM task_tags WHERE task_id = $2),
              j4 AS (DELETE FROM task_contacts WHERE task_id = $2)
         DELETE FROM task WHERE org_id = $1 AND id = $2 RETURNING title",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

/// One reminder to send: the assignee's e-mail and the task.
pub struct Reminder {
    pub email: String,
    pub task: Uuid,
    pub title: String,
    pub due_date: NaiveDate,
}

/// The open tasks of `org` due on or before `day`, per active assignee, that have not been
/// reminded of on `day` yet; marks them reminded (in the caller's transaction).
pub async fn take_reminders(
    tx: &mut Tx,
    org: Uuid,
    day: NaiveDate,
) -> Result<Vec<Reminder>, sqlx::Error> {
    let rows: Vec<(String, Uuid, String, NaiveDate)> = sqlx::query_as(
        "WITH due AS (
             SELECT t.id, t.title, t.due_date, p.id AS profile_id, u.email
             FROM task t
             JOIN task_assigned_to a ON a.task_id = t.id
             JOIN profile p ON p.id = a.profile_id AND p.org_id = t.org_id AND p.is_active
             JOIN users u ON u.id = p.user_id AND u.is_active
             WHERE t.org_id = $1 AND t.status <> 'Completed' AND t.due_date <= $2),
         ins AS (
             INSERT INTO task_reminder (org_id, task_id, profile_id, day)
             SELECT $1, id, profile_id, $2 FROM due
             ON CONFLICT DO NOTHING RETURNING task_id, profile_id)
         SELECT d.email, d.id, d.title, d.due_date FROM due d
         JOIN ins i ON i.task_id = d.id AND i.profile_id = d.profile_id
         ORDER BY d.due_date, d.id, d.email",
    )
    .bind(org)
    .bind(day)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(email, task, title, due_date)| Reminder {
            email,
            task,
            title,
            due_date,
        })
        .collect())
}
