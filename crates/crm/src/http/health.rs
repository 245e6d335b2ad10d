//! `GET /healthz/`: 200 when the database answers; 503 when it does not, or when every pooled
//! connection is busy (then with `Retry-After`, and saying so: the database is fine, the server
//! is saturated). No auth.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

#[utoipa::path(get, path = "/healthz/", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\", \"database\": \"ok\", \"pool\": {\"size\": 3, \"idle\": 2, \"max\": 20}}`"),
              (status = 503, description = "`{\"status\": \"unavailable\", \"database\": \"unreachable\", ...}`, or `{\"status\": \"busy\", \"database\": \"saturated\", ...}` with `Retry-After` when every pooled connection is in use")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(Duration::from_secs(2), async {
        let mut conn = state.pool.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await
    })
    .await;
    let pool = |state: &AppState| {
        json!({
            "size": state.pool.size(),
            "idle": state.pool.num_idle(),
            "max": state.pool.options().get_max_connections(),
        })
    };
    let saturated = |r: &Result<Result<_, sqlx::Error>, _>| match r {
        Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => crate::db::pool_saturated(&state.pool),
        _ => false,
    };
    match check {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok", "pool": pool(&state)})),
        )
            .into_response(),
        ref r if saturated(r) => {
            let body: Value =
                json!({"status": "busy", "database": "saturated", "pool": pool(&state)});
            let mut res = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable", "pool": pool(&state)})),
        )
            .into_response(),
    }
}
