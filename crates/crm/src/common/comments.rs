//! Comments on any CRM record, mounted once for every module in `TARGETS`:
//! `GET/POST /api/<module>/comment/<record id>/` list and add; `PUT/PATCH/DELETE
//! /api/<module>/comment/<comment id>/` edit and delete (author or admin). Rows live in upstream's
//! generic `comment` table (django_content_type + object_id). Attachments share the registry
//! (`attachments.rs`). `@email` of an org member in a comment e-mails them (`mention` job).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Action};
use super::attachments;
use crate::db::Tenant;
use crate::db::tenant::Tx;
use crate::error::{ApiError, ApiResult};
use crate::http::body::JsonBody;
use crate::http::pagination::{MAX_LIMIT, Page};
use crate::http::parse_id;
use crate::jobs::{self, Job};
use crate::mail;
use crate::state::AppState;

/// A kind of record comments and attachments can be attached to, and who may see one.
#[derive(Debug)]
pub struct Target {
    /// URL segment: `/api/<segment>/comment/...`.
    pub segment: &'static str,
    /// SQL table (quoted when it is a keyword).
    pub table: &'static str,
    /// The `django_content_type` row that names this model in the generic tables.
    pub app_label: &'static str,
    pub model: &'static str,
    /// `activity.entity_type`.
    pub entity_type: &'static str,
    /// Display name, an SQL expression over the alias `e`.
    pub name_sql: &'static str,
    /// Join tables of direct assignees and teams, with this record's column in them.
    pub assigned_table: &'static str,
    pub teams_table: &'static str,
    pub fk: &'static str,
}

pub const LEADS: Target = Target {
    segment: "leads",
    table: "lead",
    app_label: "leads",
    model: "lead",
    entity_type: "Lead",
    name_sql: "e.title",
    assigned_table: "lead_assigned_to",
    teams_table: "lead_teams",
    fk: "lead_id",
};
pub const ACCOUNTS: Target = Target {
    segment: "accounts",
    table: "accounts",
    app_label: "accounts",
    model: "account",
    entity_type: "Account",
    name_sql: "e.name",
    assigned_table: "accounts_assigned_to",
    teams_table: "accounts_teams",
    fk: "account_id",
};
pub const CONTACTS: Target = Target {
    segment: "contacts",
    table: "contacts",
    app_label: "contacts",
    model: "contact",
    entity_type: "Contact",
    name_sql: "trim(e.first_name || ' ' || e.last_name)",
    assigned_table: "contacts_assigned_to",
    teams_table: "contacts_teams",
    fk: "contact_id",
};
pub const OPPORTUNITIES: Target = Target {
    segment: "opportunities",
    table: "opportunity",
    app_label: "opportunity",
    model: "opportunity",
    entity_type: "Opportunity",
    name_sql: "e.name",
    assigned_table: "opportunity_assigned_to",
    teams_table: "opportunity_teams",
    fk: "opportunity_id",
};
pub const CASES: Target = Target {
    segment: "cases",
    table: "\"case\"",
    app_label: "cases",
    model: "case",
    entity_type: "Case",
    name_sql: "e.name",
    assigned_table: "case_assigned_to",
    teams_table: "case_teams",
    fk: "case_id",
};
pub const TASKS: Target = Target {
    segment: "tasks",
    table: "task",
    app_label: "tasks",
    model: "task",
    entity_type: "Task",
    name_sql: "e.title",
    assigned_table: "task_assigned_to",
    teams_table: "task_teams",
    fk: "task_id",
};

pub const EVENTS: Target = Target {
    segment: "events",
    table: "event",
    app_label: "events",
    model: "event",
    entity_type: "Event",
    name_sql: "e.name",
    assigned_table: "event_assigned_to",
    teams_table: "event_teams",
    fk: "event_id",
};

/// Invoices keep upstream's own URLs (`/api/invoices/<id>/comments/`, `.../attachments/`), so
/// they are not in `TARGETS`; their handlers call `add_comment`, `attachments::attach`,
/// `comments_of` with this entry.
pub const INVOICES: Target = Target {
    segment: "invoices",
    table: "invoice",
    app_label: "invoices",
    model: "invoice",
    entity_type: "Invoice",
    name_sql: "e.invoice_title",
    assigned_table: "invoice_assigned_to",
    teams_table: "invoice_teams",
    fk: "invoice_id",
};

/// Every module that mounts comments and attachments.
pub const TARGETS: &[&Target] = &[
    &LEADS,
    &ACCOUNTS,
    &CONTACTS,
    &OPPORTUNITIES,
    &CASES,
    &TASKS,
    &EVENTS,
];

impl Target {
    /// How many rows of `table` (`comment` or `attachments`) hang on record `object_id`.
    pub async fn count_rows(
        &self,
        tx: &mut Tx,
        table: &'static str,
        org_id: Uuid,
        object_id: Uuid,
    ) -> Result<i64, sqlx::Error> {
        let sql = format!(
            "SELECT count(*) FROM {table} x JOIN django_content_type ct ON ct.id = x.content_type_id
             WHERE x.org_id = $1 AND x.object_id = $2 AND ct.app_label = $3 AND ct.model = $4"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(object_id)
            .bind(self.app_label)
            .bind(self.model)
            .fetch_one(&mut **tx)
            .await
    }

    /// The record's display name when it is in the caller's org and the caller may see it:
    /// admins see everything; others what they created, are assigned to, or share a team with.
    /// Anything else is a 404 (whether it exists elsewhere or not).
    pub async fn visible(&self, t: &mut Tenant, id: Uuid) -> Result<String, ApiError> {
        let sql = self.visible_sql();
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(t.org_id)
            .bind(t.is_admin())
            .bind(t.user_id)
            .bind(t.profile_id)
            .fetch_optional(&mut *t.tx)
            .await?;
        row.map(|r| r.0).ok_or_else(ApiError::not_found)
    }

    /// The query behind `visible`: $1 record, $2 org, $3 caller is admin, $4 user, $5 profile.
    pub fn visible_sql(&self) -> String {
        format!(
            "SELECT COALESCE({name}, '')::text FROM {table} e
             WHERE e.id = $1 AND e.org_id = $2 AND {cond}",
            name = self.name_sql,
            table = self.table,
            cond = self.visible_cond("e", "$3", "$4", "$5"),
        )
    }

    /// Who may see a record (table alias `e`): an admin (`admin`), its creator (`user`), an
    /// assignee (`profile`) or a member of one of its teams. Placeholders are the caller's.
    pub fn visible_cond(&self, e: &str, admin: &str, user: &str, profile: &str) -> String {
        format!(
            "({admin} OR {e}.created_by_id = {user}
              OR EXISTS (SELECT 1 FROM {assigned} va WHERE va.{fk} = {e}.id AND va.profile_id = {profile})
              OR EXISTS (SELECT 1 FROM {teams} vx JOIN teams_users vtu ON vtu.teams_id = vx.teams_id
                         WHERE vx.{fk} = {e}.id AND vtu.profile_id = {profile}))",
            assigned = self.assigned_table,
            teams = self.teams_table,
            fk = self.fk,
        )
    }

    /// The ids of the records `user`/`profile` may see (not an admin), as `SELECT` of one
    /// column: created, assigned, or through a team. Cost follows their share, not the org's.
    pub fn visible_ids_sql(&self, org: &str, user: &str, profile: &str) -> String {
        format!(
            "SELECT id FROM {table} WHERE org_id = {org} AND created_by_id = {user}
             UNION SELECT {fk} FROM {assigned} WHERE profile_id = {profile}
             UNION SELECT x.{fk} FROM {teams} x JOIN teams_users tu ON tu.teams_id = x.teams_id
                   WHERE tu.profile_id = {profile}",
            table = self.table,
            assigned = self.assigned_table,
            teams = self.teams_table,
            fk = self.fk,
        )
    }

    /// A data-modifying CTE (ending with a comma) that runs with every new comment on a record of
    /// this module, in the comment's INSERT statement (`$2` record, `$6` org): a case's first
    /// comment by a member is its first response (SLA).
    pub fn on_comment_sql(&self) -> &'static str {
        match self.segment {
            "cases" => {
                "stamp AS (UPDATE \"case\" SET first_response_at = now()
                           WHERE id = $2 AND org_id = $6 AND first_response_at IS NULL),"
            }
            _ => "",
        }
    }

    /// The record's comments and attachments (CommentObj and AttachmentObj, newest first, up to
    /// the page cap) as two JSON-array SQL expressions, for a detail statement that renders
    /// everything at once (`comments_and_attachments` costs two more statements). `org`, `id`
    /// and `base` (the API's base URL, `http::base_url::current`) are placeholders.
    pub fn detail_json_sql(&self, org: &str, id: &str, base: &str) -> (String, String) {
        let rows = |table: &str| {
            format!(
                "(SELECT x.*, ct.model FROM {table} x JOIN django_content_type ct ON ct.id = x.content_type_id
                  WHERE x.org_id = {org} AND x.object_id = {id} AND ct.app_label = '{app}' AND ct.model = '{model}'
                  ORDER BY x.created_at DESC, x.id LIMIT {MAX_LIMIT})",
                app = self.app_label,
                model = self.model,
            )
        };
        (
            format!(
                "(SELECT coalesce(json_agg(json_build_object('id', x.id, 'comment', x.comment,
                     'commented_on', crm_ts(x.commented_on), 'commented_by', x.commented_by_id,
                     'content_type', x.model, 'object_id', x.object_id, 'org', x.org_id,
                     'created_at', crm_ts(x.created_at)) ORDER BY x.created_at DESC, x.id), '[]')
                  FROM {} x)",
                rows("comment")
            ),
            format!(
                "(SELECT coalesce(json_agg(json_build_object('id', x.id, 'created_by', x.created_by_id,
                     'file_name', x.file_name, 'created_at', crm_ts(x.created_at),
                     'file_path', {base} || '/api/{segment}/attachment/' || x.id || '/download/',
                     'content_type', x.model, 'object_id', x.object_id, 'org', x.org_id)
                     ORDER BY x.created_at DESC, x.id), '[]')
                  FROM {} x)",
                rows("attachments"),
                segment = self.segment,
            ),
        )
    }

    /// The web app's page that shows record `id`, for links in e-mails. The frontend has no
    /// detail pages for these modules: leads, accounts and contacts open the record's drawer
    /// from `?view=<id>` on their list page; opportunities, cases and tasks have only the list;
    /// invoices have `/invoices/<id>`.
    pub fn page_path(&self, id: Uuid) -> String {
        match self.segment {
            "leads" | "accounts" | "contacts" => format!("/{}?view={id}", self.segment),
            "invoices" => format!("/invoices/{id}"),
            other => format!("/{other}"),
        }
    }

    /// This model's `django_content_type` id, inserting the row when missing (a database that
    /// Django never migrated, or a model it does not know).
    pub async fn content_type_id(&self, tx: &mut Tx) -> Result<i32, ApiError> {
        content_type_id(tx, self.app_label, self.model).await
    }
}

pub async fn content_type_id(tx: &mut Tx, app_label: &str, model: &str) -> Result<i32, ApiError> {
    let select = "SELECT id FROM django_content_type WHERE app_label = $1 AND model = $2";
    if let Some((id,)) = sqlx::query_as(select)
        .bind(app_label)
        .bind(model)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(id);
    }
    sqlx::query("INSERT INTO django_content_type (app_label, model) VALUES ($1, $2) ON CONFLICT (app_label, model) DO NOTHING")
        .bind(app_label)
        .bind(model)
        .execute(&mut **tx)
        .await?;
    let (id,): (i32,) = sqlx::query_as(select)
        .bind(app_label)
        .bind(model)
        .fetch_one(&mut **tx)
        .await?;
    Ok(id)
}

/// Upstream's CommentSerializer, plus `created_at`.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct CommentObj {
    pub id: Uuid,
    pub comment: String,
    pub commented_on: DateTime<Utc>,
    /// Profile id of the author.
    pub commented_by: Option<Uuid>,
    /// Model name, e.g. `lead`.
    pub content_type: String,
    pub object_id: Uuid,
    pub org: Uuid,
    pub created_at: DateTime<Utc>,
}

const COMMENT_COLUMNS: &str =
    "c.id, c.comment, c.commented_on, c.commented_by_id AS commented_by, ct.model AS content_type,
    c.object_id, c.org_id AS org, c.created_at";

/// Comments of one record, newest first (for the modules' detail responses).
pub async fn comments_of(
    tx: &mut Tx,
    org_id: Uuid,
    target: &Target,
    object_id: Uuid,
    page: Page,
) -> Result<Vec<CommentObj>, ApiError> {
    let sql = format!(
        "SELECT {COMMENT_COLUMNS} FROM comment c JOIN django_content_type ct ON ct.id = c.content_type_id
         WHERE c.org_id = $1 AND c.object_id = $2 AND ct.app_label = $3 AND ct.model = $4
         ORDER BY c.created_at DESC, c.id LIMIT $5 OFFSET $6"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(object_id)
        .bind(target.app_label)
        .bind(target.model)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut **tx)
        .await?)
}

/// `{"error": true, "errors": ...}`, the envelope upstream's comment views answer with.
pub fn envelope(status: StatusCode, errors: Value) -> ApiError {
    ApiError::new(status, json!({"error": true, "errors": errors}))
}

fn no_permission() -> ApiError {
    envelope(
        StatusCode::FORBIDDEN,
        json!("You don't have permission to perform this action"),
    )
}

/// The comment text: present, not blank, at most 255 characters.
fn comment_text(body: &Map<String, Value>, required: bool) -> Result<Option<String>, ApiError> {
    let err = |m: &str| envelope(StatusCode::BAD_REQUEST, json!({"comment": [m]}));
    match body.get("comment") {
        None if required => Err(err("This field is required.")),
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err(err("This field may not be blank.")),
        Some(Value::String(s)) if s.chars().count() > 255 => {
            Err(err("Ensure this field has no more than 255 characters."))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Err(err("This field may not be null.")),
        Some(_) => Err(err("Not a valid string.")),
    }
}

/// Adds a comment to a record the caller may see, e-mailing any org member it @mentions.
/// Used by the comment endpoint and by the modules' detail POST forms.
pub async fn add_comment(
    t: &mut Tenant,
    target: &Target,
    object_id: Uuid,
    text: &str,
) -> Result<CommentObj, ApiError> {
    let name = target.visible(t, object_id).await?;
    insert_comment(t, target, object_id, &name, text).await
}

/// `add_comment` for a record already checked with `visible` (which gave `name`).
async fn insert_comment(
    t: &mut Tenant,
    target: &Target,
    object_id: Uuid,
    name: &str,
    text: &str,
) -> Result<CommentObj, ApiError> {
    let ct = target.content_type_id(&mut t.tx).await?;
    let id = Uuid::new_v4();
    let sql = format!(
        "WITH {hook} ins AS (INSERT INTO comment (created_at, updated_at, id, object_id, comment, commented_on,
                              content_type_id, created_by_id, updated_by_id, org_id, commented_by_id)
         VALUES (now(), now(), $1, $2, $3, now(), $4, $5, $5, $6, $7) RETURNING created_at)
         SELECT created_at FROM ins",
        hook = target.on_comment_sql(),
    );
    let (now,): (DateTime<Utc>,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(object_id)
        .bind(text)
        .bind(ct)
        .bind(t.user_id)
        .bind(t.org_id)
        .bind(t.profile_id)
        .fetch_one(&mut *t.tx)
        .await?;
    activity::record(t, Action::Comment, target.entity_type, object_id, name).await?;
    notify_mentions(t, target, object_id, name, text, &[]).await?;
    Ok(CommentObj {
        id,
        comment: text.to_string(),
        commented_on: now,
        commented_by: Some(t.profile_id),
        content_type: target.model.to_string(),
        object_id,
        org: t.org_id,
        created_at: now,
    })
}

async fn load_comment(t: &mut Tenant, target: &Target, id: Uuid) -> Result<CommentObj, ApiError> {
    let sql = format!(
        "SELECT {COMMENT_COLUMNS} FROM comment c JOIN django_content_type ct ON ct.id = c.content_type_id
         WHERE c.id = $1 AND c.org_id = $2 AND ct.app_label = $3 AND ct.model = $4"
    );
    let row: Option<CommentObj> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(t.org_id)
        .bind(target.app_label)
        .bind(target.model)
        .fetch_optional(&mut *t.tx)
        .await?;
    row.ok_or_else(ApiError::not_found)
}

/// Lower-cased e-mail addresses written as `@user@example.com` in a comment.
pub fn mentioned_emails(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && prev.is_none_or(|p| p.is_whitespace() || "([{<,;:'\"".contains(p));
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest
            .find(|ch: char| ch.is_whitespace() || ",;:!?()[]{}<>'\"".contains(ch))
            .unwrap_or(rest.len());
        let candidate = rest[..end].trim_end_matches('.').to_lowercase();
        if candidate.contains('@') && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// Enqueues a `mention` e-mail for each active org member named in `text` and not in `already`
/// (the previous text of an edited comment), except the author.
async fn notify_mentions(
    t: &mut Tenant,
    target: &Target,
    object_id: Uuid,
    name: &str,
    text: &str,
    already: &[String],
) -> Result<(), ApiError> {
    let emails: Vec<String> = mentioned_emails(text)
        .into_iter()
        .filter(|e| !already.contains(e))
        .collect();
    if emails.is_empty() {
        return Ok(());
    }
    let members: Vec<(String,)> = sqlx::query_as(
        "SELECT u.email FROM profile p JOIN users u ON u.id = p.user_id
         WHERE p.org_id = $1 AND p.is_active AND u.is_active AND lower(u.email) = ANY($2) AND u.id <> $3",
    )
    .bind(t.org_id)
    .bind(&emails)
    .bind(t.user_id)
    .fetch_all(&mut *t.tx)
    .await?;
    let path = target.page_path(object_id);
    for (to,) in members {
        let context =
            mail::templates::context::mention(target.entity_type, name, &path, &t.email, text);
        jobs::enqueue(
            &mut t.tx,
            Some(t.org_id),
            Job::Email {
                template: "mention".into(),
                to,
                context,
            },
        )
        .await?;
    }
    Ok(())
}

/// Body of a comment's POST, PUT and PATCH (JSON or form). `@member@example.com` e-mails them.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct CommentBody {
    /// 1 to 255 characters; optional in PATCH.
    #[schema(example = "Call back @ann@example.com")]
    pub comment: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    pub comments_count: i64,
    pub comments: Vec<CommentObj>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentCreated {
    pub error: bool,
    pub message: String,
    pub comment: CommentObj,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub error: bool,
    pub message: String,
}

impl Message {
    pub fn ok(message: &str) -> Json<Message> {
        Json(Message {
            error: false,
            message: message.into(),
        })
    }
}

/// Comments of a record the caller may see, newest first (`limit`/`offset`).
#[utoipa::path(get, path = "/api/{module}/comment/{pk}/", tag = "comments", operation_id = "comments_list",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Record id"),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = CommentList), (status = 404)))]
pub async fn list(
    target: &'static Target,
    mut t: Tenant,
    pk: String,
    page: Page,
) -> ApiResult<Json<CommentList>> {
    let id = parse_id(&pk)?;
    target.visible(&mut t, id).await?;
    let count = target
        .count_rows(&mut t.tx, "comment", t.org_id, id)
        .await?;
    let comments = comments_of(&mut t.tx, t.org_id, target, id, page).await?;
    t.commit().await?;
    Ok(Json(CommentList {
        comments_count: count,
        comments,
    }))
}

/// Adds a comment (`{"comment": "..."}`, JSON or form) to a record the caller may see.
#[utoipa::path(post, path = "/api/{module}/comment/{pk}/", tag = "comments", operation_id = "comments_create",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Record id")),
    request_body = CommentBody,
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 201, body = CommentCreated),
              (status = 400, description = "`{\"error\": true, \"errors\": {\"comment\": [...]}}`"),
              (status = 404)))]
pub async fn create(
    target: &'static Target,
    mut t: Tenant,
    pk: String,
    body: Map<String, Value>,
) -> ApiResult<(StatusCode, Json<CommentCreated>)> {
    let id = parse_id(&pk)?;
    let text = comment_text(&body, true)?.unwrap_or_default();
    let comment = add_comment(&mut t, target, id, &text).await?;
    t.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CommentCreated {
            error: false,
            message: "Comment Submitted".into(),
            comment,
        }),
    ))
}

/// A comment of this module in the caller's org that the caller may change (author or admin).
async fn editable(
    t: &mut Tenant,
    target: &Target,
    pk: &str,
) -> Result<(Uuid, Uuid, String), ApiError> {
    let id = parse_id(pk)?;
    let c = load_comment(t, target, id).await?;
    if !(t.is_admin() || c.commented_by == Some(t.profile_id)) {
        return Err(no_permission());
    }
    Ok((id, c.object_id, c.comment))
}

/// Edits a comment's text (PUT: `comment` required; PATCH: optional). Only the text changes:
/// author, record and org are not writable.
#[utoipa::path(put, path = "/api/{module}/comment/{pk}/", tag = "comments", operation_id = "comments_update",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Comment id")),
    request_body = CommentBody,
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message, description = "`Comment Submitted`"),
              (status = 400), (status = 403), (status = 404)))]
pub async fn update(
    target: &'static Target,
    mut t: Tenant,
    pk: String,
    body: Map<String, Value>,
    put: bool,
) -> ApiResult<Json<Message>> {
    let (id, object_id, old) = editable(&mut t, target, &pk).await?;
    if let Some(text) = comment_text(&body, put)? {
        sqlx::query(
            "UPDATE comment SET comment = $3, updated_at = now(), updated_by_id = $4 WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(t.org_id)
        .bind(&text)
        .bind(t.user_id)
        .execute(&mut *t.tx)
        .await?;
        let name = entity_name(&mut t, target, object_id).await?;
        notify_mentions(
            &mut t,
            target,
            object_id,
            &name,
            &text,
            &mentioned_emails(&old),
        )
        .await?;
    }
    t.commit().await?;
    Ok(Message::ok(if put {
        "Comment Submitted"
    } else {
        "Comment Updated"
    }))
}

/// PATCH: like PUT with `comment` optional; answers `Comment Updated`.
#[utoipa::path(patch, path = "/api/{module}/comment/{pk}/", tag = "comments", operation_id = "comments_patch",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Comment id")),
    request_body = CommentBody,
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message), (status = 400), (status = 403), (status = 404)))]
pub async fn patch(
    target: &'static Target,
    t: Tenant,
    pk: String,
    body: Map<String, Value>,
) -> ApiResult<Json<Message>> {
    update(target, t, pk, body, false).await
}

/// The record's name without the visibility rule (an author keeps their comments).
async fn entity_name(t: &mut Tenant, target: &Target, id: Uuid) -> Result<String, ApiError> {
    let sql = format!(
        "SELECT COALESCE({}, '')::text FROM {} e WHERE e.id = $1 AND e.org_id = $2",
        target.name_sql, target.table
    );
    let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(t.org_id)
        .fetch_optional(&mut *t.tx)
        .await?;
    Ok(row.map(|r| r.0).unwrap_or_default())
}

#[utoipa::path(delete, path = "/api/{module}/comment/{pk}/", tag = "comments", operation_id = "comments_delete",
    params(("module" = String, Path, description = "leads | accounts | contacts | opportunities | cases | tasks"),
           ("pk" = Uuid, Path, description = "Comment id")),
    security(("jwt" = []), ("api_key" = [])),
    responses((status = 200, body = Message, description = "`Comment Deleted Successfully`"),
              (status = 403), (status = 404)))]
pub async fn delete(
    target: &'static Target,
    mut t: Tenant,
    pk: String,
) -> ApiResult<Json<Message>> {
    let (id, _, _) = editable(&mut t, target, &pk).await?;
    sqlx::query("DELETE FROM comment WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok(Message::ok("Comment Deleted Successfully"))
}

/// Removes a record's comments and attachment rows (the generic tables have no foreign key to
/// cascade). Returns the storage keys to delete once the transaction has committed.
pub async fn delete_all_for(
    tx: &mut Tx,
    org_id: Uuid,
    target: &Target,
    object_id: Uuid,
) -> Result<Vec<String>, ApiError> {
    let ct = target.content_type_id(tx).await?;
    sqlx::query(
        "DELETE FROM comment WHERE org_id = $1 AND content_type_id = $2 AND object_id = $3",
    )
    .bind(org_id)
    .bind(ct)
    .bind(object_id)
    .execute(&mut **tx)
    .await?;
    let keys: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM attachments WHERE org_id = $1 AND content_type_id = $2 AND object_id = $3 RETURNING attachment",
    )
    .bind(org_id)
    .bind(ct)
    .bind(object_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(keys.into_iter().map(|k| k.0).collect())
}

/// The end of a module's DELETE, once its row, links, comments and attachment rows are gone
/// (`files`: from `delete_all_for`): records the activity under the record's `name`, commits,
/// then deletes the stored files.
pub async fn finish_delete(
    state: &AppState,
    mut t: Tenant,
    target: &Target,
    id: Uuid,
    name: &str,
    files: Vec<String>,
) -> Result<(), ApiError> {
    activity::record(&mut t, Action::Delete, target.entity_type, id, name).await?;
    t.commit().await?;
    for key in &files {
        state.storage.delete(key).await;
    }
    Ok(())
}

/// Everything a detail view shows under a record: its comments and attachments (all of them,
/// up to the page cap).
pub async fn comments_and_attachments(
    state: &AppState,
    tx: &mut Tx,
    org_id: Uuid,
    target: &Target,
    object_id: Uuid,
) -> Result<(Vec<CommentObj>, Vec<attachments::AttachmentObj>), ApiError> {
    let all = Page {
        limit: MAX_LIMIT,
        offset: 0,
    };
    let comments = comments_of(tx, org_id, target, object_id, all).await?;
    let files = attachments::attachments_of(state, tx, org_id, target, object_id, all).await?;
    Ok((comments, files))
}

/// The routes of every target: comments, attachments and attachment downloads.
/// Plus the attachment download route of invoices (whose other routes are their own).
pub fn routes() -> Router<AppState> {
    TARGETS
        .iter()
        .fold(Router::new(), |r, target| r.merge(target_routes(target)))
        .route(
            "/api/invoices/attachment/{pk}/download/",
            download_route(&INVOICES),
        )
}

fn download_route(tg: &'static Target) -> axum::routing::MethodRouter<AppState> {
    get(
        move |State(s): State<AppState>, t: Tenant, Path(pk): Path<String>| {
            attachments::download(tg, s, t, pk)
        },
    )
}

fn target_routes(tg: &'static Target) -> Router<AppState> {
    let comment = get(move |t: Tenant, Path(pk): Path<String>, page: Page| list(tg, t, pk, page))
        .post(move |t: Tenant, Path(pk): Path<String>, JsonBody(b): JsonBody| create(tg, t, pk, b))
        .put(
            move |t: Tenant, Path(pk): Path<String>, JsonBody(b): JsonBody| {
                update(tg, t, pk, b, true)
            },
        )
        .patch(move |t: Tenant, Path(pk): Path<String>, JsonBody(b): JsonBody| patch(tg, t, pk, b))
        .delete(move |t: Tenant, Path(pk): Path<String>| delete(tg, t, pk));
    let attachment = attachments::method_router(tg);
    let download = download_route(tg);
    Router::new()
        .route(&format!("/api/{}/comment/{{pk}}/", tg.segment), comment)
        .route(
            &format!("/api/{}/attachment/{{pk}}/", tg.segment),
            attachment,
        )
        .route(
            &format!("/api/{}/attachment/{{pk}}/download/", tg.segment),
            download,
        )
}

/// Handles upstream's detail form `POST /api/<module>/<pk>/`: a `comment` and/or a file in
/// `<model>_attachment` (or `attachment`). For the modules' detail handlers.
pub async fn detail_post(
    state: &AppState,
    t: &mut Tenant,
    target: &Target,
    object_id: Uuid,
    mut form: crate::storage::FormData,
) -> Result<(), ApiError> {
    let name = target.visible(t, object_id).await?;
    if form.fields.contains_key("comment") {
        let text = comment_text(&form.fields, true)?.unwrap_or_default();
        insert_comment(t, target, object_id, &name, &text).await?;
    }
    let field = format!("{}_attachment", target.model);
    if let Some(file) = form.take_file(&[field.as_str(), "attachment"]) {
        attachments::attach(state, t, target, object_id, file).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mentions() {
        assert_eq!(
            mentioned_emails("Hi @Ann@Example.com, see @bob@x.io. Mail me@x.io or @nobody"),
            vec!["ann@example.com", "bob@x.io"]
        );
        assert_eq!(mentioned_emails("(@a@b.c) @a@b.c"), vec!["a@b.c"]);
        assert!(mentioned_emails("no mentions here").is_empty());
    }
}
