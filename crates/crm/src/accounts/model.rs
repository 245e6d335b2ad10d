//! Account rows and their SQL: locks, name checks, the delete cascade and account e-mails.
//! Lists and details are rendered to JSON by PostgreSQL (see `list.rs`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::dto::MailInput;
use crate::db::Tenant;
use crate::db::tenant::Tx;
use crate::error::{ApiError, FieldErrors};

/// What a write needs to know about an existing account (row locked for the transaction).
pub struct Current {
    pub name: String,
    pub created_by: Option<Uuid>,
    pub can_edit: bool,
}

pub async fn lock(t: &mut Tenant, id: Uuid) -> Result<Option<Current>, ApiError> {
    let text = format!(
        "SELECT acc.name, acc.created_by_id, {} FROM accounts acc
         WHERE acc.org_id = $1 AND acc.id = $2 FOR UPDATE",
        super::pages::VISIBILITY.sql("$3", "$4", "$5")
    );
    let row: Option<(String, Option<Uuid>, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind(t.org_id)
        .bind(id)
        .bind(t.is_admin())
        .bind(t.user_id)
        .bind(t.profile_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    Ok(row.map(|(name, created_by, can_edit)| Current {
        name,
        created_by,
        can_edit,
    }))
}

/// Invoices, estimates and recurring invoices that point at the account or at one of its
/// opportunities (which the delete would remove): upstream protects them, so they block it.
pub async fn delete_blockers(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Option<String>, ApiError> {
    let (invoices, estimates, recurring): (i64, i64, i64) = sqlx::query_as(
        "WITH o AS (SELECT id FROM opportunity WHERE org_id = $1 AND account_id = $2)
         SELECT (SELECT count(*) FROM invoice WHERE org_id = $1 AND (account_id = $2 OR opportunity_id IN (SELECT id FROM o))),
                (SELECT count(*) FROM estimate WHERE org_id = $1 AND (account_id = $2 OR opportunity_id IN (SELECT id FROM o))),
                (SELECT count(*) FROM recurring_invoice WHERE org_id = $1 AND account_id = $2)",
    )
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let parts: Vec<String> = [
        (invoices, "invoice"),
        (estimates, "estimate"),
        (recurring, "recurring invoice"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
    .collect();
    Ok((!parts.is_empty()).then(|| {
        format!(
            "This account cannot be deleted: {} still refer to it or to its opportunities. Delete or reassign them first.",
            parts.join(", ")
        )
    }))
}

/// Deletes an account as upstream's cascades do, explicitly (the foreign keys are deferred, not
/// cascading): its opportunities (with line items and links) and cases (with links) go; its
/// contacts, tasks, board cards and e-mails stay, unlinked. Returns the account's name.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<String, ApiError> {
    let links = |table: &str, col: &str, set: &str| {
        format!("{table}_{col} AS (DELETE FROM {table} WHERE {col} IN (SELECT id FROM {set}))")
    };
    let mut ctes = vec![
        "o AS (SELECT id FROM opportunity WHERE org_id = $1 AND account_id = $2)".to_string(),
        "c AS (SELECT id FROM \"case\" WHERE org_id = $1 AND account_id = $2)".to_string(),
    ];
    for table in [
        "opportunity_line_item",
        "opportunity_assigned_to",
        "opportunity_teams",
        "opportunity_tags",
        "opportunity_contacts",
    ] {
        ctes.push(links(table, "opportunity_id", "o"));
    }
    for table in [
        "case_assigned_to",
        "case_teams",
        "case_tags",
        "case_contacts",
        "solution_cases",
    ] {
        ctes.push(links(table, "case_id", "c"));
    }
    for table in [
        "accounts_assigned_to",
        "accounts_teams",
        "accounts_tags",
        "accounts_contacts",
    ] {
        ctes.push(format!(
            "{table}_x AS (DELETE FROM {table} WHERE account_id = $2)"
        ));
    }
    ctes.extend([
        "t AS (UPDATE task SET
                   account_id = CASE WHEN account_id = $2 THEN NULL ELSE account_id END,
                   opportunity_id = CASE WHEN opportunity_id IN (SELECT id FROM o) THEN NULL ELSE opportunity_id END,
                   case_id = CASE WHEN case_id IN (SELECT id FROM c) THEN NULL ELSE case_id END
               WHERE org_id = $1 AND (account_id = $2 OR opportunity_id IN (SELECT id FROM o)
                                      OR case_id IN (SELECT id FROM c)))".into(),
        "b AS (UPDATE board_task SET
                   account_id = CASE WHEN account_id = $2 THEN NULL ELSE account_id END,
                   opportunity_id = CASE WHEN opportunity_id IN (SELECT id FROM o) THEN NULL ELSE opportunity_id END
               WHERE org_id = $1 AND (account_id = $2 OR opportunity_id IN (SELECT id FROM o)))".into(),
        "k AS (UPDATE contacts SET account_id = NULL WHERE org_id = $1 AND account_id = $2)".into(),
        "m AS (UPDATE account_email SET from_account_id = NULL WHERE org_id = $1 AND from_account_id = $2)".into(),
        "od AS (DELETE FROM opportunity WHERE id IN (SELECT id FROM o))".into(),
        "cd AS (DELETE FROM \"case\" WHERE id IN (SELECT id FROM c))".into(),
    ]);
    let text = format!(
        "WITH {} DELETE FROM accounts WHERE org_id = $1 AND id = $2 RETURNING name",
        ctes.join(",\n")
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(text))
        .bind(org)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Checks a `create_mail` body against the database: every recipient is a contact of the org,
/// the timezone is one PostgreSQL knows, and the scheduled time parses (a time without an
/// offset is read in `timezone`). Returns when to send (None: now).
pub async fn check_mail(
    tx: &mut Tx,
    org: Uuid,
    input: &MailInput,
    errors: &mut FieldErrors,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let (missing, tz_ok): (Vec<Uuid>, bool) = sqlx::query_as(
        "SELECT ARRAY(SELECT x FROM unnest($2::uuid[]) x
                      WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = x AND c.org_id = $1)),
                EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $3)",
    )
    .bind(org)
    .bind(&input.recipients)
    .bind(&input.timezone)
    .fetch_one(&mut **tx)
    .await?;
    if !missing.is_empty() {
        errors.add("recipients", "Please enter valid recipient");
    }
    if !tz_ok {
        errors.add(
            "timezone",
            format!("\"{}\" is not a valid choice.", input.timezone),
        );
        return Ok(None);
    }
    let Some(raw) = &input.scheduled_date_time else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok());
    let Some(naive) = naive else {
        errors.add(
            "scheduled_date_time",
            "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        );
        return Ok(None);
    };
    let at: DateTime<Utc> = sqlx::query_scalar("SELECT $1::timestamp AT TIME ZONE $2")
        .bind(naive)
        .bind(&input.timezone)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(at))
}

/// Stores an account e-mail with its recipients and one unsent `emailLogs` row per recipient.
pub async fn insert_mail(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    account: Uuid,
    input: &MailInput,
    at: Option<DateTime<Utc>>,
) -> Result<Uuid, ApiError> {
    let id = Uuid::new_v4();
    // Two statements: the join table's row-level policy must see the e-mail row it links.
    sqlx::query(
        "INSERT INTO account_email (created_at, updated_at, id, message_subject, message_body, timezone,
                                    scheduled_date_time, scheduled_later, from_email, created_by_id,
                                    updated_by_id, from_account_id, org_id)
         VALUES (now(), now(), $1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)",
    )
    .bind(id)
    .bind(&input.subject)
    .bind(&input.body)
    .bind(&input.timezone)
    .bind(at)
    .bind(input.scheduled_later)
    .bind(&input.from_email)
    .bind(user)
    .bind(account)
    .bind(org)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "WITH r AS (INSERT INTO account_email_recipients (accountemail_id, contact_id)
                    SELECT $1, x FROM unnest($4::uuid[]) x)
         INSERT INTO \"emailLogs\" (created_at, updated_at, id, is_sent, contact_id, created_by_id, updated_by_id,
                                   email_id, org_id)
         SELECT now(), now(), gen_random_uuid(), false, x, $2, $2, $1, $3 FROM unnest($4::uuid[]) x",
    )
    .bind(id)
    .bind(user)
    .bind(org)
    .bind(&input.recipients)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}
