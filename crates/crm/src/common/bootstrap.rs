//! First-run helpers: the first admin of a fresh install, and `createsuperuser`.

use anyhow::{Context, bail};
use sqlx::PgPool;
use uuid::Uuid;

use super::orgs::{create_org, validate_org_name};
use crate::auth::{password, service};
use crate::config::Config;
use crate::db::tenant;

pub struct Created {
    pub user_id: Uuid,
    pub org_id: Uuid,
}

/// Creates an active superuser with an org it administers.
pub async fn create_superuser(
    pool: &PgPool,
    email: &str,
    pw: &str,
    org_name: &str,
) -> anyhow::Result<Created> {
    let email = service::normalize_email(email);
    if !service::is_valid_email(&email) {
        bail!("--email: {email:?} is not a valid e-mail address");
    }
    if pw.chars().count() < 8 {
        bail!("--password: must be at least 8 characters");
    }
    let org_name =
        validate_org_name(Some(org_name)).map_err(|m| anyhow::anyhow!("--org-name: {m}"))?;
    let user_id = Uuid::new_v4();
    let mut tx = tenant::begin(pool, None, Some(user_id)).await?;
    let (exists,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))")
            .bind(&email)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        bail!("a user with e-mail {email} already exists");
    }
    let hash = password::hash(pw);
    sqlx::query(
        "INSERT INTO users (id, password, is_superuser, email, is_active, is_staff) VALUES ($1, $2, true, $3, true, true)",
    )
    .bind(user_id)
    .bind(hash)
    .bind(&email)
    .execute(&mut *tx)
    .await
    .context("cannot create user")?;
    let org_id = create_org(&mut tx, &org_name, user_id)
        .await
        .context("cannot create organization")?;
    tx.commit().await?;
    Ok(Created { user_id, org_id })
}

pub struct FirstAdmin {
    pub email: String,
    pub password: String,
}

/// On an empty database, creates an admin (ADMIN_EMAIL or admin@example.com) with a random
/// password, so a fresh install can be logged into at once.
pub async fn ensure_first_admin(pool: &PgPool, cfg: &Config) -> anyhow::Result<Option<FirstAdmin>> {
    let (any,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users)")
        .fetch_one(pool)
        .await?;
    if any {
        return Ok(None);
    }
    let email = std::env::var("ADMIN_EMAIL")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "admin@example.com".into());
    let pw = Uuid::new_v4().simple().to_string()[..20].to_string();
    let _ = cfg;
    create_superuser(pool, &email, &pw, "My Organization").await?;
    Ok(Some(FirstAdmin {
        email,
        password: pw,
    }))
}
