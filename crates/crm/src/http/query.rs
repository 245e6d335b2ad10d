//! Query strings where a repeated key keeps its last value (Django's `QueryDict.get`), plus
//! access to every value of a key for list filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// All `(key, value)` pairs in order.
pub struct RawQuery(pub Vec<(String, String)>);

impl RawQuery {
    pub fn parse(query: Option<&str>) -> Self {
        RawQuery(serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default())
    }
    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl RawQuery {
    /// A NUL character in a key or value is a 400 on that key (PostgreSQL cannot take it).
    pub fn reject_nul(self) -> Result<Self, ApiError> {
        match self
            .0
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            Some((k, _)) => Err(ApiError::field(k, crate::http::body::NUL_MESSAGE)),
            None => Ok(self),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RawQuery {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        RawQuery::parse(parts.uri.query()).reject_nul()
    }
}

/// Typed query parameters; repeated keys: the last one wins.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = RawQuery::parse(parts.uri.query()).reject_nul()?;
        let mut last: Vec<(String, String)> = Vec::with_capacity(raw.0.len());
        for (k, v) in raw.0 {
            match last.iter_mut().find(|(lk, _)| *lk == k) {
                Some(slot) => slot.1 = v,
                None => last.push((k, v)),
            }
        }
        let encoded = serde_urlencoded::to_string(&last).unwrap_or_default();
        serde_urlencoded::from_str(&encoded)
            .map(Query)
            .map_err(|e| ApiError::bad_request(format!("Invalid query parameter: {e}")))
    }
}
