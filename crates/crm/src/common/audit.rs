//! The security audit log (`security_audit_log`): one helper that writes a row (through the
//! `crm_audit_write` SECURITY DEFINER function, see migration 0010 and docs/decisions.md) and the
//! matching `bottlecrm::security` log line, plus `GET /api/audit-log/` for org admins.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::tenant::{self, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::Page;
use crate::http::query::RawQuery;
use crate::state::AppState;

/// Who asked, from where: stored with every audit row.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub ip: Option<String>,
    pub user_agent: String,
    pub path: String,
    pub method: String,
}

impl RequestInfo {
    pub fn from_parts(parts: &Parts, trust_proxy: bool) -> Self {
        RequestInfo {
            ip: crate::auth::client_ip(parts, trust_proxy),
            user_agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(500)
                .collect(),
            path: parts.uri.path().chars().take(500).collect(),
            method: parts.method.as_str().to_string(),
        }
    }
}

impl FromRequestParts<AppState> for RequestInfo {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestInfo::from_parts(parts, state.cfg.trust_proxy))
    }
}

/// One audit event. `org_id` must be the transaction's org context, or None.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: &'static str,
    pub user_id: Option<Uuid>,
    pub org_id: Option<Uuid>,
    pub description: String,
    pub metadata: Value,
    pub success: bool,
}

impl Event {
    pub fn new(event_type: &'static str, user_id: Option<Uuid>, org_id: Option<Uuid>) -> Self {
        Event {
            event_type,
            user_id,
            org_id,
            description: String::new(),
            metadata: json!({}),
            success: true,
        }
    }
    pub fn describe(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
    pub fn meta(mut self, m: Value) -> Self {
        self.metadata = m;
        self
    }
    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }
}

fn trace(req: &RequestInfo, ev: &Event) {
    let user = ev
        .user_id
        .map(|u| u.to_string())
        .unwrap_or_else(|| "anonymous".into());
    let org = ev
        .org_id
        .map(|o| o.to_string())
        .unwrap_or_else(|| "none".into());
    if ev.success {
        tracing::info!(target: "bottlecrm::security", event = ev.event_type, user_id = %user, org_id = %org, ip = ?req.ip, success = true, "{}", ev.description);
    } else {
        tracing::warn!(target: "bottlecrm::security", event = ev.event_type, user_id = %user, org_id = %org, ip = ?req.ip, success = false, "{}", ev.description);
    }
}

/// Writes the event inside the caller's transaction (it commits or rolls back with the change).
pub async fn write(
    conn: &mut sqlx::PgConnection,
    req: &RequestInfo,
    ev: Event,
) -> Result<(), ApiError> {
    trace(req, &ev);
    sqlx::query("SELECT crm_audit_write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(ev.event_type)
        .bind(ev.user_id)
        .bind(ev.org_id)
        .bind(&ev.description)
        .bind(&ev.metadata)
        .bind(&req.ip)
        .bind(&req.user_agent)
        .bind(&req.path)
        .bind(&req.method)
        .bind(ev.success)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the event in its own transaction: for failures, whose request transaction rolls back.
/// A failure to write is logged, never turned into the response.
pub async fn write_now(pool: &PgPool, req: &RequestInfo, ev: Event) {
    let result = async {
        let mut tx = tenant::begin(pool, ev.org_id, ev.user_id).await?;
        write(&mut tx, req, ev).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(target: "bottlecrm::security", status = %e.status, body = %e.body, source = ?e.source, "audit log write failed");
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditUser {
    pub id: Uuid,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub event_type: String,
    pub user: Option<AuditUser>,
    pub description: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub ip_address: Option<String>,
    pub user_agent: String,
    pub request_path: String,
    pub request_method: String,
    pub success: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogResponse {
    pub count: i64,
    /// The next page's offset, or null on the last page.
    pub offset: Option<i64>,
    pub results: Vec<AuditEntry>,
}

type AuditRow = (
    Uuid,
    String,
    Option<Uuid>,
    Option<String>,
    String,
    Value,
    Option<String>,
    String,
    String,
    String,
    bool,
    DateTime<Utc>,
    i64,
);

/// The org's security events, newest first. Admins only.
#[utoipa::path(get, path = "/api/audit-log/", tag = "audit", security(("jwt" = []), ("api_key" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query),
           ("event_type" = Option<String>, Query, description = "e.g. LOGIN_SUCCESS, ROLE_CHANGED"),
           ("success" = Option<bool>, Query), ("user" = Option<Uuid>, Query, description = "User id")),
    responses((status = 200, body = AuditLogResponse), (status = 403)),
    extensions(("x-admin-only" = json!(true))))]
pub async fn list(mut t: Tenant, page: Page, q: RawQuery) -> ApiResult<Json<AuditLogResponse>> {
    t.require_admin()?;
    let event_type = q.get("event_type").filter(|s| !s.is_empty());
    let success = match q.get("success").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => return Err(ApiError::field("success", "Must be a valid boolean.")),
    };
    let user = match q.get("user").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(Uuid::parse_str(s).map_err(|_| ApiError::field("user", "Must be a valid UUID."))?)
        }
    };
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT a.id, a.event_type, a.user_id, u.email, a.description, a.metadata, host(a.ip_address),
                a.user_agent, a.request_path, a.request_method, a.success, a.created_at, count(*) OVER ()
         FROM security_audit_log a LEFT JOIN users u ON u.id = a.user_id
         WHERE a.org_id = $1 AND ($2::text IS NULL OR a.event_type = $2)
           AND ($3::bool IS NULL OR a.success = $3) AND ($4::uuid IS NULL OR a.user_id = $4)
         ORDER BY a.created_at DESC, a.id
         LIMIT $5 OFFSET $6",
    )
    .bind(t.org_id)
    .bind(event_type)
    .bind(success)
    .bind(user)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *t.tx)
    .await?;
    let count = match rows.first() {
        Some(r) => r.12,
        None => {
            // Past the end: count without a page.
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM security_audit_log WHERE org_id = $1 AND ($2::text IS NULL OR event_type = $2)
                   AND ($3::bool IS NULL OR success = $3) AND ($4::uuid IS NULL OR user_id = $4)",
            )
            .bind(t.org_id)
            .bind(event_type)
            .bind(success)
            .bind(user)
            .fetch_one(&mut *t.tx)
            .await?;
            n
        }
    };
    t.commit().await?;
    let next = page.offset + rows.len() as i64;
    let results = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.0,
            event_type: r.1,
            user: match (r.2, r.3) {
                (Some(id), Some(email)) => Some(AuditUser { id, email }),
                _ => None,
            },
            description: r.4,
            metadata: r.5,
            ip_address: r.6,
            user_agent: r.7,
            request_path: r.8,
            request_method: r.9,
            success: r.10,
            created_at: r.11,
        })
        .collect();
    Ok(Json(AuditLogResponse {
        count,
        offset: (next < count).then_some(next),
        results,
    }))
}
