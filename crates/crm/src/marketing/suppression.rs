//! `/api/marketing/suppressions/`: addresses and domains no e-mail of the org goes to
//! (unsubscribed, bounced, blocked). Every send reads them (`emails::model::deliverable`).
//! Admins manage them; lower-cased on the way in.

use axum::Json;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::email::is_valid_email;
use crate::db::Tenant;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::http::body::JsonBody;
use crate::http::fields::invalid;
use crate::http::pagination::Page;
use crate::http::parse_id;
use crate::http::query::RawQuery;

const REASONS: &[&str] = &["unsubscribed", "bounced", "blocked"];

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionObj {
    pub id: Uuid,
    /// `address` or `domain`.
    pub kind: String,
    pub value: String,
    /// `unsubscribed`, `bounced` or `blocked`.
    pub reason: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionListResponse {
    pub count: i64,
    pub results: Vec<SuppressionObj>,
}

/// Body of `POST /api/marketing/suppressions/`: an `address` or a `domain`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct SuppressionBody {
    pub address: Option<String>,
    pub domain: Option<String>,
    /// Default `blocked`.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionSaved {
    pub error: bool,
    pub message: String,
    pub id: Uuid,
}

/// A host name: labels of letters, digits and hyphens, at least one dot.
fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The org's suppressions, newest first; `kind`, `reason` and `search` (contains) filter.
#[utoipa::path(get, path = "/api/marketing/suppressions/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("kind" = Option<String>, Query), ("reason" = Option<String>, Query), ("search" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = SuppressionListResponse), (status = 400), (status = 403)))]
pub async fn list(mut t: Tenant, q: RawQuery, page: Page) -> ApiResult<Response> {
    t.require_admin()?;
    let get = |k: &str| q.get(k).map(str::trim).filter(|s| !s.is_empty());
    let kind = get("kind");
    if let Some(k) = kind.filter(|k| !["address", "domain"].contains(k)) {
        return Err(ApiError::field(
            "kind",
            format!("\"{k}\" is not a valid choice."),
        ));
    }
    let reason = get("reason");
    if let Some(r) = reason.filter(|r| !REASONS.contains(r)) {
        return Err(ApiError::field(
            "reason",
            format!("\"{r}\" is not a valid choice."),
        ));
    }
    let search = get("search").map(|s| s.to_lowercase());
    let w = "s.org_id = $1 AND ($2::text IS NULL OR s.kind = $2) AND ($3::text IS NULL OR s.reason = $3)
             AND ($4::text IS NULL OR strpos(s.value, $4) > 0)";
    let sql = format!(
        "SELECT json_build_object('count', (SELECT count(*) FROM email_suppression s WHERE {w}),
             'results', coalesce((SELECT json_agg(x.o ORDER BY x.created_at DESC, x.id DESC) FROM (
                 SELECT json_build_object('id', s.id, 'kind', s.kind, 'value', s.value, 'reason', s.reason,
                                          'created_at', s.created_at) AS o, s.created_at, s.id
                 FROM email_suppression s WHERE {w}
                 ORDER BY s.created_at DESC, s.id DESC LIMIT $5 OFFSET $6) x), '[]'::json))::text"
    );
    let body: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(t.org_id)
        .bind(kind)
        .bind(reason)
        .bind(search)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_one(&mut *t.tx)
        .await?;
    t.commit().await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Suppresses an address or a domain (admins). One already there is a 400.
#[utoipa::path(post, path = "/api/marketing/suppressions/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    request_body = SuppressionBody,
    responses((status = 200, body = SuppressionSaved), (status = 400), (status = 403)))]
pub async fn create(mut t: Tenant, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    t.require_admin()?;
    let mut errors = FieldErrors::new();
    let text = |k: &str| match body.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_lowercase())),
        Some(_) => Err(()),
    };
    let (address, domain, reason) = (text("address"), text("domain"), text("reason"));
    for (k, v) in [
        ("address", &address),
        ("domain", &domain),
        ("reason", &reason),
    ] {
        if v.is_err() {
            errors.add(k, "Not a valid string.");
        }
    }
    let reason = reason.ok().flatten().unwrap_or_else(|| "blocked".into());
    if !REASONS.contains(&reason.as_str()) {
        errors.add("reason", format!("\"{reason}\" is not a valid choice."));
    }
    let (kind, value) = match (address.ok().flatten(), domain.ok().flatten()) {
        (Some(a), None) if is_valid_email(&a) && a.len() <= 254 => ("address", a),
        (Some(_), None) => {
            errors.add("address", "Enter a valid email address.");
            ("address", String::new())
        }
        (None, Some(d)) if valid_domain(d.trim_start_matches('@')) => {
            ("domain", d.trim_start_matches('@').to_string())
        }
        (None, Some(_)) => {
            errors.add("domain", "Enter a valid domain, e.g. example.com.");
            ("domain", String::new())
        }
        _ if errors.has("address") || errors.has("domain") => ("address", String::new()),
        _ => {
            errors.add("address", "Give either an address or a domain.");
            ("address", String::new())
        }
    };
    if errors.is_empty() {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM email_suppression WHERE org_id = $1 AND kind = $2 AND value = $3)",
        )
        .bind(t.org_id)
        .bind(kind)
        .bind(&value)
        .fetch_one(&mut *t.tx)
        .await?;
        if taken {
            errors.add(
                if kind == "address" {
                    "address"
                } else {
                    "domain"
                },
                "Already suppressed.",
            );
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO email_suppression (id, org_id, kind, value, reason, created_by_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(t.org_id)
    .bind(kind)
    .bind(&value)
    .bind(&reason)
    .bind(t.user_id)
    .execute(&mut *t.tx)
    .await?;
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Suppressed", "id": id}),
    ))
}

/// Lifts a suppression (admins): e-mails go to it again.
#[utoipa::path(delete, path = "/api/marketing/suppressions/{id}/", tag = "marketing", security(("jwt" = []), ("api_key" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = super::forms::MarketingMessage), (status = 403), (status = 404)))]
pub async fn delete(mut t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    t.require_admin()?;
    let r = sqlx::query("DELETE FROM email_suppression WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(t.org_id)
        .execute(&mut *t.tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    t.commit().await?;
    Ok(Json(
        json!({"error": false, "message": "Suppression lifted"}),
    ))
}
