//! The list machinery every list-heavy module shares: filters declared as data and read from the
//! query string (400 with the field on a malformed value), `ordering` allow-lists with a stable
//! tie-break, USER visibility over a module's join tables, and the per-org, per-caller response
//! cache slot. Pagination is `http::pagination::Page`.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;

use crate::cache::ResponseCache;
use crate::db::Tenant;
use crate::db::sql::{Bind, Sql, contains};
use crate::error::{ApiError, FieldErrors};
use crate::http::query::RawQuery;

/// One query-string filter. SQL expressions are written with the list's table alias.
#[derive(Debug, Clone, Copy)]
pub enum Filter {
    /// `key=text`: `expr ILIKE %text%`.
    Contains(&'static str, &'static str),
    /// `key=text`: any of the expressions contains the text (one parameter).
    Search(&'static str, &'static [&'static str]),
    /// `key=value`: `expr = value` (text).
    Exact(&'static str, &'static str),
    /// `key=true|false` (also 1/0, yes/no): `expr = bool`.
    Bool(&'static str, &'static str),
    /// `key=<uuid>`: `expr = id` (a single foreign key).
    Id(&'static str, &'static str),
    /// Repeated `key=<uuid>` or one comma-separated value: the record is linked through the join
    /// table (`table`, the record's column `fk`, the other column `col`) to any of them.
    Ids {
        key: &'static str,
        table: &'static str,
        fk: &'static str,
        col: &'static str,
    },
    /// `key=<date or date-time>`: `expr >= t` (`upper: false`) or `expr < t` (`upper: true`,
    /// where a bare date includes that whole day).
    Since(&'static str, &'static str),
    Until(&'static str, &'static str),
    /// `key=YYYY-MM-DD` against a date column: `expr op date`.
    Date(&'static str, &'static str, &'static str),
    /// `key=<decimal>` against a numeric column: `expr op number`.
    Num(&'static str, &'static str, &'static str),
}

/// A module's list: table alias (its `id` column is the record id) and its filters.
pub struct ListSpec {
    pub alias: &'static str,
    pub filters: &'static [Filter],
    /// Columns `ordering` may name (`-` for descending).
    pub orderable: &'static [&'static str],
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

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" => Some(true),
        "false" | "0" | "no" | "off" | "f" => Some(false),
        _ => None,
    }
}

/// `-12`, `3.5`, `.5`: an optional sign, digits, an optional fraction (at most 20 digits).
fn is_decimal(raw: &str) -> bool {
    let s = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !(int.is_empty() && frac.is_empty())
        && int.len() + frac.len() <= 20
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

/// Ids from repeated keys or one comma-separated value; malformed ones are field errors.
pub fn ids_param(q: &RawQuery, key: &str, errors: &mut FieldErrors) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for r in q
        .all(key)
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match Uuid::parse_str(r) {
            Ok(id) => ids.push(id),
            Err(_) => errors.add(key, format!("“{r}” is not a valid UUID.")),
        }
    }
    ids
}

impl ListSpec {
    /// The conditions the query string asks for, in declaration order, their parameters pushed
    /// onto `sql`. A malformed value is a 400 naming its key.
    pub fn conditions(&self, q: &RawQuery, sql: &mut Sql) -> Result<Vec<String>, ApiError> {
        let mut conds: Vec<String> = Vec::new();
        let mut errors = FieldErrors::new();
        let text = |k: &str| q.get(k).map(str::trim).filter(|s| !s.is_empty());
        let a = self.alias;
        for f in self.filters {
            match *f {
                Filter::Contains(key, expr) => {
                    if let Some(s) = text(key) {
                        let p = sql.p(Bind::Text(contains(s)));
                        conds.push(format!("{expr} ILIKE {p}"));
                    }
                }
                Filter::Search(key, exprs) => {
                    if let Some(s) = text(key) {
                        let p = sql.p(Bind::Text(contains(s)));
                        let any: Vec<String> =
                            exprs.iter().map(|e| format!("{e} ILIKE {p}")).collect();
                        conds.push(format!("({})", any.join(" OR ")));
                    }
                }
                Filter::Exact(key, expr) => {
                    if let Some(s) = text(key) {
                        let p = sql.p(Bind::Text(s.to_string()));
                        conds.push(format!("{expr} = {p}"));
                    }
                }
                Filter::Bool(key, expr) => {
                    if let Some(s) = text(key) {
                        match parse_bool(s) {
                            Some(b) => {
                                let p = sql.p(Bind::Bool(b));
                                conds.push(format!("{expr} = {p}"));
                            }
                            None => errors.add(key, "Must be a valid boolean."),
                        }
                    }
                }
                Filter::Id(key, expr) => {
                    if let Some(s) = text(key) {
                        match Uuid::parse_str(s) {
                            Ok(id) => {
                                let p = sql.p(Bind::Uuid(id));
                                conds.push(format!("{expr} = {p}"));
                            }
                            Err(_) => errors.add(key, format!("“{s}” is not a valid UUID.")),
                        }
                    }
                }
                Filter::Ids {
                    key,
                    table,
                    fk,
                    col,
                } => {
                    let ids = ids_param(q, key, &mut errors);
                    if ids.is_empty() {
                        continue;
                    }
                    let p = sql.p(Bind::Uuids(ids));
                    conds.push(format!(
                        "EXISTS (SELECT 1 FROM {table} j WHERE j.{fk} = {a}.id AND j.{col} = ANY({p}))"
                    ));
                }
                Filter::Since(key, expr) | Filter::Until(key, expr) => {
                    let upper = matches!(f, Filter::Until(..));
                    if let Some(s) = text(key) {
                        match parse_ts(s, upper) {
                            Some(t) => {
                                let p = sql.p(Bind::Ts(t));
                                let op = if upper { "<" } else { ">=" };
                                conds.push(format!("{expr} {op} {p}"));
                            }
                            None => errors.add(key, "Enter a valid date/time."),
                        }
                    }
                }
                Filter::Date(key, expr, op) => {
                    if let Some(s) = text(key) {
                        match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                            Ok(d) => {
                                let p = sql.p(Bind::Date(d));
                                conds.push(format!("{expr} {op} {p}"));
                            }
                            Err(_) => errors.add(key, "Enter a valid date."),
                        }
                    }
                }
                Filter::Num(key, expr, op) => {
                    if let Some(s) = text(key) {
                        if is_decimal(s) {
                            let p = sql.p(Bind::Text(s.to_string()));
                            conds.push(format!("{expr} {op} {p}::numeric"));
                        } else {
                            errors.add(key, "A valid number is required.");
                        }
                    }
                }
            }
        }
        errors.into_result()?;
        Ok(conds)
    }

    /// `ORDER BY` from `ordering` (comma-separated; names outside the allow-list are ignored, as
    /// DRF does), always ending with creation time and id so pages are stable.
    pub fn order_by(&self, q: &RawQuery) -> String {
        let a = self.alias;
        let mut parts: Vec<String> = Vec::new();
        for item in q.get("ordering").unwrap_or("").split(',') {
            let item = item.trim();
            let (desc, col) = match item.strip_prefix('-') {
                Some(c) => (true, c),
                None => (false, item),
            };
            let qualified = format!("{a}.{col}");
            if self.orderable.contains(&col)
                && !parts
                    .iter()
                    .any(|p| p.split(' ').next() == Some(qualified.as_str()))
            {
                parts.push(format!("{qualified} {}", if desc { "DESC" } else { "ASC" }));
            }
        }
        if !parts
            .iter()
            .any(|p| p.starts_with(&format!("{a}.created_at ")))
        {
            parts.push(format!("{a}.created_at DESC"));
        }
        parts.push(format!("{a}.id DESC"));
        parts.join(", ")
    }

    /// The default order (`order_by` with no `ordering`).
    pub fn default_order(&self) -> String {
        format!("{a}.created_at DESC, {a}.id DESC", a = self.alias)
    }
}

/// The caller, as list and detail statements need it.
pub struct Viewer {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub profile_id: Uuid,
    pub admin: bool,
}

impl Viewer {
    pub fn of(t: &Tenant) -> Self {
        Viewer {
            org_id: t.org_id,
            user_id: t.user_id,
            profile_id: t.profile_id,
            admin: t.is_admin(),
        }
    }
}

/// Who a USER member sees of a module: what they created, are assigned to (a profile in the
/// assigned join table) or reach through one of the record's teams. Admins see everything.
pub struct Visibility {
    /// The module's table and its alias in the statements.
    pub table: &'static str,
    pub alias: &'static str,
    /// The record's column in the join tables.
    pub fk: &'static str,
    /// Join table of direct assignees (`profile_id`) and of teams (`teams_id`).
    pub assigned: &'static str,
    pub teams: &'static str,
}

impl Visibility {
    /// Whether the caller may see the row of alias `alias`: SQL over placeholders (or literals)
    /// for the admin flag, the user id and the profile id.
    pub fn sql(&self, admin: &str, user: &str, profile: &str) -> String {
        let Visibility {
            alias: a,
            fk,
            assigned,
            teams,
            ..
        } = self;
        format!(
            // coalesce: a row without a creator (upstream allows NULL) is not NULL-visible.
            "({admin} OR coalesce({a}.created_by_id = {user}, false)
          OR EXISTS (SELECT 1 FROM {assigned} a WHERE a.{fk} = {a}.id AND a.profile_id = {profile})
          OR EXISTS (SELECT 1 FROM {teams} lt JOIN teams_users tu ON tu.teams_id = lt.teams_id
                     WHERE lt.{fk} = {a}.id AND tu.profile_id = {profile}))"
        )
    }

    /// The ids a USER may see, gathered from their own links (cost follows what they see, not
    /// the org's size): a query returning one column. `org` is the org's placeholder.
    pub fn ids_sql(&self, org: &str, user: &str, profile: &str) -> String {
        let Visibility {
            table,
            fk,
            assigned,
            teams,
            ..
        } = self;
        format!(
            "SELECT id FROM {table} WHERE org_id = {org} AND created_by_id = {user}
                    UNION SELECT {fk} FROM {assigned} WHERE profile_id = {profile}
                    UNION SELECT lt.{fk} FROM {teams} lt JOIN teams_users tu ON tu.teams_id = lt.teams_id
                          WHERE tu.profile_id = {profile}"
        )
    }
}

/// A rendered list page in the response cache: one slot per module, org, caller class (admins
/// share pages; a USER has their own) and query string, valid for the org's data version read
/// by the request's transaction. The tables a page renders must be watched
/// (`SELECT crm_cache_watch('<table>')` in a migration).
pub struct CacheSlot {
    org: Uuid,
    version: i64,
    key: String,
}

impl CacheSlot {
    pub fn new(module: &str, t: &Tenant, q: &RawQuery) -> Self {
        let who = if t.is_admin() {
            "admin".to_string()
        } else {
            t.profile_id.to_string()
        };
        CacheSlot {
            org: t.org_id,
            version: t.data_version,
            key: format!(
                "{module}:{who}:{}",
                serde_urlencoded::to_string(&q.0).unwrap_or_default()
            ),
        }
    }

    pub fn get(&self, cache: &ResponseCache) -> Option<Bytes> {
        cache.get(self.org, self.version, &self.key)
    }

    pub fn put(self, cache: &ResponseCache, body: Bytes) {
        cache.put(self.org, self.version, self.key, body);
    }
}

/// A list request answered from the cache, or the tenant and the slot to render into.
pub enum Cached {
    Hit(Response),
    Miss(Tenant, CacheSlot),
}

impl CacheSlot {
    /// The cached page of `module` for this caller and query (the request's transaction is
    /// committed), or a miss to render with `fill`.
    pub async fn lookup(
        module: &str,
        cache: &ResponseCache,
        t: Tenant,
        q: &RawQuery,
    ) -> Result<Cached, ApiError> {
        let slot = CacheSlot::new(module, &t, q);
        match slot.get(cache) {
            Some(body) => {
                t.commit().await?;
                Ok(Cached::Hit(json_bytes(body)))
            }
            None => Ok(Cached::Miss(t, slot)),
        }
    }

    /// Commits, completes the rendered page with its static `tail` (see `with_tail`), stores it
    /// and answers it.
    pub async fn fill(
        self,
        cache: &ResponseCache,
        t: Tenant,
        body: String,
        tail: &str,
    ) -> Result<Response, ApiError> {
        t.commit().await?;
        let body = with_tail(body, tail);
        self.put(cache, body.clone());
        Ok(json_bytes(body))
    }
}

/// A body PostgreSQL already rendered as JSON.
pub fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A JSON object PostgreSQL already rendered, with static members (`,"k":v...}`) appended
/// before its closing brace.
pub fn with_tail(mut body: String, tail: &str) -> Bytes {
    body.pop();
    body.push_str(tail);
    Bytes::from(body)
}
