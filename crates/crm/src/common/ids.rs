//! Lists of ids in request bodies, and the check that every named profile is in the org.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::tenant::Tx;
use crate::error::ApiError;

/// A list of UUIDs under `key`: a JSON array, a JSON-encoded array in a string (form bodies), or a
/// comma-separated string. `None` when the key is absent or null.
pub fn uuid_list(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<Uuid>>, ApiError> {
    let items: Vec<String> = match body.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<String>>(s) {
            Ok(v) => v,
            Err(_) => s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
        },
        Some(_) => return Err(ApiError::field(key, "Expected a list of items.")),
    };
    let mut out = Vec::with_capacity(items.len());
    for s in items {
        match Uuid::parse_str(s.trim()) {
            Ok(id) if !out.contains(&id) => out.push(id),
            Ok(_) => {}
            Err(_) => {
                return Err(ApiError::field(
                    key,
                    format!("\u{201c}{s}\u{201d} is not a valid UUID."),
                ));
            }
        }
    }
    Ok(Some(out))
}

/// Every id must be an active profile of the org, else 404 (another org's id looks unknown).
pub async fn ensure_profiles(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM profile WHERE org_id = $1 AND id = ANY($2) AND is_active",
    )
    .bind(org_id)
    .bind(ids)
    .fetch_one(&mut **tx)
    .await?;
    if n as usize == ids.len() {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}
