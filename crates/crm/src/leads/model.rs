//! Lead rows and their SQL. Lists and details are rendered to JSON by PostgreSQL in one statement
//! (see the `crm_*_obj` functions in migration 0030), so a page costs one query whatever it nests.

use uuid::Uuid;

use crate::common::render::{self, Nest, Obj, TAG_OBJ};
use crate::db::sql::{self, LinkList};
pub use crate::db::sql::{Bind, Sql, Val, run};
use crate::db::tenant::Tx;
use crate::error::ApiError;
pub use crate::http::list::Viewer;
use crate::http::list::{Filter as F, ListSpec, Visibility};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

/// The name activity records and e-mails use: title, else "first last", else e-mail.
pub const NAME_SQL: &str = "coalesce(nullif(title, ''), nullif(trim(concat_ws(' ', first_name, last_name)), ''), nullif(email, ''), 'Lead ' || id)";

const TABLE: sql::Table = sql::Table {
    name: "lead",
    returning: NAME_SQL,
};

/// Who may see and edit a lead (alias `l`): an admin, its creator, an assignee, or a member of
/// one of its teams.
pub const VISIBILITY: Visibility = Visibility {
    table: "lead",
    alias: "l",
    fk: "lead_id",
    assigned: "lead_assigned_to",
    teams: "lead_teams",
};

/// `VISIBILITY` over placeholders for the admin flag, the user and the profile.
pub fn visible_sql(admin: &str, user: &str, profile: &str) -> String {
    VISIBILITY.sql(admin, user, profile)
}

/// The list's filters and orderable columns.
pub const LIST: ListSpec = ListSpec {
    alias: "l",
    filters: &[
        F::Contains("name", "concat_ws(' ', l.first_name, l.last_name)"),
        F::Contains("salutation", "l.salutation"),
        F::Contains("city", "l.city"),
        F::Contains("email", "l.email"),
        F::Exact("source", "l.source"),
        F::Exact("status", "l.status"),
        F::Exact("rating", "l.rating"),
        F::Search(
            "search",
            &[
                "l.first_name",
                "l.last_name",
                "l.company_name",
                "l.email",
                "l.title",
            ],
        ),
        F::Ids {
            key: "assigned_to",
            table: "lead_assigned_to",
            fk: "lead_id",
            col: "profile_id",
        },
        F::Ids {
            key: "tags",
            table: "lead_tags",
            fk: "lead_id",
            col: "tags_id",
        },
        F::Ids {
            key: "teams",
            table: "lead_teams",
            fk: "lead_id",
            col: "teams_id",
        },
        F::Since("created_at__gte", "l.created_at"),
        F::Until("created_at__lte", "l.created_at"),
        F::Date("close_date__gte", "l.close_date", ">="),
        F::Date("close_date__lte", "l.close_date", "<="),
    ],
    orderable: &[
        "created_at",
        "updated_at",
        "title",
        "first_name",
        "last_name",
        "company_name",
        "email",
        "status",
        "source",
        "rating",
        "opportunity_amount",
        "probability",
        "close_date",
        "city",
        "last_contacted",
        "next_follow_up",
    ],
};

/// The list's and the export's conditions on alias `l` (`$1` is the org).
pub struct Filter {
    pub cond: String,
    /// Counts must be computed (a filter applies, or the caller sees only some leads) rather
    /// than read from `lead_counts`.
    pub counted: bool,
    /// A CTE (`vis`) for callers who see only some leads.
    pub vis: Option<String>,
    /// What to select from: `lead l`, or the visible ids joined to `lead l`.
    pub from: String,
    /// For a caller who sees only some leads and sets no filter: the per-row visibility test,
    /// for walking the org's newest-first index instead when they see a large share.
    pub walk_visible: Option<String>,
}

impl Filter {
    /// `WITH vis AS (...)` plus `extra` CTEs, or just `extra`.
    pub fn with(&self, extra: &str) -> String {
        match (&self.vis, extra.is_empty()) {
            (Some(v), true) => format!("WITH {v} "),
            (Some(v), false) => format!("WITH {v}, {extra} "),
            (None, true) => String::new(),
            (None, false) => format!("WITH {extra} "),
        }
    }
}

pub fn filters(q: &RawQuery, sql: &mut Sql, v: &Viewer) -> Result<Filter, ApiError> {
    let conds = LIST.conditions(q, sql)?;
    let filtered = !conds.is_empty();
    let mut vis = None;
    let mut walk_visible = None;
    if !v.admin {
        // The ids the caller may see, gathered once from their own links (cost follows what they
        // can see); testing every lead of the org instead takes seconds at a million leads.
        let (u, p) = (
            sql.p(Bind::Uuid(v.user_id)),
            sql.p(Bind::Uuid(v.profile_id)),
        );
        if !filtered {
            walk_visible = Some(visible_sql("false", &u, &p));
        }
        // `walk`: they see over 5 % of the org, so walking its index finds a page's rows within
        // ~20 rows each (see `list_json`).
        vis = Some(format!(
            "vis AS MATERIALIZED (SELECT a.ids, cardinality(a.ids)::bigint * 20 >
                    coalesce((SELECT sum(open_count + closed_count) FROM lead_counts WHERE org_id = $1), 0) AS walk
                FROM (SELECT coalesce(array_agg(x), '{{}}') AS ids FROM ({}) s(x)) a)",
            VISIBILITY.ids_sql("$1", &u, &p)
        ));
    }
    let mut cond = String::from("l.org_id = $1 AND l.status IS DISTINCT FROM 'converted'");
    for c in conds {
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
    // Non-admins start from their visible ids (primary-key probes), not from the org's leads.
    let from = if vis.is_some() {
        "(SELECT unnest(ids) AS id FROM vis) v JOIN lead l ON l.id = v.id".to_string()
    } else {
        "lead l".to_string()
    };
    Ok(Filter {
        cond,
        counted: filtered || !v.admin,
        vis,
        from,
        walk_visible,
    })
}

/// The lists nested in each lead.
const NESTS: &[Nest] = &[
    Nest {
        key: "assigned_to",
        table: "lead_assigned_to",
        fk: "lead_id",
        col: "profile_id",
        obj: Obj::Profile,
    },
    Nest {
        key: "teams",
        table: "lead_teams",
        fk: "lead_id",
        col: "teams_id",
        obj: Obj::Team,
    },
    Nest {
        key: "contacts",
        table: "lead_contacts",
        fk: "lead_id",
        col: "contact_id",
        obj: Obj::Contact,
    },
    Nest {
        key: "tags",
        table: "lead_tags",
        fk: "lead_id",
        col: "tags_id",
        obj: Obj::Tag,
    },
];

/// Lead objects (upstream's LeadSerializer key order, plus `updated_at`) of section CTE `sec`
/// (with its page position `rn`) as a JSON array, nested lists from `nested_ctes`.
fn lead_objects(sec: &str) -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object(
            'id', l.id, 'title', l.title, 'salutation', l.salutation, 'first_name', l.first_name,
            'last_name', l.last_name, 'email', l.email, 'phone', l.phone, 'job_title', l.job_title,
            'website', l.website, 'linkedin_url', l.linkedin_url, 'status', l.status, 'source', l.source,
            'industry', l.industry, 'rating', l.rating, 'opportunity_amount', l.opportunity_amount::text,
            'currency', l.currency, 'probability', l.probability, 'close_date', l.close_date,
            'address_line', l.address_line, 'city', l.city, 'state', l.state, 'postcode', l.postcode,
            'country', l.country,
            'assigned_to', {}, 'teams', {},
            'last_contacted', l.last_contacted, 'next_follow_up', l.next_follow_up,
            'description', l.description,
            'contacts', {}, 'tags', {},
            'created_by', {}, 'created_at', crm_ts(l.created_at),
            'is_active', l.is_active, 'company_name', l.company_name, 'updated_at', crm_ts(l.updated_at))
            ORDER BY l.rn), '[]')
         FROM {sec} l{})",
        render::nested("assigned_to"),
        render::nested("teams"),
        render::nested("contacts"),
        render::nested("tags"),
        render::CREATOR,
        render::nested_joins("l", NESTS),
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
    let filter = filters(q, &mut sql, v)?;
    let (cond, filtered, from) = (&filter.cond, filter.counted, &filter.from);
    let order = LIST.order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let open = "l.status IS DISTINCT FROM 'closed'";
    let closed = "l.status = 'closed'";
    let default_order = order == LIST.default_order();
    let section = |part: &str| {
        let rows = match &filter.walk_visible {
            // A caller who sees many leads: walk the org's newest-first index and test each row
            // (a few rows per page) rather than probe every visible id (seconds at 400,000).
            // Chosen at run time from the visible count; the other branch is never executed.
            Some(visible) if default_order => format!(
                "(SELECT l.* FROM {from} WHERE {cond} AND {part} AND NOT (SELECT walk FROM vis)
                  ORDER BY {order} LIMIT {limit} OFFSET {offset})
                 UNION ALL
                 (SELECT l.* FROM lead l WHERE {cond} AND {part} AND {visible} AND (SELECT walk FROM vis)
                  ORDER BY {order} LIMIT {limit} OFFSET {offset})"
            ),
            _ => format!(
                "SELECT l.* FROM {from} WHERE {cond} AND {part} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            ),
        };
        format!("(SELECT s.*, row_number() OVER () AS rn FROM ({rows}) s)")
    };
    // Both counts in one pass over the matching leads.
    let counts = if filtered {
        format!(
            "SELECT count(*) FILTER (WHERE {open}) AS o, count(*) FILTER (WHERE {closed}) AS c
             FROM {from} WHERE {cond}"
        )
    } else {
        "SELECT coalesce(sum(open_count), 0)::bigint AS o, coalesce(sum(closed_count), 0)::bigint AS c
         FROM lead_counts WHERE org_id = $1"
            .to_string()
    };
    let next = |rows: &str, total: &str| {
        format!(
            "CASE WHEN json_array_length({rows}) = 0 THEN 0
                  WHEN {offset} + json_array_length({rows}) >= {total} THEN NULL
                  ELSE {offset} + json_array_length({rows}) END"
        )
    };
    // MATERIALIZED: each section is read once, though the envelope reads it several times; `rn`
    // keeps the page's order through the joins.
    let ctes = filter.with(&format!(
        "op AS MATERIALIZED {open_rows}, cp AS MATERIALIZED {closed_rows},
         pg AS MATERIALIZED (SELECT id, created_by_id FROM op UNION ALL SELECT id, created_by_id FROM cp),
         {nested},
         ops AS MATERIALIZED (SELECT {} AS rows), cps AS MATERIALIZED (SELECT {} AS rows),
         cnt AS MATERIALIZED ({counts})",
        lead_objects("op"),
        lead_objects("cp"),
        open_rows = section(open),
        closed_rows = section(closed),
        nested = render::nested_ctes("pg", NESTS),
    ));
    let text = format!(
        "{ctes}
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'open_leads', json_build_object('leads_count', cnt.o, 'open_leads', ops.rows, 'offset', {open_next}),
            'close_leads', json_build_object('leads_count', cnt.c, 'close_leads', cps.rows, 'offset', {closed_next}),
            -- The tasks page's lead picker reads `results` (or `leads`): the open leads again.
            'results', ops.rows,
            'contacts', {contacts},
            'tags', (SELECT coalesce(json_agg({TAG_OBJ} ORDER BY t.name), '[]')
                     FROM tags t WHERE t.org_id = $1 AND t.is_active),
            'users', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'user__email', u.email) ORDER BY p.created_at DESC), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
         )::text FROM ops, cps, cnt",
        open_next = next("ops.rows", "cnt.o"),
        closed_next = next("cps.rows", "cnt.c"),
        contacts = crate::contacts::model::lookup_sql("$1", v),
    );
    Ok(sql::scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// The detail page as JSON text (without the static lists), `Ok(None)` when the lead is not in
/// the org, `Err(forbidden)` when the caller may not see it.
/// `api_url` prefixes attachment download URLs (the same URLs `common::attachments` gives).
pub async fn detail_json(
    tx: &mut Tx,
    v: &Viewer,
    id: Uuid,
    api_url: &str,
) -> Result<Option<(bool, Option<String>)>, ApiError> {
    let can_see = visible_sql("$5", "$3", "$4");
    let text = format!(
        "SELECT {can_see}, CASE WHEN {can_see} THEN json_build_object(
            'lead_obj', crm_lead_obj(l),
            'attachments', (SELECT coalesce(json_agg(json_build_object(
                    'id', a.id, 'created_by', a.created_by_id, 'file_name', a.file_name,
                    'created_at', crm_ts(a.created_at), 'file_path', $6 || '/api/leads/attachment/' || a.id || '/download/',
                    'content_type', 'lead', 'object_id', a.object_id, 'org', a.org_id)
                    ORDER BY a.created_at DESC), '[]')
                FROM attachments a JOIN django_content_type ct ON ct.id = a.content_type_id
                WHERE a.org_id = $1 AND ct.app_label = 'leads' AND ct.model = 'lead' AND a.object_id = l.id),
            'comments', (SELECT coalesce(json_agg(json_build_object(
                    'id', c.id, 'comment', c.comment, 'commented_on', crm_ts(c.commented_on),
                    'commented_by', c.commented_by_id) ORDER BY c.created_at DESC), '[]')
                FROM comment c JOIN django_content_type ct ON ct.id = c.content_type_id
                WHERE c.org_id = $1 AND ct.app_label = 'leads' AND ct.model = 'lead' AND c.object_id = l.id),
            'users_mention', CASE WHEN $5 THEN
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
                ELSE
                    (SELECT coalesce(json_agg(json_build_object('user__email', u.email) ORDER BY u.email), '[]')
                     FROM lead_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                     WHERE a.lead_id = l.id)
                END,
            'assigned_data', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', u.email) ORDER BY a.id), '[]')
                FROM lead_assigned_to a JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id
                WHERE a.lead_id = l.id),
            'users', (SELECT coalesce(json_agg(crm_profile_obj(p.id) ORDER BY u.email), '[]')
                FROM profile p JOIN users u ON u.id = p.user_id
                WHERE p.org_id = $1 AND p.is_active AND ($5 OR p.role = 'ADMIN')),
            'users_excluding_team', (SELECT coalesce(json_agg(crm_profile_obj(p.id) ORDER BY u.email), '[]')
                FROM profile p JOIN users u ON u.id = p.user_id
                WHERE p.org_id = $1 AND p.is_active AND ($5 OR p.role = 'ADMIN')
                  AND NOT EXISTS (SELECT 1 FROM lead_teams lt JOIN teams_users tu ON tu.teams_id = lt.teams_id
                                  WHERE lt.lead_id = l.id AND tu.profile_id = p.id)),
            'teams', (SELECT coalesce(json_agg(crm_team_obj(t.id) ORDER BY t.created_at DESC), '[]')
                FROM teams t WHERE t.org_id = $1)
         )::text END
         FROM lead l WHERE l.org_id = $1 AND l.id = $2"
    );
    let row: Option<(bool, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(v.org_id)
        .bind(id)
        .bind(v.user_id)
        .bind(v.profile_id)
        .bind(v.admin)
        .bind(api_url.trim_end_matches('/'))
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row)
}

/// What a write needs to know about an existing lead (row locked for the transaction).
pub struct Current {
    pub status: Option<String>,
    pub created_by: Option<Uuid>,
    pub can_edit: bool,
}

pub async fn lock(tx: &mut Tx, v: &Viewer, id: Uuid) -> Result<Option<Current>, ApiError> {
    let text = format!(
        "SELECT l.status, l.created_by_id, {} FROM lead l WHERE l.org_id = $1 AND l.id = $2 FOR UPDATE",
        visible_sql("$5", "$3", "$4")
    );
    let row: Option<(Option<String>, Option<Uuid>, bool)> =
        sqlx::query_as(sqlx::AssertSqlSafe(text))
            .bind(v.org_id)
            .bind(id)
            .bind(v.user_id)
            .bind(v.profile_id)
            .bind(v.admin)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(status, created_by, can_edit)| Current {
        status,
        created_by,
        can_edit,
    }))
}

/// Inserts a lead with the given columns (upstream defaults: active, probability 0). Returns its
/// display name.
pub async fn insert(
    tx: &mut Tx,
    org: Uuid,
    user: Option<Uuid>,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    let defaults = [
        ("is_active", Val::Bool(true)),
        ("probability", Val::Int(Some(0))),
    ];
    sql::insert(tx, &TABLE, org, user, id, fields, &defaults).await
}

/// Updates the given columns; returns the display name.
pub async fn update(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    sql::update(tx, &TABLE, org, user, id, fields).await
}

/// Replaces the relation lists that are `Some` (ids already checked to be in the org) and
/// returns the e-mails of profiles newly assigned, except `actor`'s own.
pub async fn sync_relations(
    tx: &mut Tx,
    lead: Uuid,
    actor_profile: Uuid,
    lists: [(&'static str, &'static str, Option<&[Uuid]>); 4],
) -> Result<Vec<String>, ApiError> {
    let lists = lists.map(|(table, col, ids)| LinkList { table, col, ids });
    sql::sync_links(
        tx,
        "lead_id",
        lead,
        actor_profile,
        "lead_assigned_to",
        &lists,
    )
    .await
}

/// Deletes a lead with its links (the foreign keys are deferred, not cascading: leftovers would
/// fail the commit); tasks keep existing without it. Its comments and attachments are removed
/// by the caller through `comments::delete_all_for` (upstream leaves them orphaned).
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let text = format!(
        "WITH j1 AS (DELETE FROM lead_assigned_to WHERE lead_id = $2),
              j2 AS (DELETE FROM lead_teams WHERE lead_id = $2),
              j3 AS (DELETE FROM lead_tags WHERE lead_id = $2),
              j4 AS (DELETE FROM lead_contacts WHERE lead_id = $2),
              t AS (UPDATE task SET lead_id = NULL WHERE org_id = $1 AND lead_id = $2)
         DELETE FROM lead WHERE org_id = $1 AND id = $2 RETURNING {NAME_SQL}"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}
