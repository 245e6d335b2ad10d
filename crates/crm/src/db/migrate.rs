//! Migrations, and adoption of a database that upstream BottleCRM (Django) already migrated.
//!
//! 0001 is upstream's schema. On a Django-migrated database (recognised by `django_migrations`)
//! 0001 is recorded as applied without running, so the data stays untouched, and the rest applies.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::migrate::Migrator;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The upstream migrations our 0001 corresponds to (the newest of each app at f15f4061).
/// A database missing any of them is an older upstream: it must be brought up to date with
/// Django's `migrate` first, or our later migrations would meet an unexpected schema.
const REQUIRED_DJANGO_MIGRATIONS: &[(&str, &str)] = &[
    ("common", "0012_add_tag_color_description_isactive"),
    ("accounts", "0006_add_enterprise_constraints"),
    ("cases", "0008_add_enterprise_constraints"),
    ("contacts", "0010_add_enterprise_constraints"),
    ("invoices", "0007_add_cancelled_at_field"),
    ("leads", "0011_add_enterprise_constraints"),
    ("opportunity", "0006_add_opportunity_line_item"),
    ("tasks", "0001_initial"),
];

#[derive(Debug, Default)]
pub struct MigrateReport {
    /// An upstream database was recognised and 0001 recorded as applied.
    pub adopted: bool,
    pub applied: Vec<String>,
    /// How long each of `applied` took.
    pub elapsed: Vec<Duration>,
}

impl MigrateReport {
    /// One line per applied migration: `0001 upstream schema (2.9 s)`.
    pub fn lines(&self) -> Vec<String> {
        self.applied
            .iter()
            .zip(&self.elapsed)
            .map(|(m, d)| format!("{m} ({:.1} s)", d.as_secs_f64()))
            .collect()
    }
}

async fn table_exists(pool: &PgPool, name: &str) -> anyhow::Result<bool> {
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("public.{name}"))
        .fetch_one(pool)
        .await?;
    Ok(exists)
}

async fn applied_versions(pool: &PgPool) -> anyhow::Result<Vec<i64>> {
    if !table_exists(pool, "_sqlx_migrations").await? {
        return Ok(vec![]);
    }
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Migrations not applied yet (descriptions), without applying anything.
pub async fn pending(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let done = applied_versions(pool).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| !done.contains(&m.version))
        .map(|m| format!("{:04} {}", m.version, m.description))
        .collect())
}

/// True when the database was created by upstream's Django migrations.
pub async fn is_upstream_database(pool: &PgPool) -> anyhow::Result<bool> {
    table_exists(pool, "django_migrations").await
}

/// Applies every pending migration; adopts an upstream database first when it finds one.
pub async fn run(pool: &PgPool) -> anyhow::Result<MigrateReport> {
    let mut report = MigrateReport::default();
    let before = applied_versions(pool).await?;
    if !before.contains(&1) && is_upstream_database(pool).await? {
        check_upstream_complete(pool).await?;
        MIGRATOR
            .skip(pool, Some(1))
            .await
            .context("cannot record the upstream schema migration as applied")?;
        report.adopted = true;
    }
    let done = applied_versions(pool).await?;
    let to_apply: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| !done.contains(&m.version))
        .collect();
    if to_apply.is_empty() {
        return Ok(report);
    }
    // A connection of its own that never logs statement text: sqlx logs a statement over the
    // pool's slow threshold with its SQL, and 0001 alone is ~130 KB of it (the first screen a
    // new user saw). The caller prints one line per migration from the report instead.
    let quiet = (*pool.connect_options())
        .clone()
        .log_statements(tracing::log::LevelFilter::Off)
        .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(3600));
    let mut conn = PgConnection::connect_with(&quiet)
        .await
        .context("cannot connect to run migrations")?;
    for m in to_apply {
        let started = Instant::now();
        MIGRATOR
            .run_to(m.version, &mut conn)
            .await
            .with_context(|| format!("migration {:04} {} failed", m.version, m.description))?;
        report
            .applied
            .push(format!("{:04} {}", m.version, m.description));
        report.elapsed.push(started.elapsed());
    }
    conn.close().await.ok();
    Ok(report)
}

async fn check_upstream_complete(pool: &PgPool) -> anyhow::Result<()> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT app, name FROM django_migrations")
        .fetch_all(pool)
        .await
        .context("cannot read django_migrations")?;
    let missing: Vec<String> = REQUIRED_DJANGO_MIGRATIONS
        .iter()
        .filter(|(app, name)| !rows.iter().any(|(a, n)| a == app && n == name))
        .map(|(app, name)| format!("{app}.{name}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "this is an upstream BottleCRM database that is not fully migrated (missing {}); \
             run upstream's `python manage.py migrate` first, then `bottlecrm migrate`",
            missing.join(", ")
        );
    }
    Ok(())
}
