//! Request bodies as DRF parses them: JSON, or form-encoded (the last value of a repeated key
//! wins, as `QueryDict.get`). An empty body is `{}`. Anything else is a 415 with DRF's message.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request body parsed into a JSON object.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
            } else {
                ApiError::bad_request("Could not read the request body.")
            }
        })?;
        parse(&content_type, &bytes).map(JsonBody)
    }
}

pub fn parse(content_type: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    if mime.is_empty() || mime == "application/json" || mime.ends_with("+json") {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
        return match value {
            Value::Object(m) => Ok(m),
            other => Err(ApiError::field(
                "non_field_errors",
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    type_name(&other)
                ),
            )),
        };
    }
    if mime == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| ApiError::bad_request(format!("Form parse error - {e}")))?;
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert(k, Value::String(v));
        }
        return Ok(map);
    }
    Err(ApiError::detail(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Unsupported media type \"{content_type}\" in request."),
    ))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

/// Typed reads from a parsed body with DRF-style messages.
pub trait BodyExt {
    /// A string field; `None` when absent or null. Numbers are accepted as their text.
    fn opt_str(&self, key: &str) -> Option<String>;
}

impl BodyExt for Map<String, Value> {
    fn opt_str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_drf() {
        assert!(parse("application/json", b"").unwrap().is_empty());
        assert!(parse("application/json", b"  \n").unwrap().is_empty());
        assert_eq!(
            parse("application/json; charset=utf-8", br#"{"a":1}"#).unwrap()["a"],
            1
        );
        let form = parse("application/x-www-form-urlencoded", b"a=1&a=2&b=x").unwrap();
        assert_eq!(form["a"], "2");
        assert_eq!(
            parse("text/plain", b"x").unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            parse("application/json", b"[1]").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("application/json", b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
