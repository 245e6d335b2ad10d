//! Dynamically built statements: SQL text plus its parameters, numbered as they are pushed
//! (`Sql`, `Bind`, `bind_all!`), the helpers that run them, and generic row writes (`insert`,
//! `update`, `sync_links`) over validated column values (`Val`). Every list-heavy module builds
//! its statements with these; the text is assembled from constants and placeholders only.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryScalar};
use uuid::Uuid;

use crate::db::tenant::Tx;
use crate::error::ApiError;

/// A validated value for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i32>),
    /// Decimal as canonical text, cast to numeric in SQL.
    Num(Option<String>),
    Date(Option<NaiveDate>),
    Bool(bool),
    /// A foreign key (already checked to be in the org).
    Uuid(Option<Uuid>),
}

/// A bound parameter of a dynamically built statement.
#[derive(Debug, Clone)]
pub enum Bind {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Uuids(Vec<Uuid>),
    Text(String),
    OptText(Option<String>),
    Ts(DateTime<Utc>),
    OptTs(Option<DateTime<Utc>>),
    Date(NaiveDate),
    Bool(bool),
    Val(Val),
}

/// Binds every parameter of a dynamically built statement, in order (any sqlx query type).
#[macro_export]
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        use $crate::db::sql::{Bind, Val};
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Uuid(v) => q.bind(v),
                Bind::OptUuid(v) => q.bind(v),
                Bind::Uuids(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
                Bind::OptText(v) => q.bind(v),
                Bind::Ts(v) => q.bind(v),
                Bind::OptTs(v) => q.bind(v),
                Bind::Date(v) => q.bind(v),
                Bind::Bool(v) => q.bind(v),
                Bind::Val(Val::Text(v)) | Bind::Val(Val::Num(v)) => q.bind(v),
                Bind::Val(Val::Int(v)) => q.bind(v),
                Bind::Val(Val::Date(v)) => q.bind(v),
                Bind::Val(Val::Bool(v)) => q.bind(v),
                Bind::Val(Val::Uuid(v)) => q.bind(v),
            };
        }
        q
    }};
}
pub use bind_all;

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

    /// A column value's placeholder (decimals cast to numeric).
    pub fn val(&mut self, v: &Val) -> String {
        let p = self.p(Bind::Val(v.clone()));
        if matches!(v, Val::Num(_)) {
            format!("{p}::numeric")
        } else {
            p
        }
    }
}

/// A dynamically built statement returning one text column, with its parameters bound.
pub fn scalar<'q>(
    text: String,
    binds: Vec<Bind>,
) -> QueryScalar<'q, Postgres, String, PgArguments> {
    bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(text)), binds)
}

/// A dynamically built statement with its parameters bound.
pub fn run<'q>(text: String, binds: Vec<Bind>) -> Query<'q, Postgres, PgArguments> {
    bind_all!(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
}

/// `%value%` for ILIKE, with the pattern characters escaped.
pub fn contains(v: &str) -> String {
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

/// A module's table and the text expression (display name) its writes return.
pub struct Table {
    pub name: &'static str,
    pub returning: &'static str,
}

/// Inserts a row of an org table with the standard audit columns (`created_at`, `updated_at`,
/// `id`, `org_id`, `created_by_id`, `updated_by_id`) and the given columns; `defaults` fill the
/// columns the body did not name. Returns the table's `returning` expression of the new row.
pub async fn insert(
    tx: &mut Tx,
    table: &Table,
    org: Uuid,
    user: Option<Uuid>,
    id: Uuid,
    fields: &[(&'static str, Val)],
    defaults: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    let Table {
        name: table,
        returning,
    } = table;
    let mut sql = Sql::default();
    let (pid, porg, puser) = (
        sql.p(Bind::Uuid(id)),
        sql.p(Bind::Uuid(org)),
        sql.p(Bind::OptUuid(user)),
    );
    let mut cols = String::from("created_at, updated_at, id, org_id, created_by_id, updated_by_id");
    let mut vals = format!("now(), now(), {pid}, {porg}, {puser}, {puser}");
    let missing = defaults
        .iter()
        .filter(|(c, _)| !fields.iter().any(|(f, _)| f == c));
    for (col, v) in fields.iter().chain(missing) {
        cols.push_str(", ");
        cols.push_str(col);
        vals.push_str(", ");
        vals.push_str(&sql.val(v));
    }
    let text = format!("INSERT INTO {table} ({cols}) VALUES ({vals}) RETURNING {returning}");
    Ok(scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// Updates the given columns (and `updated_at`/`updated_by_id`) of one row of the org; returns
/// `returning` of the row.
pub async fn update(
    tx: &mut Tx,
    table: &Table,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
) -> Result<String, ApiError> {
    update_with(tx, table, org, user, id, fields, &[]).await
}

/// `update`, plus assignments written as SQL over the row's current values (constant text such
/// as `resolved_at = coalesce(resolved_at, now())`, never request data).
pub async fn update_with(
    tx: &mut Tx,
    table: &Table,
    org: Uuid,
    user: Uuid,
    id: Uuid,
    fields: &[(&'static str, Val)],
    sets: &[&'static str],
) -> Result<String, ApiError> {
    let Table {
        name: table,
        returning,
    } = table;
    let mut sql = Sql::default();
    let (pid, porg, puser) = (
        sql.p(Bind::Uuid(id)),
        sql.p(Bind::Uuid(org)),
        sql.p(Bind::Uuid(user)),
    );
    let mut set = format!("updated_at = now(), updated_by_id = {puser}");
    for (col, v) in fields {
        set.push_str(&format!(", {col} = {}", sql.val(v)));
    }
    for s in sets {
        set.push_str(", ");
        set.push_str(s);
    }
    let text = format!(
        "UPDATE {table} SET {set} WHERE id = {pid} AND org_id = {porg} RETURNING {returning}"
    );
    Ok(scalar(text, sql.binds).fetch_one(&mut **tx).await?)
}

/// One many-to-many list of a record: join table, the record's column in it, the other column,
/// and the new ids (`None`: leave the list as it is).
pub struct LinkList<'a> {
    pub table: &'static str,
    pub col: &'static str,
    pub ids: Option<&'a [Uuid]>,
}

/// Replaces the lists that are `Some` (ids already checked to be in the org), in one statement,
/// and returns the e-mails of profiles newly linked through `assigned_table`, except
/// `actor_profile`'s own (whom to send an assignment e-mail).
pub async fn sync_links(
    tx: &mut Tx,
    fk: &str,
    record: Uuid,
    actor_profile: Uuid,
    assigned_table: &str,
    lists: &[LinkList<'_>],
) -> Result<Vec<String>, ApiError> {
    let mut sql = Sql::default();
    let pl = sql.p(Bind::Uuid(record));
    let pa = sql.p(Bind::Uuid(actor_profile));
    let mut ctes = Vec::new();
    let mut assigned_cte = false;
    for LinkList { table, col, ids } in lists {
        let Some(ids) = ids else { continue };
        let p = sql.p(Bind::Uuids(ids.to_vec()));
        ctes.push(format!(
            "d_{table} AS (DELETE FROM {table} WHERE {fk} = {pl} AND NOT ({col} = ANY({p}))),
             i_{table} AS (INSERT INTO {table} ({fk}, {col}) SELECT {pl}, x FROM unnest({p}::uuid[]) x
                           ON CONFLICT DO NOTHING RETURNING {col})"
        ));
        assigned_cte |= *table == assigned_table;
    }
    if ctes.is_empty() {
        return Ok(vec![]);
    }
    let select = if assigned_cte {
        format!(
            "SELECT u.email FROM i_{assigned_table} i JOIN profile p ON p.id = i.profile_id
             JOIN users u ON u.id = p.user_id WHERE p.id <> {pa}"
        )
    } else {
        format!("SELECT NULL::text WHERE {pa}::uuid IS NULL")
    };
    let text = format!("WITH {} {select}", ctes.join(", "));
    Ok(scalar(text, sql.binds).fetch_all(&mut **tx).await?)
}
