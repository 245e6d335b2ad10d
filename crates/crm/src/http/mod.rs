//! HTTP conventions shared by every module: request bodies, query strings, pagination, ids,
//! middleware, health and API documentation.

pub mod base_url;
pub mod body;
pub mod docs;
pub mod fields;
pub mod health;
pub mod layers;
pub mod list;
pub mod pagination;
pub mod query;

use uuid::Uuid;

use crate::error::ApiError;

/// A path id: anything that is not a UUID names no object, so it is a 404 (upstream: 500).
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}
