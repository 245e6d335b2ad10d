//! Request-body validation shared by the CRM modules: each module declares its writable columns
//! as `(name, Kind)` pairs and gets `Val`s to write, or DRF-worded field errors (upstream's 500s on
//! odd input become 400s). Relation lists (`assigned_to`, `tags`...) are read by `id_list`.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::sql::Val;
use crate::error::{ApiError, FieldErrors};

/// How a column's value is validated (DRF field rules).
#[derive(Clone, Copy)]
pub enum Kind {
    Text(usize),
    /// May be null or absent, but not blank.
    Name,
    Email,
    Phone,
    Url(usize),
    /// A website as people type it: a URL, or a host name without a scheme (`example.com`).
    Website(usize),
    /// Required text: not null, not blank, at most this many characters.
    Required(usize),
    Choice(fn(&str) -> bool),
    /// A decimal >= 0 with two places and at most 10 digits before the point.
    Amount,
    /// A decimal >= 0 with two places and at most this many digits before the point.
    Money(usize),
    /// Integer 0..=100.
    Percent,
    /// An integer in this range.
    Int(i64, i64),
    Date,
    Bool,
}

/// Upstream's validation envelope of the CRM modules: 400 `{"error": true, "errors": {...}}`.
pub fn invalid(errors: FieldErrors) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        serde_json::json!({"error": true, "errors": errors.to_value()}),
    )
}

/// Validates the declared columns present in `body` (unknown keys are ignored, as DRF does).
pub fn validate(
    body: &Map<String, Value>,
    fields: &[(&'static str, Kind)],
    errors: &mut FieldErrors,
) -> Vec<(&'static str, Val)> {
    let mut out = Vec::new();
    for (name, kind) in fields {
        if let Some(raw) = body.get(*name) {
            match validate_value(*kind, raw) {
                Ok(v) => out.push((*name, v)),
                Err(msg) => errors.add(name, msg),
            }
        }
    }
    out
}

/// The text of a validated column, when present and not null.
pub fn text<'a>(fields: &'a [(&'static str, Val)], col: &str) -> Option<&'a str> {
    fields.iter().find_map(|(c, v)| match v {
        Val::Text(Some(s)) if *c == col => Some(s.as_str()),
        _ => None,
    })
}

fn as_text(raw: &Value) -> Result<Option<String>, String> {
    match raw {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err("Not a valid string.".into()),
    }
}

fn too_long(s: &str, max: usize) -> Option<String> {
    (s.chars().count() > max)
        .then(|| format!("Ensure this field has no more than {max} characters."))
}

fn validate_value(kind: Kind, raw: &Value) -> Result<Val, String> {
    match kind {
        Kind::Bool => match raw {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            Value::Null => Err("This field may not be null.".into()),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Val::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Val::Bool(false)),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Val::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Val::Bool(false)),
                _ => Err("Must be a valid boolean.".into()),
            },
            _ => Err("Must be a valid boolean.".into()),
        },
        Kind::Amount | Kind::Money(_) => {
            let Some(s) = as_text(raw).map_err(|_| "A valid number is required.")? else {
                return Ok(Val::Num(None));
            };
            if s.is_empty() {
                return Ok(Val::Num(None));
            }
            let digits = if let Kind::Money(d) = kind { d } else { 10 };
            parse_decimal(&s, digits).map(|v| Val::Num(Some(v)))
        }
        Kind::Required(_) if raw.is_null() => Err("This field may not be null.".into()),
        Kind::Percent | Kind::Int(..) => {
            let (min, max) = if let Kind::Int(min, max) = kind {
                (min, max)
            } else {
                (0, 100)
            };
            let n = match raw {
                Value::Null => return Ok(Val::Int(None)),
                Value::Number(n) => n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Value::String(s) if s.trim().is_empty() => return Ok(Val::Int(None)),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or("A valid integer is required.")?;
            if n > max {
                Err(format!("Ensure this value is less than or equal to {max}."))
            } else if n < min {
                Err(format!(
                    "Ensure this value is greater than or equal to {min}."
                ))
            } else {
                Ok(Val::Int(Some(n as i32)))
            }
        }
        Kind::Date => {
            let Some(s) = as_text(raw)? else {
                return Ok(Val::Date(None));
            };
            if s.is_empty() {
                return Ok(Val::Date(None));
            }
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(|d| Val::Date(Some(d)))
                .map_err(|_| {
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".into()
                })
        }
        _ => {
            let Some(s) = as_text(raw)? else {
                return Ok(Val::Text(None));
            };
            let ok = |s: String| Ok(Val::Text(Some(s)));
            match kind {
                Kind::Text(max) => too_long(&s, max).map_or_else(|| ok(s), Err),
                Kind::Name | Kind::Required(_) if s.is_empty() => {
                    Err("This field may not be blank.".into())
                }
                Kind::Required(max) => too_long(&s, max).map_or_else(|| ok(s), Err),
                Kind::Name => too_long(&s, 255).map_or_else(|| ok(s), Err),
                Kind::Email if s.is_empty() => ok(s),
                Kind::Email if s.len() > 254 || !crate::auth::service::is_valid_email(&s) => {
                    Err("Enter a valid email address.".into())
                }
                Kind::Email => ok(s),
                Kind::Phone if s.is_empty() => ok(s),
                Kind::Phone => {
                    let n = s.chars().count();
                    if (7..=25).contains(&n)
                        && s.chars()
                            .all(|c| c.is_ascii_digit() || " -()+.".contains(c))
                    {
                        ok(s)
                    } else {
                        Err("Enter a valid phone number (7-25 characters, digits and separators only)".into())
                    }
                }
                Kind::Url(max) | Kind::Website(max) if s.is_empty() => {
                    too_long(&s, max).map_or_else(|| ok(s), Err)
                }
                Kind::Url(max) | Kind::Website(max) => {
                    if let Some(e) = too_long(&s, max) {
                        return Err(e);
                    }
                    let is_url = |s: &str| {
                        url::Url::parse(s).is_ok_and(|u| {
                            matches!(u.scheme(), "http" | "https" | "ftp" | "ftps")
                                && u.host().is_some()
                        })
                    };
                    // A website may be typed without its scheme (`example.com`).
                    let bare_host = matches!(kind, Kind::Website(_))
                        && !s.contains("://")
                        && s.contains('.')
                        && is_url(&format!("http://{s}"));
                    let valid = is_url(&s) || bare_host;
                    if valid {
                        ok(s)
                    } else {
                        Err("Enter a valid URL.".into())
                    }
                }
                Kind::Choice(_) if s.is_empty() => ok(s),
                Kind::Choice(valid) if valid(&s) => ok(s),
                Kind::Choice(_) => Err(format!("\"{s}\" is not a valid choice.")),
                _ => unreachable!("non-text kinds handled above"),
            }
        }
    }
}

/// DRF DecimalField(max_digits=12, decimal_places=2), plus the DB's `>= 0` rule.
pub fn parse_amount(s: &str) -> Result<String, String> {
    parse_decimal(s, 10)
}

/// A decimal >= 0 with at most two places and `max_int` digits before the point, as canonical
/// text (`"1234.50"`).
pub fn parse_decimal(s: &str, max_int: usize) -> Result<String, String> {
    let invalid = || "A valid number is required.".to_string();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid());
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if neg && !(int.is_empty() && frac.is_empty()) {
        return Err("Ensure this value is greater than or equal to 0.".into());
    }
    if frac.len() > 2 {
        return Err("Ensure that there are no more than 2 decimal places.".into());
    }
    if int.len() > max_int {
        return Err(format!(
            "Ensure that there are no more than {max_int} digits before the decimal point."
        ));
    }
    Ok(format!(
        "{}.{frac:0<2}",
        if int.is_empty() { "0" } else { int }
    ))
}

/// A single foreign key in a body (`account`...): absent `None`; `null` or `""` clears it
/// (`Some(None)`); a UUID string or an object with an `id` names it; anything else is an error
/// on the field.
pub fn fk_id(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<Option<Uuid>> {
    match body.get(key) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(v) => {
            let raw = v.get("id").unwrap_or(v);
            match raw.as_str().map(|s| Uuid::parse_str(s.trim())) {
                Some(Ok(id)) => Some(Some(id)),
                _ => {
                    let shown = raw.as_str().map_or_else(|| raw.to_string(), str::to_string);
                    errors.add(key, format!("“{shown}” is not a valid UUID."));
                    None
                }
            }
        }
    }
}

/// A relation list: a JSON array of UUID strings (or of objects with an `id`), a JSON-encoded array in a string (form and
/// multipart bodies), or one UUID. `null` and `""` mean an empty list.
pub fn id_list(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<Vec<Uuid>> {
    let raw = body.get(key)?;
    let items: Vec<Value> = match raw {
        Value::Null => vec![],
        Value::Array(a) => a.clone(),
        Value::String(s) if s.trim().is_empty() => vec![],
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<Value>>(s) {
                Ok(a) => a,
                Err(_) => {
                    errors.add(key, "Expected a list of items.");
                    return None;
                }
            }
        }
        Value::String(_) => vec![raw.clone()],
        _ => {
            errors.add(
                key,
                format!(
                    "Expected a list of items but got type \"{}\".",
                    type_name(raw)
                ),
            );
            return None;
        }
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        // An object with an `id` (a list row's nested object sent back as is) names that id.
        let raw = item.get("id").unwrap_or(&item);
        match raw.as_str().map(|s| Uuid::parse_str(s.trim())) {
            Some(Ok(id)) => {
                if !ids.contains(&id) {
                    ids.push(id)
                }
            }
            _ => {
                let shown = item
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or(item.to_string());
                errors.add(key, format!("“{shown}” is not a valid UUID."));
                return None;
            }
        }
    }
    Some(ids)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Object(_) => "dict",
        _ => "str",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1234.5").unwrap(), "1234.50");
        assert_eq!(parse_amount("007").unwrap(), "7.00");
        assert_eq!(parse_amount(".5").unwrap(), "0.50");
        assert_eq!(parse_amount("-0").unwrap(), "0.00");
        assert!(
            parse_amount("-5")
                .unwrap_err()
                .contains("greater than or equal to 0")
        );
        assert!(
            parse_amount("1.234")
                .unwrap_err()
                .contains("2 decimal places")
        );
        assert!(
            parse_amount("12345678901")
                .unwrap_err()
                .contains("10 digits")
        );
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount(".").is_err());
        assert!(parse_decimal("12345678901", 13).is_ok());
    }

    #[test]
    fn websites_required_and_ints() {
        let ok = |k, v: Value| validate_value(k, &v).is_ok();
        assert!(ok(Kind::Website(200), "example.com".into()));
        assert!(ok(Kind::Website(200), "https://example.com/x".into()));
        assert!(!ok(Kind::Website(200), "not a site".into()));
        assert!(!ok(Kind::Url(200), "example.com".into()));
        assert!(!ok(Kind::Required(10), Value::Null));
        assert!(!ok(Kind::Required(10), " ".into()));
        assert!(!ok(Kind::Int(0, 10), (-1).into()));
        assert!(ok(Kind::Int(0, 10), "3".into()));
    }
}
