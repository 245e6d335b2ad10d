//! Case rows and their SQL, on the shared toolkit: the list page (and a detail's case object) is
//! rendered by PostgreSQL in one statement, nested objects set-wise; the SLA fields are computed
//! in the same statement.

use uuid::Uuid;

use crate::common::render::{self, Nest, Obj};
use crate::db::sql::{self, Bind, LinkList, Sql, Table, Val};
use crate::db::tenant::Tx;
use crate::error::ApiError;
pub use crate::http::list::Viewer;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

pub const TABLE: Table = Table {
    name: "\"case\"",
    returning: "name",
};

/// Who may see and edit a case: an admin, its creator, an assignee, or a member of one of its
/// teams (the same rule as its comments and attachments).
pub const VISIBILITY: Visibility = Visibility {
    table: "\"case\"",
    alias: "c",
    fk: "case_id",
    assigned: "case_assigned_to",
    teams: "case_teams",
};

/// When the first response is due (alias `c`).
const FR_DUE: &str = "(c.created_at + make_interval(hours => c.sla_first_response_hours))";
/// When the resolution is due.
const RS_DUE: &str = "(c.created_at + make_interval(hours => c.sla_resolution_hours))";
/// Answered (or closed) late, or unanswered past the due time.
const FR_BREACHED: &str = "(coalesce(c.first_response_at, c.resolved_at, now()) > (c.created_at + make_interval(hours => c.sla_first_response_hours)))";
/// Closed late, or open past the due time.
const RS_BREACHED: &str = "(coalesce(c.resolved_at, now()) > (c.created_at + make_interval(hours => c.sla_resolution_hours)))";
const BREACHED: &str = "((coalesce(c.first_response_at, c.resolved_at, now()) > (c.created_at + make_interval(hours => c.sla_first_response_hours)))
     OR (coalesce(c.resolved_at, now()) > (c.created_at + make_interval(hours => c.sla_resolution_hours))))";

pub const LIST: ListSpec = ListSpec {
    alias: "c",
    filters: &[
        F::Contains("name", "c.name"),
        F::Exact("status", "c.status"),
        F::Exact("priority", "c.priority"),
        F::Exact("case_type", "c.case_type"),
        F::Id("account", "c.account_id"),
        F::Bool("is_active", "c.is_active"),
        F::Search("search", &["c.name"]),
        F::Ids {
            key: "assigned_to",
            table: "case_assigned_to",
            fk: "case_id",
            col: "profile_id",
        },
        F::Ids {
            key: "tags",
            table: "case_tags",
            fk: "case_id",
            col: "tags_id",
        },
        F::Ids {
            key: "teams",
            table: "case_teams",
            fk: "case_id",
            col: "teams_id",
        },
        F::Ids {
            key: "contacts",
            table: "case_contacts",
            fk: "case_id",
            col: "contact_id",
        },
        F::Since("created_at__gte", "c.created_at"),
        F::Until("created_at__lte", "c.created_at"),
        F::Date("closed_on__gte", "c.closed_on", ">="),
        F::Date("closed_on__lte", "c.closed_on", "<="),
        F::Bool("sla_breached", BREACHED),
        F::Bool("first_response_breached", FR_BREACHED),
        F::Bool("resolution_breached", RS_BREACHED),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "name",
        "status",
        "priority",
        "case_type",
        "closed_on",
        "resolved_at",
        "first_response_at",
    ],
};

const fn nest(key: &'static str, table: &'static str, col: &'static str, obj: Obj) -> Nest {
    Nest {
        key,
        table,
        fk: "case_id",
        col,
        obj,
    }
}

/// What each case nests.
pub const NESTS: &[Nest] = &[
    nest(
        "assigned_to",
        "case_assigned_to",
        "profile_id",
        Obj::Profile,
    ),
    nest("teams", "case_teams", "teams_id", Obj::Team),
    nest("tags", "case_tags", "tags_id", Obj::Tag),
    nest("contacts", "case_contacts", "contact_id", Obj::Contact),
];

/// The comments of the cases of page CTE `pg` (`x_cm`: per case id, a JSON array, newest first),
/// with their authors as `{id: profile id, user_details: {id, email, profile_pic}}`. `$1` is the org.
pub const COMMENTS_CTE: &str = "x_cm AS MATERIALIZED (
    SELECT m.object_id AS id, json_agg(json_build_object('id', m.id, 'comment', m.comment,
               'commented_on', crm_ts(m.commented_on), 'created_at', crm_ts(m.created_at),
               'commented_by', CASE WHEN p.id IS NOT NULL THEN json_build_object('id', p.id,
                   'user_details', json_build_object('id', u.id, 'email', u.email, 'profile_pic', u.profile_pic)) END)
               ORDER BY m.created_at DESC, m.id) AS j
    FROM comment m LEFT JOIN profile p ON p.id = m.commented_by_id LEFT JOIN users u ON u.id = p.user_id
    WHERE m.org_id = $1 AND m.object_id IN (SELECT id FROM pg)
      AND m.content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'cases' AND model = 'case')
    GROUP BY m.object_id)";

/// CaseObj of page CTE `pg` (position `rn`) as a JSON array; needs `render::nested_ctes` and
/// `COMMENTS_CTE`.
pub fn case_objects() -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object(
            'id', c.id, 'name', c.name, 'status', c.status, 'priority', c.priority,
            'case_type', c.case_type, 'closed_on', c.closed_on, 'description', c.description,
            'created_by', {creator}, 'created_at', crm_ts(c.created_at), 'updated_at', crm_ts(c.updated_at),
            'is_active', c.is_active,
            'account', (SELECT json_build_object('id', a.id, 'name', a.name) FROM accounts a WHERE a.id = c.account_id),
            'contacts', {contacts}, 'teams', {teams}, 'assigned_to', {assigned}, 'tags', {tags},
            'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = c.org_id),
            'comments', coalesce(x_cm.j, '[]'),
            'sla_first_response_hours', c.sla_first_response_hours, 'sla_resolution_hours', c.sla_resolution_hours,
            'first_response_at', crm_ts(c.first_response_at), 'resolved_at', crm_ts(c.resolved_at),
            'first_response_due_at', crm_ts({FR_DUE}), 'resolution_due_at', crm_ts({RS_DUE}),
            'first_response_breached', {FR_BREACHED}, 'resolution_breached', {RS_BREACHED},
            'sla_breached', {BREACHED})
            ORDER BY c.rn), '[]')
         FROM pg c{joins} LEFT JOIN x_cm ON x_cm.id = c.id)",
        creator = render::CREATOR,
        contacts = render::nested("contacts"),
        teams = render::nested("teams"),
        assigned = render::nested("assigned_to"),
        tags = render::nested("tags"),
        joins = render::nested_joins("c", NESTS),
    )
}

/// Up to 1,000 `{id, name}` of the accounts, and `{id, first_name, last_name, email}` of the
/// contacts, the caller may see (`$1` org; `admin`, `user`, `profile` placeholders).
fn lookups(admin: &str, user: &str, profile: &str) -> (String, String) {
    let accounts = crate::accounts::pages::VISIBILITY.ids_sql("$1", user, profile);
    let contacts = crate::contacts::model::VISIBILITY.ids_sql("$1", user, profile);
    (
        format!(
            "(SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name) ORDER BY a.name, a.id), '[]')
              FROM (SELECT a.id, a.name FROM accounts a WHERE a.org_id = $1 AND a.is_active
                      AND ({admin} OR a.id IN ({accounts}))
                    ORDER BY a.name, a.id LIMIT 1000) a)"
        ),
        format!(
            "(SELECT coalesce(json_agg(json_build_object('id', k.id, 'first_name', k.first_name,
                     'last_name', k.last_name, 'email', k.email) ORDER BY k.first_name, k.last_name, k.id), '[]')
              FROM (SELECT k.id, k.first_name, k.last_name, k.email FROM contacts k WHERE k.org_id = $1
                      AND ({admin} OR k.id IN ({contacts}))
                    ORDER BY k.first_name, k.last_name, k.id LIMIT 1000) k)"
        ),
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
    let mut cond = String::from("c.org_id = $1");
    let conds = LIST.conditions(q, &mut sql)?;
    // An admin's unfiltered list reads the org's row count (migration 0130) instead of counting.
    let admin_unfiltered = v.admin && conds.is_empty();
    for c in conds {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    let admin = sql.p(Bind::Bool(v.admin));
    let (u, p) = (
        sql.p(Bind::Uuid(v.user_id)),
        sql.p(Bind::Uuid(v.profile_id)),
    );
    if !v.admin {
        cond.push_str(&format!(
            " AND c.id IN ({})",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
    }
    let counts = if admin_unfiltered {
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM row_counts WHERE org_id = $1 AND tbl = 'case'"
            .to_string()
    } else {
        format!("SELECT count(*) AS n FROM \"case\" c WHERE {cond}")
    };
    let (accounts, contacts) = lookups(&admin, &u, &p);
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT c.* FROM \"case\" c WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s),
         {nested},
         {COMMENTS_CTE},
         objs AS MATERIALIZED (SELECT {objects} AS rows),
         cnt AS MATERIALIZED ({counts})
         SELECT json_build_object(
            'cases_count', cnt.n,
            'offset', CASE WHEN json_array_length(objs.rows) = 0 THEN 0
                           WHEN {offset} + json_array_length(objs.rows) >= cnt.n THEN NULL
                           ELSE {offset} + json_array_length(objs.rows) END,
            'cases', objs.rows,
            'accounts_list', {accounts},
            'contacts_list', {contacts}
         )::text FROM objs, cnt",
        nested = render::nested_ctes("pg", NESTS),
        objects = case_objects(),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// What a write needs to know about a case (row locked): `None` when it is not in the org.
pub struct Current {
    pub created_by: Option<Uuid>,
    pub visible: bool,
    pub status: String,
    pub priority: String,
    pub closed_on: Option<chrono::NaiveDate>,
}

pub async fn current(tx: &mut Tx, v: &Viewer, id: Uuid) -> Result<Option<Current>, ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let text = format!(
        "SELECT c.created_by_id, {vis}, c.status, c.priority, c.closed_on FROM \"case\" c
         WHERE c.org_id = $1 AND c.id = $2 FOR UPDATE"
    );
    type Row = (
        Option<Uuid>,
        bool,
        String,
        String,
        Option<chrono::NaiveDate>,
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.admin)
        .bind(v.user_id)
        .bind(v.profile_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(
        |(created_by, visible, status, priority, closed_on)| Current {
            created_by,
            visible,
            status,
            priority,
            closed_on,
        },
    ))
}

/// The detail page as JSON text (without the static lists), in one statement: `None` when the
/// case is not in the org, `Some((false, None))` when the caller may not see it. `base` is the
/// API's base URL (attachment links).
pub async fn detail_json(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    base: &str,
) -> Result<Option<(bool, Option<String>)>, ApiError> {
    let vis = VISIBILITY.sql("$3", "$4", "$5");
    let (comments, attachments) = crate::common::comments::CASES.detail_json_sql("$1", "$2", "$6");
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT c.*, 1 AS rn, {vis} AS visible FROM \"case\" c
                                  WHERE c.org_id = $1 AND c.id = $2),
         {nested},
         {COMMENTS_CTE}
         SELECT pg.visible, CASE WHEN pg.visible THEN json_build_object(
            'cases_obj', {objects} -> 0,
            'comments', {comments},
            'attachments', {attachments},
            'contacts', (SELECT {contacts} FROM pg c LEFT JOIN n_contacts ON n_contacts.id = c.id),
            'comment_permission', $3 OR pg.created_by_id = $4,
            'users_mention', CASE WHEN $3 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM case_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                     WHERE a.case_id = $2)
                END,
            'solutions', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'title', s.title,
                                 'status', s.status, 'is_published', s.is_published) ORDER BY s.created_at DESC, s.id), '[]')
                          FROM solution_cases x JOIN solution s ON s.id = x.solution_id
                          WHERE x.case_id = $2 AND s.org_id = $1)
         )::text END FROM pg",
        nested = render::nested_ctes("pg", NESTS),
        objects = case_objects(),
        contacts = render::nested("contacts"),
    );
    let row: Option<(bool, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.admin)
        .bind(v.user_id)
        .bind(v.profile_id)
        .bind(base)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row)
}

/// CaseObj of one case (no visibility check: the caller just wrote it), as JSON text.
pub async fn case_obj(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT c.*, 1 AS rn FROM \"case\" c WHERE c.org_id = $1 AND c.id = $2),
         {nested},
         {COMMENTS_CTE}
         SELECT ({objects} -> 0)::text",
        nested = render::nested_ctes("pg", NESTS),
        objects = case_objects(),
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Replaces the relation lists that are `Some` and returns the e-mails of profiles newly
/// assigned, except the actor's own.
pub async fn sync_relations(
    tx: &mut Tx,
    case: Uuid,
    actor_profile: Uuid,
    input: &super::dto::CaseInput,
) -> Result<Vec<String>, ApiError> {
    let lists = [
        LinkList {
            table: "case_assigned_to",
            col: "profile_id",
            ids: input.assigned_to.as_deref(),
        },
        LinkList {
            table: "case_contacts",
            col: "contact_id",
            ids: input.contacts.as_deref(),
        },
        LinkList {
            table: "case_teams",
            col: "teams_id",
            ids: input.teams.as_deref(),
        },
        LinkList {
            table: "case_tags",
            col: "tags_id",
            ids: input.tags.as_deref(),
        },
    ];
    sql::sync_links(
        tx,
        "case_id",
        case,
        actor_profile,
        "case_assigned_to",
        &lists,
    )
    .await
}

/// Inserts a case (upstream defaults: active); a case created closed is resolved at once.
pub async fn insert(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    let priority = crate::http::fields::text(fields, "priority").unwrap_or("Normal");
    let (first, resolution) = super::dto::sla_hours(priority);
    let defaults = [
        ("is_active", Val::Bool(true)),
        ("sla_first_response_hours", Val::Int(Some(first))),
        ("sla_resolution_hours", Val::Int(Some(resolution))),
    ];
    let name = sql::insert(tx, &TABLE, org, Some(user), id, fields, &defaults).await?;
    if crate::http::fields::text(fields, "status").is_some_and(super::dto::is_terminal) {
        sqlx::query("UPDATE \"case\" SET resolved_at = now() WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(name)
}

/// How a write moves `resolved_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Keep,
    /// Closed now (kept when it already was).
    Stamp,
    /// Reopened.
    Clear,
}

pub async fn update(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
    resolution: Resolution,
) -> Result<String, ApiError> {
    let sets: &[&'static str] = match resolution {
        Resolution::Keep => &[],
        Resolution::Stamp => &["resolved_at = coalesce(resolved_at, now())"],
        Resolution::Clear => &["resolved_at = NULL"],
    };
    sql::update_with(tx, &TABLE, org, user, id, fields, sets).await
}

/// Deletes a case with its links, as upstream's cascades do: its join rows and solution links
/// go, tasks pointing at it keep existing without it. Comments and attachments: the caller.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "WITH j1 AS (DELETE FROM case_assigned_to WHERE case_id = $2),
              j2 AS (DELETE FROM case_teams WHERE case_id = $2),
              j3 AS (DELETE FROM case_tags WHERE case_id = $2),
              j4 AS (DELETE FROM case_contacts WHERE case_id = $2),
              j5 AS (DELETE FROM solution_cases WHERE case_id = $2),
              n1 AS (UPDATE task SET case_id = NULL WHERE org_id = $1 AND case_id = $2)
         DELETE FROM \"case\" WHERE org_id = $1 AND id = $2 RETURNING name",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}
