//! Responses against the document (issue 9, item 19): every operation of the served OpenAPI
//! document is called by an org admin, with ids of the org's own seeded data in the path (every
//! kind of id, so the right kind is among them) and a body built from the request schema. Pass =
//! no 5xx, every status the operation answers is documented (the common error statuses may be
//! answered without being declared), and every JSON body of a status documented with a schema
//! validates against that schema. The routes are read from the document, never listed here.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use crm::auth::jwt::{OrgClaims, now_secs};
use crm::testkit::TestApp;
use serde_json::Value;

use crate::tenancy_matrix::{
    BId, OpShape, b_ids, bearer_request, form_request, json_body, op_shape, resolve, seed,
};

/// Error statuses an operation may answer without declaring them (DRF-shaped error bodies).
const COMMON_ERRORS: &[u16] = &[400, 401, 403, 404, 405, 409, 413, 429, 503];

/// Operations not checked yet, with the reason (method, path template).
const SKIP: &[(&str, &str)] = &[];

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn format_ok(format: &str, s: &str) -> bool {
    let date = |d: &str| {
        let b = d.as_bytes();
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    };
    match format {
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "date" => date(s),
        "date-time" => s.len() >= 19 && date(&s[..10]) && matches!(&s[10..11], "T" | " "),
        _ => true,
    }
}

/// Validates `v` against `schema` (the subset utoipa emits); pushes one line per violation.
/// `strict` (2xx bodies): a property the object schema does not declare is a violation too.
pub(crate) fn validate(
    doc: &Value,
    schema: &Value,
    v: &Value,
    at: &str,
    strict: bool,
    errs: &mut Vec<String>,
) {
    let schema = resolve(doc, schema);
    let Some(obj) = schema.as_object() else {
        return;
    };
    if v.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(doc, s, v, at, strict, errs);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let fits = |s: &Value| {
                let mut e = Vec::new();
                validate(doc, s, v, at, strict, &mut e);
                e.is_empty()
            };
            let n = alts.iter().filter(|s| fits(s)).count();
            if n == 0 {
                let mut first = Vec::new();
                if let Some(s) = alts.first() {
                    validate(doc, s, v, at, strict, &mut first);
                }
                errs.push(format!(
                    "{at}: matches none of {key} ({}); first: {:?}",
                    alts.len(),
                    first.first()
                ));
            }
        }
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, v)) {
        errs.push(format!(
            "{at}: expected {types:?}, got {:.80}",
            v.to_string()
        ));
        return;
    }
    if let Some(e) = obj.get("enum").and_then(Value::as_array)
        && !v.is_null()
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} not in enum {e:?}"));
    }
    if let (Some(f), Some(s)) = (obj.get("format").and_then(Value::as_str), v.as_str())
        && !format_ok(f, s)
    {
        errs.push(format!("{at}: {s:?} is not a {f}"));
    }
    if let Some(o) = v.as_object() {
        let props = obj.get("properties").and_then(Value::as_object);
        for r in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !o.contains_key(r) {
                errs.push(format!("{at}: required `{r}` missing"));
            }
        }
        for (k, val) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, val, &format!("{at}.{k}"), strict, errs),
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{at}: property `{k}` not allowed"))
                    }
                    Some(s @ Value::Object(_)) => {
                        validate(doc, s, val, &format!("{at}.{k}"), strict, errs)
                    }
                    _ if strict && props.is_some() => {
                        errs.push(format!("{at}: property `{k}` not declared"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (obj.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(doc, items, x, &format!("{at}[{i}]"), strict, errs);
        }
    }
}

#[tokio::test]
async fn openapi_responses_validate_against_document() {
    let app = TestApp::new().await;
    let a = app.admin("resp-admin@example.com").await;
    let _user = app.member(a.org_id, "resp-user@example.com", "USER").await;
    seed(&app, &a, "zqxa").await;

    let ids = b_ids(&app, a.org_id).await;
    let mut kinds: Vec<BId> = Vec::new();
    for bid in &ids {
        if !kinds.iter().any(|k| k.table == bid.table) {
            kinds.push(bid.clone());
        }
    }

    let doc = app.get("/api/schema/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK, "served OpenAPI document");
    let doc = doc.body;
    let paths = doc["paths"].as_object().expect("paths");

    // Deletes last, so the other operations find the seeded rows.
    let mut ops: Vec<(Method, &String, &Value, &Value)> = Vec::new();
    for (template, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            let method = match m.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            ops.push((method, template, item, op));
        }
    }
    ops.sort_by_key(|(m, ..)| *m == Method::DELETE);

    let claims = OrgClaims {
        org_id: a.org_id,
        org_name: None,
        default_currency: None,
        default_country: None,
        role: Some("ADMIN".into()),
    };
    let (mut operations, mut requests, mut validated) = (0usize, 0usize, 0usize);
    let mut violations: Vec<String> = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    // 2xx JSON bodies the document describes in prose only (no schema to validate against).
    let mut untyped = std::collections::BTreeSet::new();
    for (method, template, item, op) in ops {
        let m = method.as_str().to_lowercase();
        if SKIP
            .iter()
            .any(|(sm, st)| *sm == m.as_str() && st == template)
        {
            continue;
        }
        operations += 1;
        let OpShape {
            id_params,
            prefixes,
            fields,
            json,
            form_only,
        } = op_shape(&doc, item, op, template);
        // Every kind of the org's own ids in the path: the right kind is among them.
        let variants: Vec<&BId> = if id_params.is_empty() {
            vec![&kinds[0]]
        } else {
            kinds.iter().collect()
        };
        for prefix in &prefixes {
            for kind in &variants {
                let mut path = prefix.clone();
                for name in &id_params {
                    path = path.replace(&format!("{{{name}}}"), &kind.id);
                }
                let what = format!("{m} {template} ({path}, {} id)", kind.table);
                let body = json_body(&fields, &ids, kind);
                let token = app
                    .state
                    .jwt
                    .issue_pair(a.user_id, Some(&claims), now_secs() + 1)
                    .access;
                let auth = format!("Bearer {token}");
                let req = if form_only {
                    form_request(&method, &path, &auth, &body)
                } else {
                    bearer_request(&method, &path, Some(&auth), json.then_some(&body))
                };
                let res = app.send(req).await;
                requests += 1;
                let code = res.status.as_u16();
                *statuses.entry(code).or_insert(0) += 1;
                let switched_off = res.status == StatusCode::SERVICE_UNAVAILABLE
                    && res.text.contains("is not configured");
                if res.status.is_server_error() && !switched_off {
                    violations.push(format!("{what} -> {code}: {:.200}", res.text));
                    continue;
                }
                let responses = &op["responses"];
                let declared = responses
                    .get(code.to_string())
                    .or_else(|| responses.get("default"));
                let Some(declared) = declared else {
                    if !COMMON_ERRORS.contains(&code) {
                        violations.push(format!(
                            "{what} -> {code} not documented: {:.200}",
                            res.text
                        ));
                    }
                    continue;
                };
                let declared = resolve(&doc, declared);
                let Some(schema) = declared.pointer("/content/application~1json/schema") else {
                    if res.status.is_success()
                        && serde_json::from_str::<Value>(&res.text).is_ok_and(|v| v.is_object())
                    {
                        untyped.insert(format!("{m} {template} -> {code}"));
                    }
                    continue;
                };
                let body: Value = match serde_json::from_str(&res.text) {
                    Ok(v) => v,
                    Err(_) => {
                        violations.push(format!(
                            "{what} -> {code}: declared JSON, body is not: {:.200}",
                            res.text
                        ));
                        continue;
                    }
                };
                validated += 1;
                let mut errs = Vec::new();
                validate(&doc, schema, &body, "$", res.status.is_success(), &mut errs);
                for e in errs.iter().take(5) {
                    violations.push(format!("{what} -> {code}: {e}"));
                }
            }
        }
    }
    println!(
        "openapi responses: {operations} operations, {requests} requests, {validated} validated, {} violations",
        violations.len()
    );
    println!("openapi responses: statuses {statuses:?}");
    println!(
        "openapi responses: {} 2xx JSON bodies documented without a schema: {untyped:?}",
        untyped.len()
    );
    for v in &violations {
        println!("VIOLATION {v}");
    }
    let ok = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum::<usize>();
    assert!(ok > 20, "the admin is served (2xx): {statuses:?}");
    assert!(
        violations.is_empty(),
        "{} responses do not match the document",
        violations.len()
    );
}

/// The validator sees each kind of mismatch (a green run of the test above means something).
#[test]
fn openapi_response_validator_detects_violations() {
    let doc = serde_json::json!({"components": {"schemas": {
        "Item": {"type": "object", "required": ["id", "kind"], "properties": {
            "id": {"type": "string", "format": "uuid"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "n": {"type": ["integer", "null"]},
            "on": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "either": {"oneOf": [{"type": "boolean"}, {"$ref": "#/components/schemas/Item"}]}
        }}
    }}});
    let schema = serde_json::json!({"$ref": "#/components/schemas/Item"});
    let check = |v: Value| {
        let mut e = Vec::new();
        validate(&doc, &schema, &v, "$", true, &mut e);
        e
    };
    let id = "6f1c1d8e-0c6b-4a53-9d54-1e0f2b7c9a10";
    assert!(
        check(serde_json::json!({"id": id, "kind": "a", "n": null, "on": "2026-01-02", "tags": ["x"], "either": true}))
            .is_empty()
    );
    for bad in [
        serde_json::json!({"kind": "a"}),
        serde_json::json!({"id": "nope", "kind": "a"}),
        serde_json::json!({"id": id, "kind": "c"}),
        serde_json::json!({"id": id, "kind": "a", "n": "1"}),
        serde_json::json!({"id": id, "kind": "a", "on": "02/01/2026"}),
        serde_json::json!({"id": id, "kind": "a", "tags": [1]}),
        serde_json::json!({"id": id, "kind": "a", "either": "x"}),
        serde_json::json!({"id": id, "kind": "a", "extra": 1}),
        serde_json::json!([]),
    ] {
        assert!(!check(bad.clone()).is_empty(), "{bad} is a violation");
    }
}
