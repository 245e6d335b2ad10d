//! Database access: connection pools, migrations (with adoption of upstream databases), the
//! non-superuser app role, row-level security management, and the `Tenant` request handle.

pub mod migrate;
pub mod rls;
pub mod roles;
pub mod sql;
pub mod tenant;

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

pub use tenant::Tenant;

pub fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let opts: PgConnectOptions = url.parse().context("invalid database URL")?;
    // Statement logging would put request data in the log at INFO; keep it for slow ones only.
    // JIT compilation costs far more than this API's short statements take (see 0031).
    Ok(opts
        .options([("jit", "off")])
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let opts = connect_options(url)?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(url)))
}

/// How the pool that serves requests behaves (DB_* settings of the configuration).
#[derive(Clone, Debug)]
pub struct AppPoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` of the serving connections (None: no limit).
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL `idle_in_transaction_session_timeout`: a connection left idle inside a
    /// transaction this long is terminated by the server, so nothing can pin one (None: no limit).
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl AppPoolSettings {
    /// Connection options with the session limits set at connection start (`-c name=value`):
    /// they bind this pool only, so migrations (owner role) and the job worker (its own pool,
    /// jobs may run longer) are not cut short.
    pub fn connect_options(&self, url: &str) -> anyhow::Result<PgConnectOptions> {
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis().max(1)).to_string();
        Ok(connect_options(url)?.options([
            ("statement_timeout", ms(self.statement_timeout)),
            (
                "idle_in_transaction_session_timeout",
                ms(self.idle_in_transaction_timeout),
            ),
        ]))
    }

    pub fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
    }
}

/// The pool requests run on.
pub async fn connect_app(url: &str, settings: &AppPoolSettings) -> anyhow::Result<PgPool> {
    settings
        .pool_options()
        .connect_with(settings.connect_options(url)?)
        .await
        .with_context(|| format!("cannot connect to {}", redact_url(url)))
}

/// The pool is at its size limit with every connection in use: a request would wait.
pub fn pool_saturated(pool: &PgPool) -> bool {
    pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
}

/// The URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                u.set_password(Some("***")).ok();
            }
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

/// Creates the database named in `url` when it does not exist yet (zero-config start).
/// Returns true when it was created.
pub async fn ensure_database(url: &str) -> anyhow::Result<bool> {
    let opts = connect_options(url)?;
    match opts.connect().await {
        Ok(_) => Ok(false),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let name = opts.get_database().unwrap_or("bottlecrm").to_string();
            let admin = opts.clone().database("postgres");
            let mut conn = admin.connect().await.context(
                "database does not exist and the maintenance database 'postgres' is unreachable",
            )?;
            let stmt = format!("CREATE DATABASE {}", quote_ident(&name));
            match sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                .execute(&mut conn)
                .await
            {
                Ok(_) => Ok(true),
                // Created meanwhile by another process.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
                Err(e) => Err(e).with_context(|| format!("cannot create database {name}")),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot connect to {}", redact_url(url))),
    }
}

/// `"name"` with embedded quotes doubled: safe for any identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The same server and database as `url`, logged in as another role.
pub fn url_for_role(url: &str, user: &str, password: Option<&str>) -> anyhow::Result<String> {
    let mut u = url::Url::parse(url).context("invalid database URL")?;
    u.set_username(user)
        .map_err(|_| anyhow::anyhow!("cannot set user in database URL"))?;
    u.set_password(password)
        .map_err(|_| anyhow::anyhow!("cannot set password in database URL"))?;
    Ok(u.to_string())
}

/// Privileges of the role a pool is logged in as.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    pub create_db: bool,
    pub create_role: bool,
    /// Owns at least one protected table (FORCE RLS still applies, but an owner can turn it off).
    pub owns_tables: bool,
}

impl RoleInfo {
    /// RLS applies to this role and it cannot switch RLS off.
    pub fn is_safe_for_serving(&self) -> bool {
        !self.superuser && !self.bypass_rls && !self.owns_tables
    }
}

pub async fn role_info(pool: &PgPool) -> anyhow::Result<RoleInfo> {
    let row: (String, bool, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
                EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relowner = r.oid)
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(pool)
    .await?;
    Ok(RoleInfo {
        name: row.0,
        superuser: row.1,
        bypass_rls: row.2,
        create_db: row.3,
        create_role: row.4,
        owns_tables: row.5,
    })
}

/// True when the URL points at this machine (the zero-config case).
pub fn is_local_url(url: &str) -> bool {
    let Ok(opts) = url.parse::<PgConnectOptions>() else {
        return false;
    };
    matches!(opts.get_host(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
        || opts.get_host().starts_with('/')
}
