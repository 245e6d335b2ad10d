//! `GET /healthz/`: 200 when the database answers, 503 when it does not. No auth.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

#[utoipa::path(get, path = "/healthz/", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\", \"database\": \"ok\"}`"),
              (status = 503, description = "`{\"status\": \"unavailable\", \"database\": \"unreachable\"}`")))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let check = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await;
    match check {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable"})),
        ),
    }
}
