//! Event rows and their SQL on the shared toolkit: list pages and window candidates are rendered
//! by PostgreSQL in one statement each, nested objects set-wise.

use chrono::{DateTime, Utc};
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
    name: "event",
    returning: "name",
};

/// Who may see and edit an event: an admin, its creator, an assignee or a member of one of its
/// teams; an invited member may see it too (`visible_sql`, `visible_ids_sql`).
pub const VISIBILITY: Visibility = Visibility {
    table: "event",
    alias: "e",
    fk: "event_id",
    assigned: "event_assigned_to",
    teams: "event_teams",
};

/// Whether the caller may see event `e` (editing uses `VISIBILITY.sql` alone).
pub fn visible_sql(admin: &str, user: &str, profile: &str) -> String {
    format!(
        "({} OR EXISTS (SELECT 1 FROM event_invitee i WHERE i.event_id = e.id AND i.profile_id = {profile}))",
        VISIBILITY.sql(admin, user, profile)
    )
}

fn visible_ids_sql(org: &str, user: &str, profile: &str) -> String {
    format!(
        "{} UNION SELECT event_id FROM event_invitee WHERE profile_id = {profile}",
        VISIBILITY.ids_sql(org, user, profile)
    )
}

pub const LIST: ListSpec = ListSpec {
    alias: "e",
    filters: &[
        F::Contains("name", "e.name"),
        F::Search("search", &["e.name", "e.location", "e.description"]),
        F::Exact("event_type", "e.event_type"),
        F::Exact("status", "e.status"),
        F::Id("lead", "e.lead_id"),
        F::Id("account", "e.account_id"),
        F::Id("opportunity", "e.opportunity_id"),
        F::Id("case", "e.case_id"),
        F::Id("created_by", "e.created_by_id"),
        F::Ids {
            key: "assigned_to",
            table: "event_assigned_to",
            fk: "event_id",
            col: "profile_id",
        },
        F::Ids {
            key: "teams",
            table: "event_teams",
            fk: "event_id",
            col: "teams_id",
        },
        F::Ids {
            key: "contacts",
            table: "event_contacts",
            fk: "event_id",
            col: "contact_id",
        },
        F::Since("created_at__gte", "e.created_at"),
        F::Until("created_at__lte", "e.created_at"),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "name",
        "start_at",
        "event_type",
        "status",
    ],
};

const fn nest(key: &'static str, table: &'static str, col: &'static str, obj: Obj) -> Nest {
    Nest {
        key,
        table,
        fk: "event_id",
        col,
        obj,
    }
}

const NESTS: &[Nest] = &[
    nest(
        "assigned_to",
        "event_assigned_to",
        "profile_id",
        Obj::Profile,
    ),
    nest("teams", "event_teams", "teams_id", Obj::Team),
    nest("contacts", "event_contacts", "contact_id", Obj::Contact),
];

/// EventObj of row alias `e` (needs the nested CTEs and joins).
fn event_object() -> String {
    format!(
        "json_build_object(
            'id', e.id, 'name', e.name, 'event_type', e.event_type, 'status', e.status,
            'start', crm_ts_in(e.start_at, e.timezone), 'end', crm_ts_in(e.end_at, e.timezone),
            'all_day', e.all_day, 'timezone', e.timezone, 'rrule', e.rrule, 'recurring', e.rrule IS NOT NULL,
            'location', e.location, 'description', e.description,
            'assigned_to', {}, 'teams', {}, 'contacts', {},
            'lead', (SELECT json_build_object('id', l.id, 'title', l.title) FROM lead l WHERE l.id = e.lead_id),
            'account', (SELECT json_build_object('id', a.id, 'name', a.name) FROM accounts a WHERE a.id = e.account_id),
            'opportunity', (SELECT json_build_object('id', o.id, 'name', o.name) FROM opportunity o WHERE o.id = e.opportunity_id),
            'case', (SELECT json_build_object('id', c.id, 'name', c.name) FROM \"case\" c WHERE c.id = e.case_id),
            'series', e.series_id, 'created_by', {}, 'created_at', crm_ts(e.created_at),
            'updated_at', crm_ts(e.updated_at))",
        render::nested("assigned_to"),
        render::nested("teams"),
        render::nested("contacts"),
        render::CREATOR,
    )
}

/// Conditions of a list or window: the org, the query's filters, a USER's visibility.
fn conditions(v: &Viewer, q: &RawQuery, sql: &mut Sql) -> Result<(String, bool), ApiError> {
    let mut cond = String::from("e.org_id = $1");
    let conds = LIST.conditions(q, sql)?;
    let filtered = !conds.is_empty();
    for c in conds {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    if !v.admin {
        let (u, p) = (
            sql.p(Bind::Uuid(v.user_id)),
            sql.p(Bind::Uuid(v.profile_id)),
        );
        cond.push_str(&format!(" AND e.id IN ({})", visible_ids_sql("$1", &u, &p)));
    }
    Ok((cond, filtered))
}

/// The list page (one row per event or series) as JSON text.
pub async fn list_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    page: Page,
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let (cond, filtered) = conditions(v, q, &mut sql)?;
    let counts = if v.admin && !filtered {
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM row_counts WHERE org_id = $1 AND tbl = 'event'".to_string()
    } else {
        format!("SELECT count(*) AS n FROM event e WHERE {cond}")
    };
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT s.*, row_number() OVER () AS rn FROM
                (SELECT e.* FROM event e WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}) s),
         {nested},
         objs AS MATERIALIZED (SELECT coalesce(json_agg({obj} ORDER BY e.rn), '[]') AS rows FROM pg e{joins}),
         cnt AS MATERIALIZED ({counts})
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'count', cnt.n, 'events_count', cnt.n,
            'offset', CASE WHEN json_array_length(objs.rows) = 0 THEN 0
                           WHEN {offset} + json_array_length(objs.rows) >= cnt.n THEN NULL
                           ELSE {offset} + json_array_length(objs.rows) END,
            'events', objs.rows)::text FROM objs, cnt",
        nested = render::nested_ctes("pg", NESTS),
        obj = event_object(),
        joins = render::nested_joins("e", NESTS),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// The most series a window expands.
pub const WINDOW_SERIES: i64 = 5000;

/// Events that may have an occurrence in `[from, to)`, as a JSON array of
/// `{obj, start_at, end_at, timezone, rrule, all_day, exceptions: [...]}` (one statement).
/// Exceptions never move an occurrence before its series' start nor past its `last_end_at`.
pub async fn window_json(
    tx: &mut Tx,
    v: &Viewer,
    q: &RawQuery,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let (cond, _) = conditions(v, q, &mut sql)?;
    let (pf, pt) = (sql.p(Bind::Ts(from)), sql.p(Bind::Ts(to)));
    let text = format!(
        "WITH pg AS MATERIALIZED (SELECT e.*, row_number() OVER (ORDER BY e.start_at, e.id) AS rn FROM event e
                WHERE {cond} AND (e.last_end_at > {pf} OR e.last_end_at IS NULL) AND e.start_at < {pt}
                ORDER BY e.start_at, e.id LIMIT {WINDOW_SERIES}),
         {nested}
         SELECT coalesce(json_agg(json_build_object('obj', {obj}, 'start_at', e.start_at, 'end_at', e.end_at,
                    'timezone', e.timezone, 'rrule', e.rrule,
                    'exceptions', (SELECT json_agg(json_build_object('occurrence', x.occurrence, 'cancelled', x.cancelled,
                          'name', x.name, 'status', x.status, 'start_at', x.start_at, 'end_at', x.end_at,
                          'location', x.location, 'description', x.description))
                        FROM event_exception x WHERE x.event_id = e.id))
                ORDER BY e.rn), '[]')::text
         FROM pg e{joins}",
        nested = render::nested_ctes("pg", NESTS),
        obj = event_object(),
        joins = render::nested_joins("e", NESTS),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// What a detail or a write needs to know about an event: `None` when it is not in the org.
pub struct Current {
    pub created_by: Option<Uuid>,
    /// May see it (detail).
    pub visible: bool,
    /// May edit it (admin, creator, assignee, team).
    pub editable: bool,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub timezone: String,
    pub all_day: bool,
    pub rrule: Option<String>,
    pub name: String,
    /// The detail's JSON (`{event_obj, invitees, exceptions, users_mention}`) when asked for.
    pub detail: Option<String>,
}

type Row = (
    Option<Uuid>,
    bool,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    bool,
    Option<String>,
    String,
    Option<String>,
);

/// Reads an event (row locked unless `render` asks for the detail JSON).
pub async fn current(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    render: bool,
) -> Result<Option<Current>, ApiError> {
    let vis = visible_sql("$3", "$4", "$5");
    let edit = VISIBILITY.sql("$3", "$4", "$5");
    let cols = "created_by_id, visible, editable, start_at, end_at, timezone, all_day, rrule, name";
    let text = if render {
        format!(
            "WITH pg AS MATERIALIZED (SELECT e.*, 1 AS rn, {vis} AS visible, {edit} AS editable
                                      FROM event e WHERE e.org_id = $1 AND e.id = $2),
             {nested}
             SELECT {cols}, CASE WHEN visible THEN json_build_object(
                'event_obj', {obj},
                'invitees', (SELECT coalesce(json_agg(json_build_object('id', i.id, 'email', i.email,
                        'profile', i.profile_id, 'contact', i.contact_id, 'response', i.response,
                        'responded_at', crm_ts(i.responded_at)) ORDER BY i.created_at, i.email), '[]')
                    FROM event_invitee i WHERE i.event_id = e.id),
                'exceptions', (SELECT coalesce(json_agg(json_build_object('occurrence', crm_ts_in(x.occurrence, 'UTC'),
                        'cancelled', x.cancelled, 'name', x.name, 'status', x.status,
                        'start', crm_ts_in(x.start_at, e.timezone), 'end', crm_ts_in(x.end_at, e.timezone),
                        'location', x.location, 'description', x.description) ORDER BY x.occurrence), '[]')
                    FROM event_exception x WHERE x.event_id = e.id),
                'users_mention', (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                    FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active
                      AND ($3 OR p.id IN (SELECT profile_id FROM event_assigned_to WHERE event_id = e.id)))
             )::text END
             FROM pg e{joins}",
            nested = render::nested_ctes("pg", NESTS),
            obj = event_object(),
            joins = render::nested_joins("e", NESTS),
        )
    } else {
        format!(
            "SELECT {cols}, NULL::text FROM (SELECT e.*, {vis} AS visible, {edit} AS editable FROM event e
             WHERE e.org_id = $1 AND e.id = $2 FOR UPDATE) e"
        )
    };
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.admin)
        .bind(v.user_id)
        .bind(v.profile_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(
        |(created_by, visible, editable, start, end, timezone, all_day, rrule, name, detail)| {
            Current {
                created_by,
                visible,
                editable,
                start,
                end,
                timezone,
                all_day,
                rrule,
                name,
                detail,
            }
        },
    ))
}

/// Inserts or updates an event: the body's columns plus the computed time columns.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    insert: bool,
    fields: &[(&'static str, Val)],
    times: &super::dto::Times,
    series: Option<Uuid>,
) -> Result<String, ApiError> {
    let mut cols: Vec<(&'static str, Val)> = fields
        .iter()
        .filter(|(c, _)| *c != "all_day")
        .cloned()
        .collect();
    cols.push(("timezone", Val::Text(Some(times.tz.name().to_string()))));
    cols.push(("rrule", Val::Text(times.rrule_text())));
    cols.push(("all_day", Val::Bool(times.all_day)));
    if series.is_some() {
        cols.push(("series_id", Val::Uuid(series)));
    }
    let name = if insert {
        let defaults = [
            ("event_type", Val::Text(Some("meeting".into()))),
            ("status", Val::Text(Some("Planned".into()))),
        ];
        insert_with_times(tx, org, user, id, &cols, &defaults, times).await?
    } else {
        let name = sql::update(tx, &TABLE, org, user, id, &cols).await?;
        set_times(tx, id, times).await?;
        name
    };
    Ok(name)
}

async fn insert_with_times(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    cols: &[(&'static str, Val)],
    defaults: &[(&'static str, Val)],
    times: &super::dto::Times,
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    let (pid, porg, puser) = (
        sql.p(Bind::Uuid(id)),
        sql.p(Bind::Uuid(org)),
        sql.p(Bind::Uuid(user)),
    );
    let (ps, pe) = (sql.p(Bind::Ts(times.start)), sql.p(Bind::Ts(times.end)));
    let pl = sql.p(Bind::OptTs(times.last_end()));
    let mut names = String::from(
        "created_at, updated_at, id, org_id, created_by_id, updated_by_id, start_at, end_at, last_end_at",
    );
    let mut vals = format!("now(), now(), {pid}, {porg}, {puser}, {puser}, {ps}, {pe}, {pl}");
    let missing = defaults
        .iter()
        .filter(|(c, _)| !cols.iter().any(|(f, _)| f == c));
    for (col, v) in cols.iter().chain(missing) {
        names.push_str(", ");
        names.push_str(col);
        vals.push_str(", ");
        vals.push_str(&sql.val(v));
    }
    let text = format!("INSERT INTO event ({names}) VALUES ({vals}) RETURNING name");
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

async fn set_times(tx: &mut Tx, id: Uuid, times: &super::dto::Times) -> Result<(), ApiError> {
    sqlx::query("UPDATE event SET start_at = $2, end_at = $3, last_end_at = $4 WHERE id = $1")
        .bind(id)
        .bind(times.start)
        .bind(times.end)
        .bind(times.last_end())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces the relation lists that are `Some`; returns the e-mails of newly assigned members
/// other than the actor.
pub async fn sync_relations(
    tx: &mut Tx,
    event: Uuid,
    actor_profile: Uuid,
    assigned_to: Option<&[Uuid]>,
    teams: Option<&[Uuid]>,
    contacts: Option<&[Uuid]>,
) -> Result<Vec<String>, ApiError> {
    let lists = [
        LinkList {
            table: "event_assigned_to",
            col: "profile_id",
            ids: assigned_to,
        },
        LinkList {
            table: "event_teams",
            col: "teams_id",
            ids: teams,
        },
        LinkList {
            table: "event_contacts",
            col: "contact_id",
            ids: contacts,
        },
    ];
    sql::sync_links(
        tx,
        "event_id",
        event,
        actor_profile,
        "event_assigned_to",
        &lists,
    )
    .await
}

/// Copies an event's links (assignees, teams, contacts, invitees) to the series split from it.
pub async fn copy_links(tx: &mut Tx, from: Uuid, to: Uuid) -> Result<(), ApiError> {
    sqlx::query(
        "WITH a AS (INSERT INTO event_assigned_to (event_id, profile_id) SELECT $2, profile_id FROM event_assigned_to WHERE event_id = $1),
              t AS (INSERT INTO event_teams (event_id, teams_id) SELECT $2, teams_id FROM event_teams WHERE event_id = $1),
              c AS (INSERT INTO event_contacts (event_id, contact_id) SELECT $2, contact_id FROM event_contacts WHERE event_id = $1)
         INSERT INTO event_invitee (id, org_id, event_id, profile_id, contact_id, email, response, responded_at, created_at)
         SELECT gen_random_uuid(), org_id, $2, profile_id, contact_id, email, response, responded_at, created_at
         FROM event_invitee WHERE event_id = $1",
    )
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes an event with its links, exceptions and invitees (one statement); series split from
/// it keep existing. Returns its name.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    Ok(sqlx::query_scalar(
        "WITH j1 AS (DELETE FROM event_assigned_to WHERE event_id = $2),
              j2 AS (DELETE FROM event_teams WHERE event_id = $2),
              j3 AS (DELETE FROM event_contacts WHERE event_id = $2),
              j4 AS (DELETE FROM event_exception WHERE event_id = $2),
              j5 AS (DELETE FROM event_invitee WHERE event_id = $2),
              n1 AS (UPDATE event SET series_id = NULL WHERE org_id = $1 AND series_id = $2)
         DELETE FROM event WHERE org_id = $1 AND id = $2 RETURNING name",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}
