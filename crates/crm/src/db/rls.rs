//! Row-level security management behind `bottlecrm rls ...`. The policies themselves live in
//! SQL (migration 0002: `crm_rls_targets`, `crm_enable_rls`, `crm_disable_rls`), so the
//! migration and these commands cannot drift apart.

use anyhow::{Context, bail};
use sqlx::PgPool;
use uuid::Uuid;

use super::RoleInfo;

#[derive(Debug, Clone)]
pub struct TableStatus {
    pub table: String,
    /// `org` (has org_id) or `join` (protected through its two parents).
    pub kind: String,
    pub enabled: bool,
    pub forced: bool,
    pub policy: bool,
}

impl TableStatus {
    pub fn ok(&self) -> bool {
        self.enabled && self.forced && self.policy
    }
}

/// Every table that must be protected, and whether it is.
pub async fn status(pool: &PgPool) -> anyhow::Result<Vec<TableStatus>> {
    let (has_fn,): (bool,) = sqlx::query_as("SELECT to_regproc('crm_rls_targets') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !has_fn {
        bail!(
            "the database is not migrated (crm_rls_targets() is missing): run `bottlecrm migrate`"
        );
    }
    let rows: Vec<(String, String, bool, bool, bool)> = sqlx::query_as(
        "SELECT t.table_name, t.kind, c.relrowsecurity, c.relforcerowsecurity,
                EXISTS (SELECT 1 FROM pg_policies p
                        WHERE p.schemaname = 'public' AND p.tablename = t.table_name AND p.policyname = 'org_isolation'
                          AND p.qual LIKE '%current_setting(''app.current_org''%'
                          AND p.with_check LIKE '%current_setting(''app.current_org''%')
         FROM crm_rls_targets() t
         JOIN pg_class c ON c.relname = t.table_name AND c.relnamespace = 'public'::regnamespace
         ORDER BY t.kind DESC, t.table_name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, kind, enabled, forced, policy)| TableStatus {
            table,
            kind,
            enabled,
            forced,
            policy,
        })
        .collect())
}

pub async fn enable(pool: &PgPool) -> anyhow::Result<i32> {
    let (n,): (i32,) = sqlx::query_as("SELECT crm_enable_rls()")
        .fetch_one(pool)
        .await
        .context("cannot enable RLS")?;
    Ok(n)
}

pub async fn disable(pool: &PgPool) -> anyhow::Result<i32> {
    let (n,): (i32,) = sqlx::query_as("SELECT crm_disable_rls()")
        .fetch_one(pool)
        .await
        .context("cannot disable RLS")?;
    Ok(n)
}

/// Problems that make a role unsafe to serve requests with (empty = safe).
pub fn role_problems(role: &RoleInfo) -> Vec<String> {
    let mut out = Vec::new();
    if role.superuser {
        out.push(format!(
            "{} is a SUPERUSER: row-level security is bypassed",
            role.name
        ));
    }
    if role.bypass_rls {
        out.push(format!(
            "{} has BYPASSRLS: row-level security is bypassed",
            role.name
        ));
    }
    if role.owns_tables {
        out.push(format!(
            "{} owns tables: an owner can switch row-level security off",
            role.name
        ));
    }
    out
}

#[derive(Debug)]
pub struct RlsTestReport {
    pub visible_in_a: i64,
    pub visible_in_b: i64,
    pub visible_without_context: i64,
    pub cross_org_insert_rejected: bool,
    pub a_sees_only_a: bool,
}

impl RlsTestReport {
    pub fn passed(&self) -> bool {
        self.visible_in_a == 1
            && self.visible_in_b == 1
            && self.visible_without_context == 0
            && self.cross_org_insert_rejected
            && self.a_sees_only_a
    }
}

/// Two throwaway orgs with one tag each, checked from each org's context and from none; then
/// an insert into org B from org A's context, which RLS must reject. Everything is rolled back.
pub async fn self_test(pool: &PgPool) -> anyhow::Result<RlsTestReport> {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = pool.begin().await?;
    for org in [a, b] {
        sqlx::query(
            "INSERT INTO organization (created_at, updated_at, id, name, api_key, is_active, default_currency,
                                       address_line, city, company_name, country, email, phone, postcode, state,
                                       tax_id, website)
             VALUES (now(), now(), $1, $2, $3, true, 'USD', '', '', '', '', '', '', '', '', '', '')",
        )
        .bind(org)
        .bind(format!("rls-test-{org}"))
        .bind(Uuid::new_v4().to_string())
        .execute(&mut *tx)
        .await?;
        set_org(&mut tx, Some(org)).await?;
        insert_tag(&mut tx, org).await?;
    }
    let count = "SELECT count(*) FROM tags WHERE name LIKE 'rls-test-%'";
    set_org(&mut tx, Some(a)).await?;
    let (visible_in_a,): (i64,) = sqlx::query_as(count).fetch_one(&mut *tx).await?;
    let (foreign_in_a,): (i64,) = sqlx::query_as("SELECT count(*) FROM tags WHERE org_id <> $1")
        .bind(a)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("SAVEPOINT cross_org").execute(&mut *tx).await?;
    let cross = insert_tag(&mut tx, b).await;
    let cross_org_insert_rejected =
        matches!(&cross, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501"));
    sqlx::query("ROLLBACK TO SAVEPOINT cross_org")
        .execute(&mut *tx)
        .await?;
    set_org(&mut tx, Some(b)).await?;
    let (visible_in_b,): (i64,) = sqlx::query_as(count).fetch_one(&mut *tx).await?;
    set_org(&mut tx, None).await?;
    let (visible_without_context,): (i64,) = sqlx::query_as(count).fetch_one(&mut *tx).await?;
    tx.rollback().await?;
    Ok(RlsTestReport {
        visible_in_a,
        visible_in_b,
        visible_without_context,
        cross_org_insert_rejected,
        a_sees_only_a: foreign_in_a == 0,
    })
}

async fn set_org(tx: &mut sqlx::PgConnection, org: Option<Uuid>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('app.current_org', $1, true)")
        .bind(org.map(|o| o.to_string()).unwrap_or_default())
        .execute(tx)
        .await
        .map(|_| ())
}

async fn insert_tag(tx: &mut sqlx::PgConnection, org: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tags (created_at, updated_at, id, name, slug, org_id, color, description, is_active)
         VALUES (now(), now(), $1, $2, $2, $3, 'blue', '', true)",
    )
    .bind(Uuid::new_v4())
    .bind(format!("rls-test-{}", Uuid::new_v4().simple()))
    .bind(org)
    .execute(tx)
    .await
    .map(|_| ())
}
