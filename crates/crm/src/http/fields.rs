//! Request-body field validation shared by the CRM modules: DRF's serializer field rules and
//! messages (lengths, e-mail, phone, URL, choices, decimals, integers, dates, booleans) and
//! relation id lists, with upstream's 500s turned into field errors. A module lists its writable
//! columns as `(name, Kind)` pairs and calls [`validate`].

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::FieldErrors;

/// A validated value for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i32>),
    /// Decimal as canonical text, cast to numeric in SQL.
    Num(Option<String>),
    Date(Option<NaiveDate>),
    Bool(bool),
}

/// The rule of one column.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Free text up to this many characters; null and blank allowed.
    Text(usize),
    /// Text that may be null or absent, but not blank (255 characters).
    Name,
    /// Required text: not null, not blank, at most this many characters.
    Required(usize),
    Email,
    Phone,
    /// An http(s)/ftp URL up to this many characters; blank allowed.
    Url(usize),
    /// A website as people type it: a URL, or a host name without a scheme (`example.com`).
    Website(usize),
    /// One of a fixed list (blank allowed).
    Choice(fn(&str) -> bool),
    /// A decimal >= 0 with two places and at most this many digits before the point.
    Money(usize),
    /// An integer in this range.
    Int(i64, i64),
    Date,
    Bool,
}

/// Validates the present keys of `body` that `fields` names, in order. Unknown keys are ignored,
/// as DRF does. A `Required` field missing from a full write is reported by the caller.
pub fn validate(
    fields: &[(&'static str, Kind)],
    body: &Map<String, Value>,
    errors: &mut FieldErrors,
) -> Vec<(&'static str, Val)> {
    let mut out = Vec::new();
    for (name, kind) in fields {
        if let Some(raw) = body.get(*name) {
            match value(*kind, raw) {
                Ok(v) => out.push((*name, v)),
                Err(msg) => errors.add(name, msg),
            }
        }
    }
    out
}

/// The text of a validated field, when present and not null.
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

fn is_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https" | "ftp" | "ftps") && u.host().is_some()
    })
}

/// Validates one value against its rule.
pub fn value(kind: Kind, raw: &Value) -> Result<Val, String> {
    match kind {
        Kind::Bool => boolean(raw).map(Val::Bool),
        Kind::Money(digits) => match as_text(raw).map_err(|_| "A valid number is required.")? {
            Some(s) if !s.is_empty() => money(&s, digits).map(|v| Val::Num(Some(v))),
            _ => Ok(Val::Num(None)),
        },
        Kind::Int(min, max) => integer(raw, min, max).map(Val::Int),
        Kind::Date => match as_text(raw)? {
            Some(s) if !s.is_empty() => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map(|d| Val::Date(Some(d)))
                .map_err(|_| {
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".into()
                }),
            _ => Ok(Val::Date(None)),
        },
        Kind::Required(_) if raw.is_null() => Err("This field may not be null.".into()),
        _ => match as_text(raw)? {
            None => Ok(Val::Text(None)),
            Some(s) => string(kind, s).map(|s| Val::Text(Some(s))),
        },
    }
}

fn boolean(raw: &Value) -> Result<bool, String> {
    match raw {
        Value::Bool(b) => Ok(*b),
        Value::Null => Err("This field may not be null.".into()),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err("Must be a valid boolean.".into()),
        },
        _ => Err("Must be a valid boolean.".into()),
    }
}

fn integer(raw: &Value, min: i64, max: i64) -> Result<Option<i32>, String> {
    let n = match raw {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
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
        Ok(Some(n as i32))
    }
}

fn string(kind: Kind, s: String) -> Result<String, String> {
    let limit = |max: usize| too_long(&s, max).map_or(Ok(()), Err);
    match kind {
        Kind::Text(max) => limit(max)?,
        Kind::Name | Kind::Required(_) if s.is_empty() => {
            return Err("This field may not be blank.".into());
        }
        Kind::Name => limit(255)?,
        Kind::Required(max) => limit(max)?,
        Kind::Email if s.is_empty() => {}
        Kind::Email => {
            if s.len() > 254 || !crate::auth::service::is_valid_email(&s) {
                return Err("Enter a valid email address.".into());
            }
        }
        Kind::Phone if s.is_empty() => {}
        Kind::Phone => {
            let ok = (7..=25).contains(&s.chars().count())
                && s.chars()
                    .all(|c| c.is_ascii_digit() || " -()+.".contains(c));
            if !ok {
                return Err(
                    "Enter a valid phone number (7-25 characters, digits and separators only)"
                        .into(),
                );
            }
        }
        Kind::Url(max) | Kind::Website(max) => {
            limit(max)?;
            let scheme_less = matches!(kind, Kind::Website(_))
                && !s.contains("://")
                && s.contains('.')
                && is_url(&format!("http://{s}"));
            if !s.is_empty() && !is_url(&s) && !scheme_less {
                return Err("Enter a valid URL.".into());
            }
        }
        Kind::Choice(valid) => {
            if !s.is_empty() && !valid(&s) {
                return Err(format!("\"{s}\" is not a valid choice."));
            }
        }
        Kind::Money(_) | Kind::Int(..) | Kind::Date | Kind::Bool => {
            unreachable!("non-text kinds are handled by `value`")
        }
    }
    Ok(s)
}

/// DRF DecimalField(decimal_places=2) with `digits` before the point, plus the DB's `>= 0`
/// rule. Returns canonical text (`"1234.50"`).
pub fn money(s: &str, digits: usize) -> Result<String, String> {
    let invalid = || "A valid number is required.".to_string();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let numeric = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !numeric(int) || !numeric(frac) {
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
    if int.len() > digits {
        return Err(format!(
            "Ensure that there are no more than {digits} digits before the decimal point."
        ));
    }
    let int = if int.is_empty() { "0" } else { int };
    Ok(format!("{int}.{frac:0<2}"))
}

/// A relation list: a JSON array of UUID strings, a JSON-encoded array in a string (form and
/// multipart bodies), or one UUID. `null` and `""` mean an empty list. Duplicates are dropped.
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
            let Ok(a) = serde_json::from_str::<Vec<Value>>(s) else {
                errors.add(key, "Expected a list of items.");
                return None;
            };
            a
        }
        Value::String(_) => vec![raw.clone()],
        other => {
            let kind = match other {
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                Value::Object(_) => "dict",
                _ => "str",
            };
            errors.add(
                key,
                format!("Expected a list of items but got type \"{kind}\"."),
            );
            return None;
        }
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let parsed = item.as_str().and_then(|s| Uuid::parse_str(s.trim()).ok());
        let Some(id) = parsed else {
            let shown = item
                .as_str()
                .map_or_else(|| item.to_string(), str::to_string);
            errors.add(key, format!("“{shown}” is not a valid UUID."));
            return None;
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Some(ids)
}

/// A single related id (`account`, `contact`...): a UUID string, or null / `""` for none.
pub fn opt_id(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<Option<Uuid>> {
    match body.get(key)? {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        Value::String(s) => match Uuid::parse_str(s.trim()) {
            Ok(id) => Some(Some(id)),
            Err(_) => {
                errors.add(key, format!("“{s}” is not a valid UUID."));
                None
            }
        },
        other => {
            errors.add(
                key,
                format!("Incorrect type. Expected pk value, received {other}."),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_values() {
        assert_eq!(money("1234.5", 10).unwrap(), "1234.50");
        assert_eq!(money("007", 10).unwrap(), "7.00");
        assert_eq!(money(".5", 10).unwrap(), "0.50");
        assert_eq!(money("-0", 10).unwrap(), "0.00");
        assert!(
            money("-5", 10)
                .unwrap_err()
                .contains("greater than or equal to 0")
        );
        assert!(money("1.234", 10).unwrap_err().contains("2 decimal places"));
        assert!(money("12345678901", 10).unwrap_err().contains("10 digits"));
        assert!(money("12345678901", 13).is_ok());
        assert!(money("abc", 10).is_err());
        assert!(money(".", 10).is_err());
    }

    #[test]
    fn websites_and_urls() {
        let ok = |k, s: &str| value(k, &json!(s)).is_ok();
        assert!(ok(Kind::Website(200), "example.com"));
        assert!(ok(Kind::Website(200), "https://example.com/x"));
        assert!(ok(Kind::Website(200), ""));
        assert!(!ok(Kind::Website(200), "not a site"));
        assert!(!ok(Kind::Url(200), "example.com"));
        assert!(!ok(Kind::Website(10), "https://example.com"));
    }

    #[test]
    fn required_and_ints() {
        let fields = [("name", Kind::Required(255)), ("n", Kind::Int(0, 10))];
        let mut e = FieldErrors::new();
        validate(
            &fields,
            json!({"name": " ", "n": -1}).as_object().unwrap(),
            &mut e,
        );
        assert!(e.has("name") && e.has("n"));
        let mut e = FieldErrors::new();
        let v = validate(
            &fields,
            json!({"name": null, "n": "3"}).as_object().unwrap(),
            &mut e,
        );
        assert!(e.has("name"));
        assert_eq!(v, vec![("n", Val::Int(Some(3)))]);
    }
}
