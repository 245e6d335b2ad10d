//! Lead rows and their SQL. Lists and details are rendered to JSON by PostgreSQL in one statement
//! (see the `crm_*_obj` functions in migration 0030), so a page costs one query whatever it nests.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryScalar};
use uuid::Uuid;

use super::dto::Val;
use crate::db::tenant::Tx;
use crate::error::{ApiError, FieldErrors};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;

/// The name activity records and e-mails use: title, else "first last", else e-mail.
pub const NAME_SQL: &str = "coalesce(nullif(title, ''), nullif(trim(concat_ws(' ', first_name, last_name)), ''), nullif(email, ''), 'Lead ' || id)";

/// Who may see and edit a lead (alias `l`): an admin ($admin), its creator ($user), an assignee
/// ($profile), or a member of one of its teams. Placeholders are filled in by the caller.
pub fn visible_sql(admin: &str, user: &str, profile: &str) -> String {
    format!(
        "({admin} OR l.created_by_id = {user}
          OR EXISTS (SELECT 1 FROM lead_assigned_to a WHERE a.lead_id = l.id AND a.profile_id = {profile})
          OR EXISTS (SELECT 1 FROM lead_teams lt JOIN teams_users tu ON tu.teams_id = lt.teams_id
                     WHERE lt.lead_id = l.id AND tu.profile_id = {profile}))"
    )
}

/// A bound parameter of a dynamically built statement.
#[derive(Debug, Clone)]
pub enum Bind {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Uuids(Vec<Uuid>),
    Text(String),
    Ts(DateTime<Utc>),
    Date(NaiveDate),
    Bool(bool),
    Val(Val),
}

/// Binds every parameter of a dynamically built statement, in order (any sqlx query type).
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Uuid(v) => q.bind(v),
                Bind::OptUuid(v) => q.bind(v),
                Bind::Uuids(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
                Bind::Ts(v) => q.bind(v),
                Bind::Date(v) => q.bind(v),
                Bind::Bool(v) => q.bind(v),
                Bind::Val(Val::Text(v)) | Bind::Val(Val::Num(v)) => q.bind(v),
                Bind::Val(Val::Int(v)) => q.bind(v),
                Bind::Val(Val::Date(v)) => q.bind(v),
                Bind::Val(Val::Bool(v)) => q.bind(v),
            };
        }
        q
    }};
}

/// A dynamically built statement returning one text column, with its parameters bound.
fn scalar<'q>(text: String, binds: Vec<Bind>) -> QueryScalar<'q, Postgres, String, PgArguments> {
    bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(text)), binds)
}

/// SQL text plus its parameters, numbered as they are pushed.
#[derive(Default)]
pub struct Sql {
    pub binds: Vec<Bind>,
}

impl Sql {
    /// Adds a parameter and returns its placeholder (`$n`).
    pub fn p(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

/// The caller, as list and detail queries need it.
pub struct Viewer {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub profile_id: Uuid,
    pub admin: bool,
}

/// `%value%` for ILIKE, with the pattern characters escaped.
fn contains(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('%');
    for c in v.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

fn parse_ts(raw: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        // A bare date as an upper bound includes that whole day.
        let d = if end_of_day { d.succ_opt()? } else { d };
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
    .map(|t| t.and_utc())
}

/// Columns `ordering` may name (`-` for descending); anything else is ignored, as DRF does.
const ORDERABLE: &[&str] = &[
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
];

/// `ORDER BY` from `ordering` (comma-separated), always ending with creation time and id so
/// pages are stable.
pub fn order_by(q: &RawQuery) -> String {
    let mut parts: Vec<String> = Vec::new();
    for item in q.get("ordering").unwrap_or("").split(',') {
        let item = item.trim();
        let (desc, col) = match item.strip_prefix('-') {
            Some(c) => (true, c),
            None => (false, item),
        };
        if ORDERABLE.contains(&col)
            && !parts
                .iter()
                .any(|p| p.split(' ').next() == Some(&format!("l.{col}")))
        {
            parts.push(format!("l.{col} {}", if desc { "DESC" } else { "ASC" }));
        }
    }
    if !parts.iter().any(|p| p.starts_with("l.created_at ")) {
        parts.push("l.created_at DESC".into());
    }
    parts.push("l.id DESC".into());
    parts.join(", ")
}

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
    let mut conds: Vec<String> = Vec::new();
    let mut errors = FieldErrors::new();
    let text = |k: &str| q.get(k).map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = text("name") {
        let p = sql.p(Bind::Text(contains(s)));
        conds.push(format!(
            "concat_ws(' ', l.first_name, l.last_name) ILIKE {p}"
        ));
    }
    for (key, col) in [
        ("salutation", "salutation"),
        ("city", "city"),
        ("email", "email"),
    ] {
        if let Some(s) = text(key) {
            let p = sql.p(Bind::Text(contains(s)));
            conds.push(format!("l.{col} ILIKE {p}"));
        }
    }
    for key in ["source", "status", "rating"] {
        if let Some(s) = text(key) {
            let p = sql.p(Bind::Text(s.to_string()));
            conds.push(format!("l.{key} = {p}"));
        }
    }
    if let Some(s) = text("search") {
        let p = sql.p(Bind::Text(contains(s)));
        conds.push(format!(
            "(l.first_name ILIKE {p} OR l.last_name ILIKE {p} OR l.company_name ILIKE {p} OR l.email ILIKE {p} OR l.title ILIKE {p})"
        ));
    }
    for (key, table, col) in [
        ("assigned_to", "lead_assigned_to", "profile_id"),
        ("tags", "lead_tags", "tags_id"),
        ("teams", "lead_teams", "teams_id"),
    ] {
        // Repeated keys, or one comma-separated value.
        let raw: Vec<&str> = q
            .all(key)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if raw.is_empty() {
            continue;
        }
        let mut ids = Vec::new();
        for r in raw {
            match Uuid::parse_str(r) {
                Ok(id) => ids.push(id),
                Err(_) => errors.add(key, format!("“{r}” is not a valid UUID.")),
            }
        }
        let p = sql.p(Bind::Uuids(ids));
        conds.push(format!(
            "EXISTS (SELECT 1 FROM {table} j WHERE j.lead_id = l.id AND j.{col} = ANY({p}))"
        ));
    }
    for (key, op) in [("created_at__gte", ">="), ("created_at__lte", "<")] {
        if let Some(s) = text(key) {
            match parse_ts(s, op == "<") {
                Some(t) => {
                    let p = sql.p(Bind::Ts(t));
                    conds.push(format!("l.created_at {op} {p}"));
                }
                None => errors.add(key, "Enter a valid date/time."),
            }
        }
    }
    for (key, op) in [("close_date__gte", ">="), ("close_date__lte", "<=")] {
        if let Some(s) = text(key) {
            match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) => {
                    let p = sql.p(Bind::Date(d));
                    conds.push(format!("l.close_date {op} {p}"));
                }
                Err(_) => errors.add(key, "Enter a valid date."),
            }
        }
    }
    errors.into_result()?;
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
                FROM (SELECT coalesce(array_agg(x), '{{}}') AS ids FROM (
                    SELECT id FROM lead WHERE org_id = $1 AND created_by_id = {u}
                    UNION SELECT lead_id FROM lead_assigned_to WHERE profile_id = {p}
                    UNION SELECT lt.lead_id FROM lead_teams lt JOIN teams_users tu ON tu.teams_id = lt.teams_id
                          WHERE tu.profile_id = {p}) s(x)) a)"
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

/// Profile, user and tag objects as SQL expressions (aliases `p`/`u`, `u`, `t`), the same
/// shapes as `crm_profile_obj`, `crm_user_mini` and `crm_tag_obj` (migration 0030), which the
/// detail page uses; `list_and_detail_render_the_same_lead` checks they agree.
const PROFILE_OBJ: &str = "json_build_object('id', p.id,
    'user_details', json_build_object('email', u.email, 'id', u.id, 'is_active', u.is_active,
                                      'profile_pic', u.profile_pic, 'last_login', crm_ts(u.last_login)),
    'role', p.role, 'address', p.address_id, 'has_marketing_access', p.has_marketing_access,
    'has_sales_access', p.has_sales_access, 'phone', p.phone, 'date_of_joining', p.date_of_joining,
    'is_active', p.is_active, 'created_at', crm_ts(p.created_at))";
const USER_MINI: &str =
    "json_build_object('id', u.id, 'email', u.email, 'profile_pic', u.profile_pic)";
const TAG_OBJ: &str =
    "json_build_object('id', t.id, 'name', t.name, 'slug', t.slug, 'color', t.color,
    'description', t.description, 'is_active', t.is_active, 'created_at', crm_ts(t.created_at))";

/// CTEs rendering every object nested in the leads of CTE `pg` (columns `id`, `created_by_id`):
/// each link is read once per page, each profile, team, tag and contact rendered once however
/// many leads share it, and each lead's lists aggregated by a join, not by a subquery per lead
/// (per-lead PL/pgSQL calls cost ~8 ms a page). Leaves per lead id `laj`, `ltj`, `lcj`, `lgj`
/// (JSON arrays in link order) and per user id `um` (creator objects).
fn nested_ctes() -> String {
    let links = |name: &str, table: &str, owner: &str, col: &str, owners: &str| {
        format!(
            "{name} AS MATERIALIZED (SELECT x.id, x.{owner}, x.{col} FROM {table} x WHERE x.{owner} IN ({owners}))"
        )
    };
    let agg = |name: &str, links: &str, owner: &str, col: &str, objects: &str| {
        format!(
            "{name} AS MATERIALIZED (SELECT k.{owner} AS id, json_agg(o.o ORDER BY k.id) AS j
                                     FROM {links} k LEFT JOIN {objects} o ON o.id = k.{col} GROUP BY k.{owner})"
        )
    };
    let pg = "SELECT id FROM pg";
    let lc = "SELECT contact_id FROM lc";
    [
        links("la", "lead_assigned_to", "lead_id", "profile_id", pg),
        links("lt", "lead_teams", "lead_id", "teams_id", pg),
        links("lg", "lead_tags", "lead_id", "tags_id", pg),
        links("lc", "lead_contacts", "lead_id", "contact_id", pg),
        links("ca", "contacts_assigned_to", "contact_id", "profile_id", lc),
        links("cm", "contacts_teams", "contact_id", "teams_id", lc),
        links("cg", "contacts_tags", "contact_id", "tags_id", lc),
        links(
            "tu",
            "teams_users",
            "teams_id",
            "profile_id",
            "SELECT teams_id FROM lt UNION SELECT teams_id FROM cm",
        ),
        format!(
            "po AS MATERIALIZED (SELECT p.id, {PROFILE_OBJ} AS o FROM profile p JOIN users u ON u.id = p.user_id
                                 WHERE p.id IN (SELECT profile_id FROM la UNION SELECT profile_id FROM ca
                                                UNION SELECT profile_id FROM tu))"
        ),
        agg("tuj", "tu", "teams_id", "profile_id", "po"),
        format!(
            "tmo AS MATERIALIZED (SELECT t.id, json_build_object('id', t.id, 'name', t.name, 'description', t.description,
                     'users', coalesce(tuj.j, '[]'), 'created_at', crm_ts(t.created_at),
                     'created_by', CASE WHEN u.id IS NOT NULL THEN {USER_MINI} END) AS o
                 FROM teams t LEFT JOIN tuj ON tuj.id = t.id LEFT JOIN users u ON u.id = t.created_by_id
                 WHERE t.id IN (SELECT teams_id FROM lt UNION SELECT teams_id FROM cm))"
        ),
        format!(
            "tgo AS MATERIALIZED (SELECT t.id, {TAG_OBJ} AS o FROM tags t WHERE t.id IN (SELECT tags_id FROM lg))"
        ),
        agg("caj", "ca", "contact_id", "profile_id", "po"),
        agg("cmj", "cm", "contact_id", "teams_id", "tmo"),
        "cgj AS MATERIALIZED (SELECT contact_id AS id, json_agg(tags_id ORDER BY id) AS j FROM cg GROUP BY contact_id)".into(),
        "co AS MATERIALIZED (SELECT c.id, json_build_object(
                 'id', c.id, 'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
                 'phone', c.phone, 'organization', c.organization, 'title', c.title, 'department', c.department,
                 'do_not_call', c.do_not_call, 'linkedin_url', c.linkedin_url, 'address_line', c.address_line,
                 'city', c.city, 'state', c.state, 'postcode', c.postcode, 'country', c.country,
                 'assigned_to', coalesce(caj.j, '[]'), 'teams', coalesce(cmj.j, '[]'), 'tags', coalesce(cgj.j, '[]'),
                 'description', c.description, 'created_by', c.created_by_id, 'created_at', crm_ts(c.created_at),
                 'is_active', c.is_active,
                 'org', (SELECT json_build_object('id', o.id, 'name', o.name) FROM organization o WHERE o.id = c.org_id),
                 'account', c.account_id) AS o
             FROM contacts c LEFT JOIN caj ON caj.id = c.id LEFT JOIN cmj ON cmj.id = c.id LEFT JOIN cgj ON cgj.id = c.id
             WHERE c.id IN (SELECT contact_id FROM lc))".into(),
        agg("laj", "la", "lead_id", "profile_id", "po"),
        agg("ltj", "lt", "lead_id", "teams_id", "tmo"),
        agg("lcj", "lc", "lead_id", "contact_id", "co"),
        agg("lgj", "lg", "lead_id", "tags_id", "tgo"),
        format!(
            "um AS MATERIALIZED (SELECT u.id, {USER_MINI} AS o FROM users u WHERE u.id IN (SELECT created_by_id FROM pg))"
        ),
    ]
    .join(",\n")
}

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
            'assigned_to', coalesce(laj.j, '[]'), 'teams', coalesce(ltj.j, '[]'),
            'last_contacted', l.last_contacted, 'next_follow_up', l.next_follow_up,
            'description', l.description,
            'contacts', coalesce(lcj.j, '[]'), 'tags', coalesce(lgj.j, '[]'),
            'created_by', um.o, 'created_at', crm_ts(l.created_at),
            'is_active', l.is_active, 'company_name', l.company_name, 'updated_at', crm_ts(l.updated_at))
            ORDER BY l.rn), '[]')
         FROM {sec} l LEFT JOIN laj ON laj.id = l.id LEFT JOIN ltj ON ltj.id = l.id
              LEFT JOIN lcj ON lcj.id = l.id LEFT JOIN lgj ON lgj.id = l.id LEFT JOIN um ON um.id = l.created_by_id)"
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
    let order = order_by(q);
    let (limit, offset) = (page.limit, page.offset);
    let open = "l.status IS DISTINCT FROM 'closed'";
    let closed = "l.status = 'closed'";
    let default_order = order == "l.created_at DESC, l.id DESC";
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
        nested = nested_ctes(),
    ));
    let text = format!(
        "{ctes}
         SELECT json_build_object(
            'per_page', {limit}, 'page_number', json_build_array({offset} / {limit} + 1),
            'open_leads', json_build_object('leads_count', cnt.o, 'open_leads', ops.rows, 'offset', {open_next}),
            'close_leads', json_build_object('leads_count', cnt.c, 'close_leads', cps.rows, 'offset', {closed_next}),
            'contacts', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'first_name', c.first_name)), '[]')
                         FROM (SELECT id, first_name FROM contacts WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 1000) c),
            'tags', (SELECT coalesce(json_agg({TAG_OBJ} ORDER BY t.name), '[]')
                     FROM tags t WHERE t.org_id = $1 AND t.is_active),
            'users', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'user__email', u.email) ORDER BY p.created_at DESC), '[]')
                      FROM profile p JOIN users u ON u.id = p.user_id WHERE p.org_id = $1 AND p.is_active)
         )::text FROM ops, cps, cnt",
        open_next = next("ops.rows", "cnt.o"),
        closed_next = next("cps.rows", "cnt.c"),
    );
    Ok(scalar(text, sql.binds).fetch_one(&mut **tx).await?)
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

/// Ids among the given lists that are not in the org, and whether `email` is taken by another
/// lead of the org. One round trip.
pub struct RelationCheck {
    pub assigned_to: Vec<Uuid>,
    pub teams: Vec<Uuid>,
    pub tags: Vec<Uuid>,
    pub contacts: Vec<Uuid>,
    pub email_taken: bool,
}

pub async fn check_relations(
    tx: &mut Tx,
    org: Uuid,
    lists: [&[Uuid]; 4],
    email: Option<&str>,
    except: Option<Uuid>,
) -> Result<RelationCheck, ApiError> {
    let row: (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, bool) = sqlx::query_as(
        "SELECT
            ARRAY(SELECT x FROM unnest($2::uuid[]) x WHERE NOT EXISTS (SELECT 1 FROM profile p WHERE p.id = x AND p.org_id = $1)),
            ARRAY(SELECT x FROM unnest($3::uuid[]) x WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.id = x AND t.org_id = $1)),
            ARRAY(SELECT x FROM unnest($4::uuid[]) x WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = x AND t.org_id = $1)),
            ARRAY(SELECT x FROM unnest($5::uuid[]) x WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = x AND c.org_id = $1)),
            coalesce($6, '') <> '' AND EXISTS (SELECT 1 FROM lead WHERE org_id = $1 AND lower(email) = lower($6)
                                                AND email IS NOT NULL AND email <> '' AND id IS DISTINCT FROM $7)",
    )
    .bind(org)
    .bind(lists[0])
    .bind(lists[1])
    .bind(lists[2])
    .bind(lists[3])
    .bind(email)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?;
    Ok(RelationCheck {
        assigned_to: row.0,
        teams: row.1,
        tags: row.2,
        contacts: row.3,
        email_taken: row.4,
    })
}

fn placeholder(sql: &mut Sql, v: &Val) -> String {
    let p = sql.p(Bind::Val(v.clone()));
    if matches!(v, Val::Num(_)) {
        format!("{p}::numeric")
    } else {
        p
    }
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
    let mut sql = Sql::default();
    let (pid, porg, puser) = (
        sql.p(Bind::Uuid(id)),
        sql.p(Bind::Uuid(org)),
        sql.p(Bind::OptUuid(user)),
    );
    let mut cols = String::from("created_at, updated_at, id, org_id, created_by_id, updated_by_id");
    let mut vals = format!("now(), now(), {pid}, {porg}, {puser}, {puser}");
    let mut all: Vec<(&str, Val)> = fields.to_vec();
    if !all.iter().any(|(c, _)| *c == "is_active") {
        all.push(("is_active", Val::Bool(true)));
    }
    if !all.iter().any(|(c, _)| *c == "probability") {
        all.push(("probability", Val::Int(Some(0))));
    }
    for (col, v) in &all {
        cols.push_str(", ");
        cols.push_str(col);
        vals.push_str(", ");
        vals.push_str(&placeholder(&mut sql, v));
    }
    let text = format!("INSERT INTO lead ({cols}) VALUES ({vals}) RETURNING {NAME_SQL}");
    Ok(scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// Updates the given columns; returns the display name.
pub async fn update(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    let mut sql = Sql::default();
    let (pid, porg, puser) = (
        sql.p(Bind::Uuid(id)),
        sql.p(Bind::Uuid(org)),
        sql.p(Bind::Uuid(user)),
    );
    let mut set = format!("updated_at = now(), updated_by_id = {puser}");
    for (col, v) in fields {
        set.push_str(&format!(", {col} = {}", placeholder(&mut sql, v)));
    }
    let text =
        format!("UPDATE lead SET {set} WHERE id = {pid} AND org_id = {porg} RETURNING {NAME_SQL}");
    Ok(scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// Replaces the relation lists that are `Some` (ids already checked to be in the org) and
/// returns the e-mails of profiles newly assigned, except `actor`'s own.
pub async fn sync_relations(
    tx: &mut Tx,
    lead: Uuid,
    actor_profile: Uuid,
    lists: [(&str, &str, Option<&[Uuid]>); 4],
) -> Result<Vec<String>, ApiError> {
    let mut sql = Sql::default();
    let pl = sql.p(Bind::Uuid(lead));
    let pa = sql.p(Bind::Uuid(actor_profile));
    let mut ctes = Vec::new();
    let mut assigned_cte = false;
    for (table, col, ids) in lists {
        let Some(ids) = ids else { continue };
        let p = sql.p(Bind::Uuids(ids.to_vec()));
        ctes.push(format!(
            "d_{table} AS (DELETE FROM {table} WHERE lead_id = {pl} AND NOT ({col} = ANY({p}))),
             i_{table} AS (INSERT INTO {table} (lead_id, {col}) SELECT {pl}, x FROM unnest({p}::uuid[]) x
                           ON CONFLICT DO NOTHING RETURNING {col})"
        ));
        assigned_cte |= table == "lead_assigned_to";
    }
    if ctes.is_empty() {
        return Ok(vec![]);
    }
    let select = if assigned_cte {
        format!(
            "SELECT u.email FROM i_lead_assigned_to i JOIN profile p ON p.id = i.profile_id
             JOIN users u ON u.id = p.user_id WHERE p.id <> {pa}"
        )
    } else {
        format!("SELECT NULL::text WHERE {pa}::uuid IS NULL")
    };
    let text = format!("WITH {} {select}", ctes.join(", "));
    Ok(scalar(text, sql.binds).fetch_all(&mut **tx).await?)
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

/// A dynamically built statement with its parameters bound.
pub fn run<'q>(text: String, binds: Vec<Bind>) -> Query<'q, Postgres, PgArguments> {
    bind_all!(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
}
