//! The non-superuser role that serves requests (default `crm_app`): created and granted by
//! `migrate`, never the owner of the tables, never BYPASSRLS, so row-level security binds it.

use anyhow::{Context, bail};
use sqlx::PgPool;

fn valid_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Creates the app role if missing and grants it data access (not DDL) on the schema.
/// Safe to run concurrently (roles are cluster-wide; parallel test databases race here).
pub async fn ensure_app_role(
    pool: &PgPool,
    role: &str,
    password: Option<&str>,
) -> anyhow::Result<()> {
    if !valid_role_name(role) {
        bail!("APP_DB_USER {role:?} must be a lowercase SQL identifier");
    }
    let create = format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(pool)
        .await
        .with_context(|| {
            format!("cannot create role {role} (the migrate role needs CREATEROLE)")
        })?;
    if let Some(pw) = password {
        let stmt: (String,) =
            sqlx::query_as("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)")
                .bind(role)
                .bind(pw)
                .fetch_one(pool)
                .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt.0))
            .execute(pool)
            .await
            .context("cannot set app role password")?;
    }
    let grants = format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE ALL ON TABLE _sqlx_migrations FROM {role};"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(grants))
        .execute(pool)
        .await
        .with_context(|| format!("cannot grant privileges to {role}"))?;
    Ok(())
}
