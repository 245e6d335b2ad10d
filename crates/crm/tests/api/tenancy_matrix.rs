//! Tenancy matrix (issue 11, item 1): every operation of the served OpenAPI document is called
//! by org A's admin with org B's ids in every path parameter and every id-like body field, and
//! every operation is also called with no token, a garbage token, an expired token, the token
//! of a removed member of A, a token whose org claim names org B (a user who is not in B), and
//! A's admin's valid token with forged `org` / `X-Org-ID` headers naming org B.
//! Pass = no 5xx, no byte of org B's data (ids, api key, names and e-mails carrying the marker
//! `zqxb`) in any response that the request did not itself carry, and org B's rows unchanged
//! (md5 per table, as the superuser, before and after).
//! The routes are read from the document, never listed here: a route added tomorrow is covered.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use crm::auth::jwt::{OrgClaims, now_secs};
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::documents::{PDF, multipart, send_multipart};

/// Marker in every name/e-mail seeded in org B.
const MARK: &str = "zqxb";

/// One of org B's ids, with the table it comes from.
#[derive(Clone, Debug)]
pub(crate) struct BId {
    pub(crate) table: String,
    pub(crate) id: String,
}

/// Tables with an `org_id` column (public schema).
async fn org_tables(app: &TestApp) -> Vec<(String, bool)> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.table_name::text,
                EXISTS (SELECT 1 FROM information_schema.columns i
                         WHERE i.table_schema = 'public' AND i.table_name = c.table_name AND i.column_name = 'id')
           FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND c.column_name = 'org_id' AND t.table_type = 'BASE TABLE'
          ORDER BY 1",
    )
    .fetch_all(&app.db.admin)
    .await
    .unwrap();
    rows
}

/// md5 of org B's rows, per table (plus B's organization row and B's users).
async fn checksums(app: &TestApp, org: Uuid) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut queries: Vec<(String, String)> = org_tables(app)
        .await
        .into_iter()
        .map(|(t, _)| {
            (
                t.clone(),
                format!("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{t}\" x WHERE org_id = $1"),
            )
        })
        .collect();
    queries.push((
        "organization".into(),
        "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM organization x WHERE id = $1".into(),
    ));
    queries.push((
        "users".into(),
        "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM users x
          WHERE id IN (SELECT user_id FROM profile WHERE org_id = $1)"
            .into(),
    ));
    for (t, q) in queries {
        let (sum,): (Option<String>,) = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(org)
            .fetch_one(&app.db.admin)
            .await
            .unwrap_or_else(|e| panic!("checksum of {t}: {e}"));
        out.insert(t, sum.unwrap_or_default());
    }
    out
}

/// Every id of org B, per table (the first few of each), plus its user ids and org id.
pub(crate) async fn b_ids(app: &TestApp, org: Uuid) -> Vec<BId> {
    let mut out = vec![BId {
        table: "organization".into(),
        id: org.to_string(),
    }];
    for (t, has_id) in org_tables(app).await {
        if !has_id {
            continue;
        }
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id::text FROM \"{t}\" WHERE org_id = $1 ORDER BY 1"
        )))
        .bind(org)
        .fetch_all(&app.db.admin)
        .await
        .unwrap();
        for (id,) in rows {
            out.push(BId {
                table: t.clone(),
                id,
            });
        }
    }
    let users: Vec<(String,)> =
        sqlx::query_as("SELECT user_id::text FROM profile WHERE org_id = $1 ORDER BY 1")
            .bind(org)
            .fetch_all(&app.db.admin)
            .await
            .unwrap();
    for (id,) in users {
        out.push(BId {
            table: "users".into(),
            id,
        });
    }
    out
}

/// Follows `$ref`s into `components`.
pub(crate) fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.trim_start_matches('#');
            doc.pointer(ptr).map(|s| resolve(doc, s)).unwrap_or(schema)
        }
        None => schema,
    }
}

/// Field names of a request body: the schema's properties, or, for free-form objects, the
/// backticked names in the body's description (`teams[]`, `document_file` ...).
pub(crate) fn body_fields(doc: &Value, body: &Value, schema: &Value) -> Vec<(String, Value)> {
    let schema = resolve(doc, schema);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return props
            .iter()
            .map(|(k, v)| (k.clone(), resolve(doc, v).clone()))
            .collect();
    }
    let desc = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    for (i, part) in desc.split('`').enumerate() {
        if i % 2 == 1 {
            let name = part.trim_end_matches("[]");
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !out.iter().any(|(n, _): &(String, Value)| n == name)
            {
                let ty = if part.ends_with("[]") || id_array_name(name) {
                    json!({"type": "array", "items": {"type": "string", "format": "uuid"}})
                } else {
                    json!({"type": "string"})
                };
                out.push((name.to_string(), ty));
            }
        }
    }
    out
}

fn id_array_name(name: &str) -> bool {
    matches!(
        name,
        "assigned_to"
            | "teams"
            | "tags"
            | "contacts"
            | "shared_to"
            | "users"
            | "members"
            | "lead_assigned_to"
            | "accounts"
            | "leads"
            | "profiles"
    )
}

fn id_like(name: &str, schema: &Value) -> bool {
    let items = schema.get("items").unwrap_or(&Value::Null);
    schema.get("format").and_then(Value::as_str) == Some("uuid")
        || items.get("format").and_then(Value::as_str) == Some("uuid")
        || name == "id"
        || name.ends_with("_id")
        || name.ends_with("_ids")
        || id_array_name(name)
}

/// The B id to put in a field: one of the matching table where the name tells, else `fallback`.
fn pick<'a>(name: &str, ids: &'a [BId], fallback: &'a BId) -> &'a str {
    let want: &[&str] = match name {
        "teams" | "team_id" => &["teams"],
        "tags" => &["tags"],
        "assigned_to" | "shared_to" | "users" | "members" | "lead_assigned_to" | "profile_id" => {
            &["profile"]
        }
        "user_id" => &["users"],
        "org_id" | "org" => &["organization"],
        _ => &[],
    };
    ids.iter()
        .find(|b| want.contains(&b.table.as_str()))
        .map(|b| b.id.as_str())
        .unwrap_or(&fallback.id)
}
/// What a walk over the document needs of one operation: its id path parameters, the path
/// with its other (enumerated) parameters filled in, once per value, and its request body's
/// fields and encoding.
pub(crate) struct OpShape {
    pub id_params: Vec<String>,
    pub prefixes: Vec<String>,
    pub fields: Vec<(String, Value)>,
    /// The body is sent as JSON.
    pub json: bool,
    /// The body can only be sent as a form.
    pub form_only: bool,
}

pub(crate) fn op_shape(doc: &Value, item: &Value, op: &Value, template: &str) -> OpShape {
    let params: Vec<&Value> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(item["parameters"].as_array().into_iter().flatten())
        .filter(|p| p["in"] == "path")
        .collect();
    // Non-id path parameters with a list of values in their schema or description.
    let mut fixed: Vec<(String, Vec<String>)> = Vec::new();
    let mut id_params: Vec<String> = Vec::new();
    for p in &params {
        let name = p["name"].as_str().unwrap().to_string();
        let schema = resolve(doc, &p["schema"]);
        let values: Vec<String> = if let Some(e) = schema["enum"].as_array() {
            e.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        } else if schema["format"] != "uuid"
            && p["description"].as_str().is_some_and(|d| d.contains(" | "))
        {
            p["description"]
                .as_str()
                .unwrap()
                .split('|')
                .map(|s| s.trim().to_string())
                .collect()
        } else {
            Vec::new()
        };
        if values.is_empty() {
            id_params.push(name);
        } else {
            fixed.push((name, values));
        }
    }
    let mut prefixes = vec![template.to_string()];
    for (name, values) in &fixed {
        prefixes = prefixes
            .iter()
            .flat_map(|t| {
                values
                    .iter()
                    .map(move |v| t.replace(&format!("{{{name}}}"), v))
            })
            .collect();
    }
    let content = &op["requestBody"]["content"];
    let (json_schema, form_schema) = (
        content.get("application/json"),
        content
            .get("multipart/form-data")
            .or_else(|| content.get("application/x-www-form-urlencoded")),
    );
    let fields = json_schema
        .or(form_schema)
        .map(|c| body_fields(doc, &op["requestBody"], &c["schema"]))
        .unwrap_or_default();
    OpShape {
        id_params,
        prefixes,
        fields,
        json: json_schema.is_some(),
        form_only: json_schema.is_none() && form_schema.is_some(),
    }
}

/// A JSON body from the request schema, ids of org B in every id-like field.
pub(crate) fn json_body(fields: &[(String, Value)], ids: &[BId], fallback: &BId) -> Value {
    let mut m = Map::new();
    for (name, schema) in fields {
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let v = if id_like(name, schema) {
            let id = pick(name, ids, fallback);
            if ty == "array" {
                json!([id])
            } else {
                json!(id)
            }
        } else {
            match ty {
                "boolean" => json!(true),
                "integer" | "number" => json!(1),
                "array" => json!(["zqxa item"]),
                "object" => json!({}),
                _ if schema.get("format").and_then(Value::as_str) == Some("email") => {
                    json!("zqxa-field@example.com")
                }
                _ => json!(format!("zqxa {name}")),
            }
        };
        m.insert(name.clone(), v);
    }
    Value::Object(m)
}

struct Tally {
    requests: usize,
    leaks: Vec<String>,
    errors: Vec<String>,
}

impl Tally {
    /// Records a response: 5xx, or a B marker the request did not carry.
    fn check(&mut self, what: &str, sent: &str, res: &TestResponse, markers: &[String]) {
        self.requests += 1;
        // A feature switched off by configuration (Google sign-in without GOOGLE_CLIENT_ID)
        // answers 503 on purpose; any other 5xx is a defect.
        let switched_off =
            res.status == StatusCode::SERVICE_UNAVAILABLE && res.text.contains("is not configured");
        if res.status.is_server_error() && !switched_off {
            self.errors
                .push(format!("{what} -> {}: {:.200}", res.status, res.text));
        }
        let text = res.text.to_lowercase();
        let headers = format!("{:?}", res.headers).to_lowercase();
        let sent = sent.to_lowercase();
        for m in markers {
            if (text.contains(m.as_str()) || headers.contains(m.as_str()))
                && !sent.contains(m.as_str())
            {
                self.leaks.push(format!(
                    "{what} -> {}: leaks {m}: {:.300}",
                    res.status, res.text
                ));
            }
        }
    }
}

pub(crate) fn bearer_request(
    method: &Method,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> Request<Body> {
    let mut req = Request::builder().method(method.clone()).uri(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap()
}

/// Data in every module of `who`'s org (names and e-mails carry `mark`), through the API where
/// it has routes: a lead, a tag, a team, an API setting, a document, and a comment and an
/// attachment on a record of each commentable module.
pub(crate) async fn seed(app: &TestApp, who: &TestUser, mark: &str) {
    let res = app
        .post("/api/leads/", Some(&who.access), &json!({"title": format!("{mark} lead"), "first_name": format!("{mark}first"), "email": format!("{mark}-lead@example.com")}))
        .await;
    assert!(res.status.is_success(), "lead: {}", res.text);
    let res = app
        .post(
            "/api/tags/",
            Some(&who.access),
            &json!({"name": format!("{mark} tag")}),
        )
        .await;
    assert!(res.status.is_success(), "tag: {}", res.text);
    let res = app
        .post("/api/teams/", Some(&who.access), &json!({"name": format!("{mark} team"), "description": format!("{mark} team desc"), "users": [who.profile_id]}))
        .await;
    assert!(res.status.is_success(), "team: {}", res.text);
    let res = app
        .post("/api/api-settings/", Some(&who.access), &json!({"title": format!("{mark} site"), "website": format!("https://{mark}.example.com"), "lead_assigned_to": [who.profile_id]}))
        .await;
    assert!(res.status.is_success(), "api setting: {}", res.text);
    let res = send_multipart(
        app,
        Method::POST,
        "/api/documents/",
        &who.access,
        &[("title", &format!("{mark} doc"))],
        &[("document_file", &format!("{mark}.pdf"), PDF)],
    )
    .await;
    assert!(res.status.is_success(), "document: {}", res.text);
    // Boards: a board (with its default columns), an extra column and a card.
    let res = app
        .post(
            "/api/boards/",
            Some(&who.access),
            &json!({"name": format!("{mark} board"), "description": format!("{mark} board desc")}),
        )
        .await;
    assert!(res.status.is_success(), "board: {}", res.text);
    let col = res.body["columns"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/boards/{}/columns/", res.body["id"].as_str().unwrap()),
            Some(&who.access),
            &json!({"name": format!("{mark} column")}),
        )
        .await;
    assert!(res.status.is_success(), "board column: {}", res.text);
    let res = app
        .post(
            &format!("/api/boards/columns/{col}/tasks/"),
            Some(&who.access),
            &json!({"title": format!("{mark} card"), "assigned_to_ids": [who.profile_id]}),
        )
        .await;
    assert!(res.status.is_success(), "board card: {}", res.text);
    let res = app
        .post("/api/tasks/", Some(&who.access), &json!({"title": format!("{mark} task"), "status": "New", "priority": "High", "due_date": "2026-12-01", "assigned_to": [who.profile_id]}))
        .await;
    assert!(res.status.is_success(), "task: {}", res.text);
    // Opportunities: one with a product line item, so line-item routes get real ids.
    let res = app
        .post(
            "/api/opportunities/",
            Some(&who.access),
            &json!({"name": format!("{mark} deal"), "amount": 10}),
        )
        .await;
    assert!(res.status.is_success(), "opportunity: {}", res.text);
    let opp = res.body["id"].as_str().unwrap().to_string();
    let product = Uuid::new_v4();
    sqlx::query("INSERT INTO product (created_at, updated_at, id, org_id, name, price, is_active) VALUES (now(), now(), $1, $2, $3, 5, true)")
        .bind(product).bind(who.org_id).bind(format!("{mark} product"))
        .execute(&app.db.admin).await.unwrap();
    let res = app
        .post(
            &format!("/api/opportunities/{opp}/line-items/"),
            Some(&who.access),
            &json!({"product_id": product, "quantity": 2}),
        )
        .await;
    assert!(res.status.is_success(), "line item: {}", res.text);
    let res = app
        .post("/api/events/", Some(&who.access), &json!({"name": format!("{mark} event"), "start": "2026-05-04T10:00:00Z",
              "end": "2026-05-04T11:00:00Z", "rrule": "FREQ=DAILY;COUNT=3", "assigned_to": [who.profile_id]}))
        .await;
    assert!(res.status.is_success(), "event: {}", res.text);
    let event = res.body["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/events/comment/{event}/"),
            Some(&who.access),
            &json!({"comment": format!("{mark} comment")}),
        )
        .await;
    assert!(res.status.is_success(), "event comment: {}", res.text);
    // E-mails and marketing: a contact's e-mail from a template, a form and a submission.
    let c = app
        .post("/api/contacts/", Some(&who.access), &json!({"first_name": format!("{mark}c"), "last_name": "Mail", "email": format!("{mark}-mail@example.com")}))
        .await;
    assert!(c.status.is_success(), "contact: {}", c.text);
    let tpl = app
        .post("/api/emails/templates/", Some(&who.access), &json!({"name": format!("{mark} template"), "subject": format!("{mark} {{{{ first_name }}}}"), "is_shared": true}))
        .await;
    assert!(tpl.status.is_success(), "template: {}", tpl.text);
    let res = app
        .post("/api/emails/", Some(&who.access), &json!({"record_type": "contact", "record_id": c.body["id"], "template": tpl.body["id"]}))
        .await;
    assert!(res.status.is_success(), "e-mail: {}", res.text);
    let res = app
        .post(
            "/api/marketing/forms/",
            Some(&who.access),
            &json!({"name": format!("{mark} form")}),
        )
        .await;
    assert!(res.status.is_success(), "form: {}", res.text);
    let key = res.body["key"].as_str().unwrap_or_default().to_string();
    let res = app
        .post(&format!("/api/marketing/forms/{key}/"), None, &json!({"name": format!("{mark} visitor"), "email": format!("{mark}-v@example.com"), "message": mark}))
        .await;
    assert!(res.status.is_success(), "submission: {}", res.text);
    let res = app
        .post(
            "/api/marketing/suppressions/",
            Some(&who.access),
            &json!({"address": format!("{mark}-blocked@example.com")}),
        )
        .await;
    assert!(res.status.is_success(), "suppression: {}", res.text);
    for module in [
        "leads",
        "accounts",
        "contacts",
        "opportunities",
        "cases",
        "tasks",
    ] {
        let id = crate::comments::record(app, module, who.org_id, who.user_id).await;
        let res = app
            .post(
                &format!("/api/{module}/comment/{id}/"),
                Some(&who.access),
                &json!({"comment": format!("{mark} comment")}),
            )
            .await;
        assert!(res.status.is_success(), "comment {module}: {}", res.text);
        let res = send_multipart(
            app,
            Method::POST,
            &format!("/api/{module}/attachment/{id}/"),
            &who.access,
            &[],
            &[("attachment", &format!("{mark}-att.pdf"), PDF)],
        )
        .await;
        assert!(res.status.is_success(), "attachment {module}: {}", res.text);
    }
    // Cases: a case with its links and a solution linked to it.
    let res = app
        .post("/api/cases/", Some(&who.access), &json!({"name": format!("{mark} case"), "status": "New", "priority": "High", "assigned_to": [who.profile_id]}))
        .await;
    assert!(res.status.is_success(), "case: {}", res.text);
    let case = res.body["id"].clone();
    let res = app
        .post("/api/cases/solutions/", Some(&who.access), &json!({"title": format!("{mark} solution"), "description": format!("{mark} fix"), "cases": [case]}))
        .await;
    assert!(res.status.is_success(), "solution: {}", res.text);
    // Invoicing: an invoice with a line item and a payment.
    let (account, contact) =
        crate::invoices::party(app, who.org_id, &format!("{mark} invoice account")).await;
    let inv = crate::invoices::create(
        app,
        who,
        &json!({"invoice_title": format!("{mark} invoice"), "account_id": account, "contact_id": contact,
                "client_name": format!("{mark} client"), "client_email": format!("{mark}-client@example.com"),
                "line_items": [{"name": format!("{mark} line"), "quantity": 1, "unit_price": 100}]}),
    )
    .await;
    let res = app
        .post(
            &format!("/api/invoices/{}/payments/", inv["id"].as_str().unwrap()),
            Some(&who.access),
            &json!({"amount": "10", "payment_date": "2026-01-01", "payment_method": "CASH", "notes": format!("{mark} pay")}),
        )
        .await;
    assert!(res.status.is_success(), "payment: {}", res.text);
}

/// A multipart request from a body built by `json_body`: file-like fields get a small PDF,
/// arrays repeat their field.
pub(crate) fn form_request(method: &Method, path: &str, auth: &str, body: &Value) -> Request<Body> {
    let mut fs: Vec<(String, String)> = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for (k, v) in body.as_object().unwrap() {
        if k.contains("file") || k == "attachment" {
            files.push((k.clone(), "zqxa.pdf".into()));
        } else if let Some(arr) = v.as_array() {
            for x in arr {
                fs.push((k.clone(), x.as_str().unwrap_or("1").to_string()));
            }
        } else {
            fs.push((
                k.clone(),
                v.as_str().map(String::from).unwrap_or(v.to_string()),
            ));
        }
    }
    let fr: Vec<(&str, &str)> = fs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let fl: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(k, n)| (k.as_str(), n.as_str(), PDF))
        .collect();
    let (ct, bytes) = multipart(&fr, &fl);
    Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(bytes))
        .unwrap()
}

#[tokio::test]
async fn tenancy_matrix_every_operation_other_org() {
    let app = TestApp::new().await;
    let a = app.admin("a-admin@example.com").await;
    let b = app.admin("zqxb-admin@example.com").await;
    let b_user = app.member(b.org_id, "zqxb-user@example.com", "USER").await;
    // A member of A too, so A has data of each kind (lists are not empty by accident).
    let _a_user = app.member(a.org_id, "a-user@example.com", "USER").await;
    // A removed member of A: logged in, then the membership deactivated.
    let a_gone = app.member(a.org_id, "a-gone@example.com", "ADMIN").await;
    sqlx::query("UPDATE profile SET is_active = false WHERE id = $1")
        .bind(a_gone.profile_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    let expired = {
        let now = now_secs();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"token_type": "access", "exp": now - 10, "iat": now - 100,
                    "jti": Uuid::new_v4().simple().to_string(), "user_id": a.user_id.to_string(),
                    "org_id": a.org_id.to_string(), "role": "ADMIN"}),
            &jsonwebtoken::EncodingKey::from_secret(app.state.cfg.secret_key.as_bytes()),
        )
        .unwrap()
    };

    // Data in every module of org B (and a little in A), through the API where it has routes.
    for (who, mark) in [(&b, MARK), (&a, "zqxa")] {
        seed(&app, who, mark).await;
    }
    let _ = b_user;

    let ids = b_ids(&app, b.org_id).await;
    // One id per table is enough for the path (the matrix is tables x operations).
    let mut kinds: Vec<BId> = Vec::new();
    for bid in &ids {
        if !kinds.iter().any(|k| k.table == bid.table) {
            kinds.push(bid.clone());
        }
    }
    let (api_key,): (Option<String>,) =
        sqlx::query_as("SELECT api_key::text FROM organization WHERE id = $1")
            .bind(b.org_id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    let mut markers: Vec<String> = ids.iter().map(|b| b.id.to_lowercase()).collect();
    markers.extend(ids.iter().map(|b| b.id.replace('-', "").to_lowercase()));
    markers.extend(api_key.filter(|k| k.len() >= 8));
    markers.push(MARK.into());
    markers.sort();
    markers.dedup();

    let before = checksums(&app, b.org_id).await;

    // Positive control: the detector does see B's data when B's admin reads it.
    let mut control = Tally {
        requests: 0,
        leaks: Vec::new(),
        errors: Vec::new(),
    };
    let res = app.get("/api/leads/", Some(&b.access)).await;
    control.check("control", "", &res, &markers);
    assert!(!control.leaks.is_empty(), "leak detector sees B's own data");

    let doc = app.get("/api/schema/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK, "served OpenAPI document");
    let doc = doc.body;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 10, "the document lists the routes");

    // A's admin with a token minted per request (an operation may revoke older tokens).
    let a_claims = OrgClaims {
        org_id: a.org_id,
        org_name: None,
        default_currency: None,
        default_country: None,
        role: Some("ADMIN".into()),
    };
    let b_claims = OrgClaims {
        org_id: b.org_id,
        org_name: None,
        default_currency: None,
        default_country: None,
        role: Some("ADMIN".into()),
    };
    let mut tally = Tally {
        requests: 0,
        leaks: Vec::new(),
        errors: Vec::new(),
    };
    let mut operations = 0;
    // 2xx answers to A's admin's requests carrying forged org headers (the token is accepted).
    let mut forged_served = 0usize;
    // Statuses of A's admin's calls: proves the minted token is accepted (not all 401s).
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let started = std::time::Instant::now();
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
            operations += 1;
            let OpShape {
                id_params,
                prefixes,
                fields,
                json,
                form_only,
            } = op_shape(&doc, item, op, template);
            // Body ids are picked by field name (`pick`); only path ids need every kind.
            let variants: Vec<&BId> = if id_params.is_empty() {
                vec![&kinds[0]]
            } else {
                kinds.iter().collect()
            };
            for prefix in &prefixes {
                for (vi, kind) in variants.iter().enumerate() {
                    let mut path = prefix.clone();
                    for name in &id_params {
                        path = path.replace(&format!("{{{name}}}"), &kind.id);
                    }
                    let what = format!("{m} {path} [B {}]", kind.table);
                    let body = json_body(&fields, &ids, kind);
                    let token = app
                        .state
                        .jwt
                        .issue_pair(a.user_id, Some(&a_claims), now_secs() + 1)
                        .access;
                    let auth = format!("Bearer {token}");
                    let (req, sent) = if form_only {
                        let req = form_request(&method, &path, &auth, &body);
                        (req, format!("{path} {body}"))
                    } else {
                        let b = json.then_some(&body);
                        (
                            bearer_request(&method, &path, Some(&auth), b),
                            format!("{path} {}", b.map(|v| v.to_string()).unwrap_or_default()),
                        )
                    };
                    let res = app.send(req).await;
                    tally.check(&what, &sent, &res, &markers);
                    *statuses.entry(res.status.as_u16()).or_insert(0usize) += 1;

                    // The other credentials, once per operation (first variant).
                    if vi == 0 {
                        let forged = app
                            .state
                            .jwt
                            .issue_pair(a.user_id, Some(&b_claims), now_secs() + 1)
                            .access;
                        // A's valid token with `org` / `X-Org-ID` headers naming org B: the
                        // org comes from the token only.
                        let own = format!(
                            "Bearer {}",
                            app.state
                                .jwt
                                .issue_pair(a.user_id, Some(&a_claims), now_secs() + 1)
                                .access
                        );
                        let b_org = b.org_id.to_string();
                        for (label, auth, forged_header) in [
                            ("no token", None, None),
                            ("garbage token", Some("Bearer not.a.jwt".to_string()), None),
                            ("token naming org B", Some(format!("Bearer {forged}")), None),
                            ("expired token", Some(format!("Bearer {expired}")), None),
                            (
                                "removed member",
                                Some(format!("Bearer {}", a_gone.access)),
                                None,
                            ),
                            ("forged org header", Some(own.clone()), Some("org")),
                            (
                                "forged X-Org-ID header",
                                Some(own.clone()),
                                Some("x-org-id"),
                            ),
                        ] {
                            let jb = json.then_some(&body);
                            let mut req = if form_only && forged_header.is_some() {
                                form_request(&method, &path, auth.as_deref().unwrap(), &body)
                            } else {
                                bearer_request(&method, &path, auth.as_deref(), jb)
                            };
                            if let Some(h) = forged_header {
                                req.headers_mut()
                                    .insert(h, b_org.parse().expect("header value"));
                            }
                            let res = app.send(req).await;
                            let sent = format!(
                                "{path} {} {}",
                                jb.map(|v| v.to_string()).unwrap_or_default(),
                                if label == "token naming org B" {
                                    b.org_id.to_string()
                                } else {
                                    String::new()
                                }
                            );
                            tally.check(&format!("{what} ({label})"), &sent, &res, &markers);
                            if forged_header.is_some() && res.status.is_success() {
                                forged_served += 1;
                            }
                        }
                    }
                }
            }
        }
    }

    let after = checksums(&app, b.org_id).await;
    let changed: Vec<&String> = before
        .iter()
        .filter(|(t, sum)| after.get(*t) != Some(*sum))
        .map(|(t, _)| t)
        .collect();
    println!(
        "tenancy matrix: {operations} operations, {} kinds of B ids, {} requests, {} leaks, {} 5xx, {} changed tables ({:.1}s)",
        kinds.len(),
        tally.requests,
        tally.leaks.len(),
        tally.errors.len(),
        changed.len(),
        started.elapsed().as_secs_f64()
    );
    println!("tenancy matrix: statuses of org A's admin's calls: {statuses:?}");
    println!("tenancy matrix: {forged_served} requests with forged org headers served (2xx)");
    assert!(
        forged_served > 10,
        "requests with forged org headers are served with A's data"
    );
    let ok = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum::<usize>();
    assert!(
        ok > 10,
        "org A's admin is served (2xx) by some operations: {statuses:?}"
    );
    for l in &tally.leaks {
        println!("LEAK {l}");
    }
    for e in &tally.errors {
        println!("5XX {e}");
    }
    assert!(
        tally.leaks.is_empty() && tally.errors.is_empty() && changed.is_empty(),
        "tenancy matrix failed: {} leaks, {} 5xx, changed tables of org B: {changed:?}",
        tally.leaks.len(),
        tally.errors.len()
    );
}
