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
            Value::Object(m) => reject_nul(&m).map(|()| m),
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
        // serde_urlencoded decodes invalid UTF-8 lossily (U+FFFD): refuse it, as for JSON.
        if !form_is_utf8(bytes) {
            return Err(ApiError::bad_request(
                "Form parse error - the body is not valid UTF-8.",
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| ApiError::bad_request(format!("Form parse error - {e}")))?;
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert(k, Value::String(v));
        }
        reject_nul(&map)?;
        return Ok(map);
    }
    Err(ApiError::detail(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Unsupported media type \"{content_type}\" in request."),
    ))
}

/// Whether every key and value of a form body, raw and percent-decoded, is UTF-8.
fn form_is_utf8(bytes: &[u8]) -> bool {
    bytes.split(|b| *b == b'&').all(|pair| {
        pair.split(|b| *b == b'=')
            .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
    })
}

/// DRF's message for a NUL character (`ProhibitNullCharactersValidator`).
pub const NUL_MESSAGE: &str = "Null characters are not allowed.";

/// PostgreSQL cannot store U+0000 in text: a NUL anywhere in a body (a value or a key, at any
/// depth) is a 400 on the top-level field that holds it, before any handler sees it.
pub fn reject_nul(map: &Map<String, Value>) -> Result<(), ApiError> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    match map.iter().find(|(k, v)| k.contains('\0') || has_nul(v)) {
        Some((k, _)) => Err(ApiError::field(k, NUL_MESSAGE)),
        None => Ok(()),
    }
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

    #[test]
    fn nul_characters_are_a_400_on_their_field() {
        let e = parse(
            "application/json",
            br#"{"a": "x", "b": {"c": ["y\u0000"]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.body, serde_json::json!({"b": [NUL_MESSAGE]}));
        let e = parse("application/x-www-form-urlencoded", b"a=1&name=x%00y").unwrap_err();
        assert_eq!(e.body, serde_json::json!({"name": [NUL_MESSAGE]}));
        assert!(
            parse("application/json", br#"{"a": "\\u0000"}"#).is_ok(),
            "escaped text"
        );
    }
}
