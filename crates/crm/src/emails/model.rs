//! SQL of the e-mails module: the records an e-mail can be sent from (their placeholders,
//! addresses and who may use them), the history rows and their JSON, suppression.

use serde_json::Value;
use uuid::Uuid;

use crate::db::sql::{self, Bind, Sql};
use crate::db::tenant::Tx;
use crate::error::ApiError;
use crate::http::pagination::Page;

/// The record types an e-mail is sent from, as the API names them.
pub const RECORD_TYPES: &[&str] = &["lead", "contact", "account", "opportunity", "case"];

pub const STATUSES: &[&str] = &["draft", "queued", "sent", "failed", "bounced"];

/// How each record type is read: its table, assignee join table, the placeholders its fields
/// fill (`{{ first_name }}`...) and its e-mail addresses.
struct RecordSql {
    table: &'static str,
    assigned: &'static str,
    fk: &'static str,
    context: &'static str,
    addresses: &'static str,
}

const PERSON_ADDR: &str =
    "ARRAY(SELECT a FROM (VALUES (r.email::text)) v(a) WHERE coalesce(a, '') <> '')";

fn record_sql(record_type: &str) -> Option<RecordSql> {
    Some(match record_type {
        "lead" => RecordSql {
            table: "lead",
            assigned: "lead_assigned_to",
            fk: "lead_id",
            context: "json_build_object('first_name', coalesce(r.first_name, ''), 'last_name', coalesce(r.last_name, ''),
                        'name', concat_ws(' ', r.first_name, r.last_name), 'email', r.email, 'phone', r.phone,
                        'title', r.title, 'company', r.company_name, 'organization', r.company_name)",
            addresses: PERSON_ADDR,
        },
        "contact" => RecordSql {
            table: "contacts",
            assigned: "contacts_assigned_to",
            fk: "contact_id",
            context: "json_build_object('first_name', r.first_name, 'last_name', r.last_name,
                        'name', concat_ws(' ', r.first_name, r.last_name), 'email', r.email, 'phone', r.phone,
                        'title', r.title, 'company', r.organization, 'organization', r.organization)",
            addresses: PERSON_ADDR,
        },
        "account" => RecordSql {
            table: "accounts",
            assigned: "accounts_assigned_to",
            fk: "account_id",
            context: "json_build_object('name', r.name, 'email', r.email, 'phone', r.phone, 'website', r.website,
                        'company', r.name, 'organization', r.name)",
            addresses: PERSON_ADDR,
        },
        "opportunity" => RecordSql {
            table: "opportunity",
            assigned: "opportunity_assigned_to",
            fk: "opportunity_id",
            context: "json_build_object('name', r.name, 'stage', r.stage, 'amount', r.amount, 'currency', r.currency)",
            addresses: "ARRAY(SELECT DISTINCT c.email::text FROM opportunity_contacts l JOIN contacts c ON c.id = l.contact_id
                              WHERE l.opportunity_id = r.id AND coalesce(c.email, '') <> '' ORDER BY 1)",
        },
        "case" => RecordSql {
            table: "\"case\"",
            assigned: "case_assigned_to",
            fk: "case_id",
            context: "json_build_object('name', r.name, 'status', r.status, 'priority', r.priority, 'case_type', r.case_type)",
            addresses: "ARRAY(SELECT DISTINCT c.email::text FROM case_contacts l JOIN contacts c ON c.id = l.contact_id
                              WHERE l.case_id = r.id AND coalesce(c.email, '') <> '' ORDER BY 1)",
        },
        _ => return None,
    })
}

/// A record of the org an e-mail is sent from.
pub struct Record {
    /// Its placeholders.
    pub context: Value,
    /// Its e-mail addresses (a lead's, contact's or account's own; an opportunity's or case's
    /// contacts').
    pub addresses: Vec<String>,
    /// Admin, creator or assignee.
    pub visible: bool,
}

/// The record `record_type`/`id` of `org` (None: not in the org, or not a known type).
pub async fn record(
    tx: &mut Tx,
    org: Uuid,
    record_type: &str,
    id: Uuid,
    viewer: (bool, Uuid, Uuid),
) -> Result<Option<Record>, ApiError> {
    let Some(s) = record_sql(record_type) else {
        return Ok(None);
    };
    let q = format!(
        "SELECT {}, {}, ($3 OR r.created_by_id = $4
                 OR EXISTS (SELECT 1 FROM {} a WHERE a.{} = r.id AND a.profile_id = $5))
         FROM {} r WHERE r.id = $1 AND r.org_id = $2",
        s.context, s.addresses, s.assigned, s.fk, s.table
    );
    let row: Option<(Value, Vec<String>, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .bind(org)
        .bind(viewer.0)
        .bind(viewer.1)
        .bind(viewer.2)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(context, addresses, visible)| Record {
        context,
        addresses,
        visible,
    }))
}

/// The placeholders of a record, read when its e-mail is sent (None when it is gone).
pub async fn record_context(
    tx: &mut Tx,
    record_type: &str,
    id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    let Some(s) = record_sql(record_type) else {
        return Ok(None);
    };
    let q = format!("SELECT {} FROM {} r WHERE r.id = $1", s.context, s.table);
    sqlx::query_scalar(sqlx::AssertSqlSafe(q))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// SQL that is true when address `col` is suppressed in the org (address or its domain).
pub fn suppressed_sql(col: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM email_suppression s WHERE s.org_id = current_setting('app.current_org')::uuid
                 AND ((s.kind = 'address' AND s.value = lower({col}))
                      OR (s.kind = 'domain' AND s.value = lower(split_part({col}, '@', 2)))))"
    )
}

/// The three recipient lists without their suppressed addresses.
pub async fn deliverable(
    tx: &mut Tx,
    org: Uuid,
    to: &[String],
    cc: &[String],
    bcc: &[String],
) -> Result<(Vec<String>, Vec<String>, Vec<String>), sqlx::Error> {
    let _ = org;
    let keep = |arg: &str| {
        format!(
            "ARRAY(SELECT a FROM unnest({arg}::text[]) WITH ORDINALITY x(a, n) WHERE NOT {} ORDER BY n)",
            suppressed_sql("a")
        )
    };
    let q = format!("SELECT {}, {}, {}", keep("$1"), keep("$2"), keep("$3"));
    sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(to)
        .bind(cc)
        .bind(bcc)
        .fetch_one(&mut **tx)
        .await
}

/// One e-mail as JSON (`e` the row, `u` its sender's user).
const OBJ: &str = "json_build_object(
    'id', e.id, 'record_type', e.record_type, 'record_id', e.record_id, 'thread_id', e.thread_id,
    'in_reply_to', e.in_reply_to_id, 'from_email', e.from_email, 'to', e.to_addrs, 'cc', e.cc_addrs,
    'bcc', e.bcc_addrs, 'subject', e.subject, 'body', e.body, 'template', e.template_id,
    'status', e.status, 'error', e.error, 'scheduled_at', e.scheduled_at, 'sent_at', e.sent_at,
    'message_id', e.message_id, 'rendered_subject', e.rendered_subject, 'rendered_html', e.rendered_html,
    'rendered_text', e.rendered_text,
    'created_by', CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', u.id, 'email', u.email) END,
    'created_at', e.created_at, 'updated_at', e.updated_at)";

/// The list's filters, already validated.
#[derive(Default)]
pub struct Filters {
    pub record: Option<(String, Uuid)>,
    pub status: Option<String>,
    pub thread: Option<Uuid>,
    /// USER without a record: only what they sent.
    pub only_sender: bool,
}

/// `{"count", "results"}`, newest first, in one statement. Drafts are their sender's only.
pub async fn list_json(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    f: &Filters,
    page: Page,
    oldest_first: bool,
) -> Result<String, ApiError> {
    let mut s = Sql::default();
    let mut w = vec![format!("e.org_id = {}", s.p(Bind::Uuid(org)))];
    let me = s.p(Bind::Uuid(user));
    w.push(format!("(e.status <> 'draft' OR e.created_by_id = {me})"));
    if f.only_sender {
        w.push(format!("e.created_by_id = {me}"));
    }
    if let Some((rt, id)) = &f.record {
        w.push(format!("e.record_type = {}", s.p(Bind::Text(rt.clone()))));
        w.push(format!("e.record_id = {}", s.p(Bind::Uuid(*id))));
    }
    if let Some(st) = &f.status {
        w.push(format!("e.status = {}", s.p(Bind::Text(st.clone()))));
    }
    if let Some(th) = f.thread {
        w.push(format!("e.thread_id = {}", s.p(Bind::Uuid(th))));
    }
    let w = w.join(" AND ");
    let dir = if oldest_first { "" } else { " DESC" };
    // Clamped, not truncated: an `offset` beyond i32 would wrap negative (a 500).
    let clamp = |v: i64| v.clamp(0, i64::from(i32::MAX)) as i32;
    let limit = s.p(Bind::Val(sql::Val::Int(Some(clamp(page.limit)))));
    let offset = s.p(Bind::Val(sql::Val::Int(Some(clamp(page.offset)))));
    let q = format!(
        "SELECT json_build_object(
             'count', (SELECT count(*) FROM crm_email e WHERE {w}),
             'results', coalesce((SELECT json_agg(x.o ORDER BY x.created_at{dir}, x.id{dir}) FROM (
                 SELECT {OBJ} AS o, e.created_at, e.id FROM crm_email e
                 LEFT JOIN users u ON u.id = e.created_by_id
                 WHERE {w} ORDER BY e.created_at{dir}, e.id{dir} LIMIT {limit} OFFSET {offset}) x), '[]'::json))::text"
    );
    Ok(sql::scalar(q, s.binds).fetch_one(&mut **tx).await?)
}

/// What a handler needs to know of an e-mail before acting on it.
#[derive(sqlx::FromRow)]
pub struct Current {
    pub record_type: String,
    pub record_id: Uuid,
    pub thread_id: Uuid,
    pub status: String,
    pub created_by_id: Option<Uuid>,
    pub obj: String,
}

pub async fn current(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Option<Current>, ApiError> {
    let q = format!(
        "SELECT e.record_type::text, e.record_id, e.thread_id, e.status::text, e.created_by_id, {OBJ}::text AS obj
         FROM crm_email e LEFT JOIN users u ON u.id = e.created_by_id
         WHERE e.id = $1 AND e.org_id = $2 FOR UPDATE OF e"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(id)
        .bind(org)
        .fetch_optional(&mut **tx)
        .await?)
}

/// A new or edited e-mail, validated and checked.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub record_type: String,
    pub record_id: Uuid,
    pub from_email: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub template: Option<Uuid>,
    pub in_reply_to: Option<Uuid>,
    pub scheduled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Fixed placeholders (None: the record's at send time).
    pub context: Option<Value>,
    pub account_email_log_id: Option<Uuid>,
}

/// Inserts (or, with `existing`, rewrites a draft) with `status`; returns the id.
pub async fn save(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    existing: Option<Uuid>,
    d: &Draft,
    thread: Option<Uuid>,
    status: &str,
) -> Result<Uuid, ApiError> {
    let id = existing.unwrap_or_else(Uuid::new_v4);
    sqlx::query(
        "INSERT INTO crm_email (id, org_id, record_type, record_id, thread_id, in_reply_to_id, from_email,
                                to_addrs, cc_addrs, bcc_addrs, subject, body, template_id, status,
                                scheduled_at, context, account_email_log_id, created_by_id)
         VALUES ($1, $2, $3, $4, coalesce($5, $1), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (id) DO UPDATE SET record_type = EXCLUDED.record_type, record_id = EXCLUDED.record_id,
             thread_id = EXCLUDED.thread_id, in_reply_to_id = EXCLUDED.in_reply_to_id,
             from_email = EXCLUDED.from_email, to_addrs = EXCLUDED.to_addrs, cc_addrs = EXCLUDED.cc_addrs,
             bcc_addrs = EXCLUDED.bcc_addrs, subject = EXCLUDED.subject, body = EXCLUDED.body,
             template_id = EXCLUDED.template_id, status = EXCLUDED.status,
             scheduled_at = EXCLUDED.scheduled_at, updated_at = now()",
    )
    .bind(id)
    .bind(org)
    .bind(&d.record_type)
    .bind(d.record_id)
    .bind(thread)
    .bind(d.in_reply_to)
    .bind(&d.from_email)
    .bind(&d.to)
    .bind(&d.cc)
    .bind(&d.bcc)
    .bind(&d.subject)
    .bind(&d.body)
    .bind(d.template)
    .bind(status)
    .bind(d.scheduled_at)
    .bind(&d.context)
    .bind(d.account_email_log_id)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// The thread an e-mail answering `parent` joins (None: `parent` is not an e-mail of this
/// record in the org).
pub async fn thread_of(
    tx: &mut Tx,
    org: Uuid,
    parent: Uuid,
    record_type: &str,
    record_id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT thread_id FROM crm_email
         WHERE id = $1 AND org_id = $2 AND record_type = $3 AND record_id = $4 AND status <> 'draft'",
    )
    .bind(parent)
    .bind(org)
    .bind(record_type)
    .bind(record_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A template the caller may use: `(subject, body)` of a shared one or one of their own.
pub async fn usable_template(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    id: Uuid,
) -> Result<Option<(String, String)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT subject, body FROM crm_email_template
         WHERE id = $1 AND org_id = $2 AND (is_shared OR created_by_id = $3)",
    )
    .bind(id)
    .bind(org)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Queues each recipient of account e-mail `email_id` (its `emailLogs` rows) as a history row
/// of the account, with the contact's fields as placeholders; the account e-mail's job sends
/// them (`send::account_log`).
pub async fn queue_account_mail(
    tx: &mut Tx,
    org: Uuid,
    user: Uuid,
    account: Uuid,
    email_id: Uuid,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO crm_email (id, org_id, record_type, record_id, thread_id, from_email, to_addrs,
                                subject, body, status, scheduled_at, context, account_email_log_id,
                                created_by_id)
         SELECT g.id, $2, 'account', $3, g.id, m.from_email, ARRAY[c.email::text],
                coalesce(m.message_subject, ''), coalesce(m.message_body, ''), 'queued', $5,
                jsonb_build_object('first_name', c.first_name, 'last_name', c.last_name,
                    'name', concat_ws(' ', c.first_name, c.last_name), 'email', c.email, 'phone', c.phone,
                    'organization', c.organization, 'company', c.organization, 'title', c.title),
                l.id, $4
         FROM account_email m
         JOIN \"emailLogs\" l ON l.email_id = m.id
         JOIN contacts c ON c.id = l.contact_id
         CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id) g
         WHERE m.id = $1 AND coalesce(c.email, '') <> ''",
    )
    .bind(email_id)
    .bind(org)
    .bind(account)
    .bind(user)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
