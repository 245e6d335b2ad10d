//! `GET /api/leads/export/`: the filtered lead list as CSV.
//!
//! No part of the response body holds a database connection while it waits on the client: a
//! producer task reads the leads in keyset-paginated chunks of [`CHUNK`] rows, each on its own
//! short transaction with the caller's RLS context (begun, read, committed), and hands the
//! rendered chunk to the body through a channel of [`BUFFERED`] chunks. A client that stops
//! reading only blocks the producer between chunks, with no connection checked out. The whole
//! export is bounded by [`MAX_TIME`]; past it the body ends with an error (the client sees a
//! cut connection, never a file that looks complete but is not).
//!
//! Chunks read different snapshots: a lead created or deleted during a long export may or may
//! not appear, but no lead is listed twice (the keyset moves strictly down
//! `(created_at, id)`).
//!
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR)
//! are prefixed with `'`, as OWASP recommends against CSV injection ([`cell`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sqlx::{PgPool, Row};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::dto;
use super::model::{self, Bind, Sql, Viewer};
use crate::db::Tenant;
use crate::db::tenant;
use crate::error::ApiResult;
use crate::http::query::RawQuery;
use crate::state::AppState;

/// Leads read per transaction.
pub const CHUNK: i64 = 1000;
/// Rendered chunks waiting for the client.
const BUFFERED: usize = 2;
/// Longest an export may take, client included.
pub const MAX_TIME: Duration = Duration::from_secs(600);

/// Every lead the list would show with these filters (open and closed), newest first, as CSV:
/// `id`, the lead fields, `assigned_to` (e-mails, space-separated), `created_at`.
#[utoipa::path(get, path = "/api/leads/export/", tag = "leads", security(("jwt" = []), ("api_key" = [])),
    params(("search" = Option<String>, Query, description = "same filters as the list")),
    responses((status = 200, content_type = "text/csv", description = "id, the lead fields, assigned_to (e-mails), created_at; cells starting with = + - @ tab or CR are prefixed with '")))]
pub async fn export(State(state): State<AppState>, t: Tenant, q: RawQuery) -> ApiResult<Response> {
    let v = Viewer {
        org_id: t.org_id,
        user_id: t.user_id,
        profile_id: t.profile_id,
        admin: t.is_admin(),
    };
    let mut sql = Sql::default();
    sql.p(Bind::Uuid(v.org_id));
    let filter = model::filters(&q, &mut sql, &v)?;
    let query = Query {
        org: t.org_id,
        user: t.user_id,
        with: filter.with(""),
        from: filter.from,
        cond: filter.cond,
        binds: sql.binds,
    };
    // The request's own transaction ends here (an API key's audit row commits with it).
    t.commit().await?;

    let (sender, receiver) = mpsc::channel(BUFFERED);
    tokio::spawn(produce(state.pool.clone(), query, sender));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        Body::from_stream(ExportBody {
            receiver,
            ended: false,
        }),
    )
        .into_response())
}

/// What each chunk's statement needs.
struct Query {
    org: Uuid,
    user: Uuid,
    with: String,
    from: String,
    cond: String,
    binds: Vec<Bind>,
}

enum Msg {
    Chunk(Bytes),
    /// Everything was sent.
    End,
}

/// Sends the header, then chunk after chunk until the last one, the deadline, an error, or the
/// client going away (the receiver dropped).
async fn produce(pool: PgPool, query: Query, sender: mpsc::Sender<Msg>) {
    let deadline = tokio::time::Instant::now() + MAX_TIME;
    let send = |msg| tokio::time::timeout_at(deadline, sender.send(msg));
    let header = std::iter::once("id".to_string())
        .chain(dto::field_names().map(str::to_string))
        .chain(["assigned_to".to_string(), "created_at".to_string()]);
    if !matches!(send(Msg::Chunk(csv_line(header))).await, Ok(Ok(()))) {
        return;
    }
    let mut after = None;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, chunk(&pool, &query, after)).await {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => {
                tracing::error!(error = ?e, "lead export failed");
                return;
            }
            Err(_) => {
                tracing::warn!("lead export stopped: longer than {MAX_TIME:?}");
                return;
            }
        };
        let (bytes, next) = chunk;
        if !bytes.is_empty() && !matches!(send(Msg::Chunk(bytes)).await, Ok(Ok(()))) {
            // The client went away, or did not read within the deadline.
            return;
        }
        match next {
            Some(key) => after = Some(key),
            None => {
                let _ = send(Msg::End).await;
                return;
            }
        }
    }
}

/// One chunk on its own transaction: the rendered rows and the key to continue after (None for
/// the last chunk).
async fn chunk(
    pool: &PgPool,
    q: &Query,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<(Bytes, Option<(DateTime<Utc>, Uuid)>), sqlx::Error> {
    let mut binds = q.binds.clone();
    let mut cond = q.cond.clone();
    if let Some((ts, id)) = after {
        binds.push(Bind::Ts(ts));
        binds.push(Bind::Uuid(id));
        cond.push_str(&format!(
            " AND (l.created_at, l.id) < (${}, ${})",
            binds.len() - 1,
            binds.len()
        ));
    }
    let cols: Vec<String> = dto::field_names().map(|f| format!("l.{f}::text")).collect();
    let text = format!(
        "{}SELECT l.created_at, l.id, {},
                (SELECT string_agg(u.email, ' ' ORDER BY a.id) FROM lead_assigned_to a
                 JOIN profile p ON p.id = a.profile_id JOIN users u ON u.id = p.user_id WHERE a.lead_id = l.id),
                crm_ts(l.created_at)
         FROM {} WHERE {cond} ORDER BY l.created_at DESC, l.id DESC LIMIT {CHUNK}",
        q.with,
        cols.join(", "),
        q.from
    );
    let mut tx = tenant::begin(pool, Some(q.org), Some(q.user)).await?;
    let rows = model::run(text, binds).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for row in &rows {
        let mut fields = vec![row.try_get::<Uuid, _>(1)?.to_string()];
        let last = row.len() - 1;
        for i in 2..row.len() {
            let value = row.try_get::<Option<String>, _>(i)?.unwrap_or_default();
            // The timestamp is ours, the rest is what users typed.
            fields.push(if i == last { value } else { cell(value) });
        }
        out.extend(csv_line(fields));
    }
    let next = match rows.last() {
        Some(last) if rows.len() as i64 == CHUNK => Some((last.try_get(0)?, last.try_get(1)?)),
        _ => None,
    };
    Ok((Bytes::from(out), next))
}

/// A cell a spreadsheet would not evaluate: OWASP's CSV-injection rule, a `'` before a value
/// starting with `=`, `+`, `-`, `@`, tab or carriage return.
pub fn cell(value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    }
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(fields);
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// The response body: the producer's chunks. It ends cleanly only after `End`; a producer that
/// stopped early (error, deadline) ends it with an error, so the connection is cut instead of
/// a truncated file passing for a whole one. Once ended it stays ended, however often polled
/// (the compression layer polls again after the end).
struct ExportBody {
    receiver: mpsc::Receiver<Msg>,
    ended: bool,
}

impl Stream for ExportBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.receiver.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Msg::Chunk(bytes))) => Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(Some(Msg::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(Some(Err(std::io::Error::other("lead export stopped"))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_cells_are_escaped() {
        for v in ["=1+1", "+33 1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(v.into()), format!("'{v}"));
        }
        for v in ["", "Ann", "a=b", " =x", "'=x"] {
            assert_eq!(cell(v.into()), v);
        }
    }
}
