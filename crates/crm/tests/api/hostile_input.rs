//! Hostile input catalogue (issue 11, item 4), walked over every operation of the served
//! OpenAPI document: bodies over the limit, deep JSON, invalid UTF-8, wrong content types on
//! every operation that takes a body; path traversal in file names and oversized files on every
//! multipart operation; negative, huge and garbage `limit`/`offset` and SQL-looking strings in
//! every declared query parameter of every list; formula cells in every CSV the document
//! declares; malformed XLSX on every upload. Pass = no 5xx, the expected 4xx, nothing of the org
//! changed by a refused request, no file outside MEDIA_ROOT.
//! (Zip bombs that lie about or declare huge sizes: `leads::leads_import_xlsx_limits`.)

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use crm::testkit::{TestApp, TestResponse, TestUser};
use serde_json::Value;

use crate::documents::{PDF, multipart};
use crate::openapi_responses::validate;
use crate::role_matrix::{Snapshot, method_of, snapshot, sums};
use crate::tenancy_matrix::{BId, OpShape, b_ids, json_body, op_shape, seed};

const MARK: &str = "zqxa";

struct Walk {
    app: TestApp,
    admin: TestUser,
    doc: Value,
    kinds: Vec<BId>,
    ids: Vec<BId>,
    snap: Snapshot,
}

/// An org with data in every module, the document, one id per table.
async fn walk(tweak: impl FnOnce(&mut crm::config::Config)) -> Walk {
    let app = TestApp::with_config(tweak).await;
    let admin = app.admin("hostile@example.com").await;
    seed(&app, &admin, MARK).await;
    let ids = b_ids(&app, admin.org_id).await;
    let mut kinds: Vec<BId> = Vec::new();
    for b in &ids {
        if !kinds.iter().any(|k| k.table == b.table) {
            kinds.push(b.clone());
        }
    }
    let doc = app.get("/api/schema/openapi.json", None).await.body;
    let snap = snapshot(&app, admin.org_id).await;
    Walk {
        app,
        admin,
        doc,
        kinds,
        ids,
        snap,
    }
}

/// Every operation: (method, path with ids of the first fitting kind filled in, shape, op).
fn operations(w: &Walk) -> Vec<(Method, String, OpShape, Value)> {
    let mut out = Vec::new();
    for (template, item) in w.doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let Some(method) = method_of(m) else { continue };
            let shape = op_shape(&w.doc, item, op, template);
            for prefix in &shape.prefixes {
                let mut path = prefix.clone();
                for name in &shape.id_params {
                    path = path.replace(&format!("{{{name}}}"), &w.kinds[0].id);
                }
                out.push((
                    method.clone(),
                    path,
                    op_shape(&w.doc, item, op, template),
                    op.clone(),
                ));
            }
        }
    }
    out
}

fn raw(method: &Method, path: &str, token: &str, ct: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap()
}

#[derive(Default)]
struct Tally {
    requests: usize,
    failures: Vec<String>,
}

impl Tally {
    fn expect(&mut self, what: &str, res: &TestResponse, ok: &[StatusCode]) {
        self.requests += 1;
        if !ok.contains(&res.status) {
            self.failures.push(format!(
                "{what} -> {} (want {ok:?}): {:.200}",
                res.status, res.text
            ));
        } else if res.status.is_client_error() && !res.body.is_object() {
            self.failures.push(format!(
                "{what} -> {}: not a JSON error: {:.200}",
                res.status, res.text
            ));
        }
    }
    /// The refusal matches the schema the document declares for its status, if any.
    fn conforms(&mut self, doc: &Value, op: &Value, what: &str, res: &TestResponse) {
        let schema = &op["responses"][res.status.as_str()]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return;
        }
        let mut errs = Vec::new();
        validate(doc, schema, &res.body, "$", false, &mut errs);
        for e in errs {
            self.failures
                .push(format!("{what} -> {}: off its schema: {e}", res.status));
        }
    }
    fn no_5xx(&mut self, what: &str, res: &TestResponse) {
        self.requests += 1;
        let switched_off =
            res.status == StatusCode::SERVICE_UNAVAILABLE && res.text.contains("is not configured");
        if res.status.is_server_error() && !switched_off {
            self.failures
                .push(format!("{what} -> {}: {:.200}", res.status, res.text));
        }
    }
    fn finish(self, name: &str, app_changed: Vec<String>) {
        println!(
            "hostile input ({name}): {} requests, {} failures, {} changed tables",
            self.requests,
            self.failures.len(),
            app_changed.len()
        );
        for f in &self.failures {
            println!("HOSTILE {f}");
        }
        assert!(
            self.failures.is_empty() && app_changed.is_empty(),
            "hostile input ({name}): {} failures, changed: {app_changed:?}",
            self.failures.len()
        );
    }
}

async fn changed(w: &Walk, before: &BTreeMap<String, (String, i64)>) -> Vec<String> {
    let after = sums(&w.app, w.admin.org_id, &w.snap, &[]).await;
    before
        .iter()
        .filter(|(t, v)| after.get(*t) != Some(*v))
        .map(|(t, _)| t.clone())
        .collect()
}

/// Bodies the server must refuse before a handler acts on them, on every operation with a
/// JSON or form body: nothing of the org changes.
#[tokio::test]
async fn hostile_bodies_on_every_operation() {
    const LIMIT: usize = 16 * 1024;
    let w = walk(|c| {
        c.json_body_limit = LIMIT;
        c.upload_max_bytes = 4096;
    })
    .await;
    let before = sums(&w.app, w.admin.org_id, &w.snap, &[]).await;
    let token = w.admin.access.clone();
    let mut t = Tally::default();
    let mut ops = 0;
    let bad_request = [StatusCode::BAD_REQUEST];
    for (method, path, shape, op) in operations(&w) {
        if !shape.json {
            continue;
        }
        ops += 1;
        let what = |k: &str| format!("{method} {path} ({k})");
        let over = format!("{{\"name\": \"{}\"}}", "x".repeat(LIMIT + 10));
        let res = w
            .app
            .send(raw(
                &method,
                &path,
                &token,
                "application/json",
                over.into_bytes(),
            ))
            .await;
        t.expect(
            &what("body over the limit"),
            &res,
            &[StatusCode::PAYLOAD_TOO_LARGE],
        );
        t.conforms(&w.doc, &op, &what("body over the limit"), &res);
        // 5,000 levels (within the size limit): refused by the parser's depth limit, not by a
        // stack overflow.
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(5_000), "]".repeat(5_000));
        let res = w
            .app
            .send(raw(
                &method,
                &path,
                &token,
                "application/json",
                deep.into_bytes(),
            ))
            .await;
        t.expect(&what("deep JSON"), &res, &bad_request);
        t.conforms(&w.doc, &op, &what("deep JSON"), &res);
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(2_000), "}".repeat(2_000));
        let res = w
            .app
            .send(raw(
                &method,
                &path,
                &token,
                "application/json",
                deep_obj.into_bytes(),
            ))
            .await;
        t.expect(&what("deep JSON objects"), &res, &bad_request);
        t.conforms(&w.doc, &op, &what("deep JSON objects"), &res);
        let res = w
            .app
            .send(raw(
                &method,
                &path,
                &token,
                "application/json",
                b"{\"name\": \"\xff\xfe\xc3\x28\"}".to_vec(),
            ))
            .await;
        t.expect(&what("invalid UTF-8 JSON"), &res, &bad_request);
        t.conforms(&w.doc, &op, &what("invalid UTF-8 JSON"), &res);
        let res = w
            .app
            .send(raw(
                &method,
                &path,
                &token,
                "application/x-www-form-urlencoded",
                b"name=%FF%FE&title=\xff\xfe".to_vec(),
            ))
            .await;
        t.expect(&what("invalid UTF-8 form"), &res, &bad_request);
        t.conforms(&w.doc, &op, &what("invalid UTF-8 form"), &res);
        for ct in [
            "text/plain",
            "application/xml",
            "image/png",
            "multipart/form-data",
        ] {
            let res = w
                .app
                .send(raw(
                    &method,
                    &path,
                    &token,
                    ct,
                    b"{\"name\": \"zqxa text\"}".to_vec(),
                ))
                .await;
            let ok: &[StatusCode] = if ct.starts_with("multipart") {
                // No boundary: unreadable as a form.
                &[StatusCode::UNSUPPORTED_MEDIA_TYPE, StatusCode::BAD_REQUEST]
            } else {
                &[StatusCode::UNSUPPORTED_MEDIA_TYPE]
            };
            t.expect(&what(&format!("content type {ct}")), &res, ok);
            t.conforms(&w.doc, &op, &what(&format!("content type {ct}")), &res);
        }
    }
    assert!(ops > 20, "operations with a JSON body: {ops}");
    let changed = changed(&w, &before).await;
    t.finish("bodies", changed);
}

/// Every multipart operation: a file over the upload limit is a 413; a file name climbing out
/// of MEDIA_ROOT stores nothing outside it and no stored path or download name carries `..`.
#[tokio::test]
async fn hostile_uploads_on_every_multipart_operation() {
    let w = walk(|_| {}).await;
    let token = w.admin.access.clone();
    let mut t = Tally::default();
    let outside = std::env::temp_dir().join(format!("zqx-evil-{}", std::process::id()));
    let escape = format!("../../../../../../..{}/evil.pdf", outside.display());
    let names = [
        escape.as_str(),
        "..\\..\\..\\..\\windows\\evil.pdf",
        "/etc/zqx-evil.pdf",
        "a/../../../zqx-evil.pdf",
        "%2e%2e%2f%2e%2e%2fzqx-evil.pdf",
        "..",
        "evil\0.pdf",
    ];
    let mut ops = 0;
    for (method, path, shape, _) in operations(&w) {
        if !shape.form_only {
            continue;
        }
        let file_fields: Vec<&str> = shape
            .fields
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.contains("file") || *n == "attachment")
            .collect();
        if file_fields.is_empty() {
            continue;
        }
        ops += 1;
        let body = json_body(&shape.fields, &w.ids, &w.kinds[0]);
        let text: Vec<(String, String)> = body
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !file_fields.contains(&k.as_str()))
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect();
        let fields: Vec<(&str, &str)> =
            text.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Over UPLOAD_MAX_BYTES (10 MiB) and over the lead import's own 10 MiB.
        let big = vec![b'%'; 11 * 1024 * 1024];
        let files: Vec<(&str, &str, &[u8])> = file_fields
            .iter()
            .map(|f| (*f, "big.pdf", &big[..]))
            .collect();
        let (ct, bytes) = multipart(&fields, &files);
        let res = w.app.send(raw(&method, &path, &token, &ct, bytes)).await;
        t.expect(
            &format!("{method} {path} (file over the upload limit)"),
            &res,
            &[StatusCode::PAYLOAD_TOO_LARGE, StatusCode::NOT_FOUND],
        );
        for name in names {
            let files: Vec<(&str, &str, &[u8])> =
                file_fields.iter().map(|f| (*f, name, PDF)).collect();
            let (ct, bytes) = multipart(&fields, &files);
            let res = w.app.send(raw(&method, &path, &token, &ct, bytes)).await;
            t.no_5xx(&format!("{method} {path} (file name {name:?})"), &res);
        }
    }
    assert!(ops >= 3, "multipart operations with a file: {ops}");
    // Nothing outside MEDIA_ROOT, no stored path with `..` or a leading `/`.
    t.requests += 1;
    if outside.exists() || std::path::Path::new("/etc/zqx-evil.pdf").exists() {
        t.failures.push(format!(
            "a file was written outside MEDIA_ROOT: {}",
            outside.display()
        ));
    }
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
          WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying')
            AND (c.column_name LIKE '%file%' OR c.column_name IN ('attachment', 'path', 'key'))",
    )
    .fetch_all(&w.app.db.admin)
    .await
    .unwrap();
    for (table, col) in cols {
        let bad: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT \"{col}\"::text FROM \"{table}\" WHERE \"{col}\" LIKE '%..%' OR \"{col}\" LIKE '/%' OR \"{col}\" LIKE '%\\%'"
        )))
        .fetch_all(&w.app.db.admin)
        .await
        .unwrap();
        for (v,) in bad {
            t.failures
                .push(format!("stored path {table}.{col} = {v:?}"));
        }
    }
    // Downloads name the file without a directory.
    for (method, path, _, op) in operations(&w) {
        if method != Method::GET || !path.contains("download") {
            continue;
        }
        let _ = op;
        for b in &w.ids {
            let p = path.replace(&w.kinds[0].id, &b.id);
            let res = w.app.get(&p, Some(&token)).await;
            t.no_5xx(&format!("GET {p}"), &res);
            if let Some(cd) = res.headers.get(header::CONTENT_DISPOSITION) {
                let cd = cd.to_str().unwrap_or("");
                if cd.contains("..") || cd.contains('/') || cd.contains('\\') {
                    t.failures
                        .push(format!("GET {p}: Content-Disposition {cd:?}"));
                }
            }
        }
    }
    t.finish("uploads", Vec::new());
}

/// Every list (GET without an id in the path): garbage paging, and SQL-looking values in every
/// declared query parameter. A value must match only what its text matches: compared with a
/// plain value that matches nothing, an injection must not bring rows back.
#[tokio::test]
async fn hostile_query_strings_on_every_list() {
    let w = walk(|_| {}).await;
    let before = sums(&w.app, w.admin.org_id, &w.snap, &[]).await;
    let token = w.admin.access.clone();
    let mut t = Tally::default();
    let mut lists = 0;
    let paging = [
        "limit=-1&offset=-1",
        "limit=0&offset=0",
        "limit=99999999999999999999999&offset=99999999999999999999999",
        "limit=9223372036854775807&offset=9223372036854775807",
        "limit=1000&offset=9223372036854775000",
        "limit=-9223372036854775808&offset=-9223372036854775808",
        "limit=1e3&offset=0x10",
        "limit=%00&offset=%00",
        "limit=&offset=",
        "limit=10&limit=20&offset=abc",
    ];
    let injections = [
        "' OR '1'='1",
        "1; DROP TABLE lead; --",
        "%' OR 1=1 --",
        "%",
        "_",
        "\\",
        "') OR ('x'='x",
        "%00",
        "\u{0}",
        "zqxa' UNION SELECT id::text FROM users --",
    ];
    for (method, path, shape, op) in operations(&w) {
        if method != Method::GET || !shape.id_params.is_empty() || path.contains("download") {
            continue;
        }
        lists += 1;
        for q in paging {
            let res = w.app.get(&format!("{path}?{q}"), Some(&token)).await;
            t.no_5xx(&format!("GET {path}?{q}"), &res);
        }
        let params: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(String::from))
            .filter(|n| n != "limit" && n != "offset")
            .collect();
        for p in params {
            let control = w
                .app
                .get(&format!("{path}?{p}=qqnomatchqq"), Some(&token))
                .await;
            t.no_5xx(&format!("GET {path}?{p}=control"), &control);
            let control_hits = control.text.to_lowercase().contains(MARK);
            for v in injections {
                let enc: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                let res = w.app.get(&format!("{path}?{p}={enc}"), Some(&token)).await;
                let what = format!("GET {path}?{p}={v:?}");
                t.no_5xx(&what, &res);
                if res.status.is_success()
                    && control.status.is_success()
                    && !control_hits
                    && res.text.to_lowercase().contains(MARK)
                    && !v.contains(MARK)
                {
                    t.failures.push(format!(
                        "{what}: rows that the control value did not match: {:.200}",
                        res.text
                    ));
                }
            }
        }
    }
    assert!(lists > 10, "lists walked: {lists}");
    // The tables are all still there, and unchanged.
    let changed = changed(&w, &before).await;
    t.finish("query strings", changed);
}

/// Every CSV the document declares: a cell starting with = + - @ tab or CR is prefixed with `'`.
#[tokio::test]
async fn csv_exports_escape_formula_cells() {
    let w = walk(|_| {}).await;
    // Formula-like text in every name-like column of the org's rows.
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
           JOIN information_schema.columns o ON o.table_schema = c.table_schema AND o.table_name = c.table_name
                AND o.column_name = 'org_id'
          WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying')
            AND c.column_name IN ('title', 'name', 'first_name', 'last_name', 'description', 'city',
                                  'state', 'phone', 'address_line', 'street', 'website', 'company_name')",
    )
    .fetch_all(&w.app.db.admin)
    .await
    .unwrap();
    for (i, (table, col)) in cols.iter().enumerate() {
        let prefix = ["=", "+", "-", "@", "\t", "\r"][i % 6];
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE \"{table}\" SET \"{col}\" = $2 || coalesce(\"{col}\", 'x') WHERE org_id = $1"
        )))
        .bind(w.admin.org_id)
        .bind(prefix)
        .execute(&w.app.db.admin)
        .await
        .unwrap_or_else(|e| panic!("{table}.{col}: {e}"));
    }
    let mut t = Tally::default();
    let (mut exports, mut cells, mut escaped) = (0, 0, 0);
    for (method, path, _, op) in operations(&w) {
        let csv_declared = op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, r)| r["content"].get("text/csv").is_some());
        if method != Method::GET || !csv_declared {
            continue;
        }
        exports += 1;
        let res = w.app.get(&path, Some(&w.admin.access)).await;
        t.expect(&format!("GET {path}"), &res, &[StatusCode::OK]);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(res.text.as_bytes());
        for row in reader.records() {
            let row = row.expect("valid CSV");
            for cell in row.iter() {
                cells += 1;
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    t.failures
                        .push(format!("GET {path}: formula cell {cell:?}"));
                }
                if cell.starts_with('\'') {
                    escaped += 1;
                }
            }
        }
    }
    println!("csv exports: {exports} exports, {cells} cells, {escaped} escaped");
    assert!(
        exports >= 1 && escaped >= 4,
        "the exports carry the formula cells, escaped"
    );
    t.finish("csv", Vec::new());
}

/// Every multipart operation that takes a spreadsheet (its description names XLSX): malformed
/// archives are a 400 and create nothing.
#[tokio::test]
async fn malformed_xlsx_on_every_import() {
    let w = walk(|_| {}).await;
    let before = sums(&w.app, w.admin.org_id, &w.snap, &[]).await;
    let mut t = Tally::default();
    let mut zip_ok = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut zip_ok));
        z.start_file("hello.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"not a workbook").unwrap();
        z.finish().unwrap();
    }
    let mut truncated = zip_ok.clone();
    truncated.truncate(zip_ok.len() / 2);
    let mut flipped = zip_ok.clone();
    for b in flipped.iter_mut().skip(30).take(20) {
        *b ^= 0xff;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\x01\x02 not a zip at all".to_vec()),
        ("empty", Vec::new()),
        ("zip magic only", b"PK\x03\x04".to_vec()),
        ("zip without a workbook", zip_ok.clone()),
        ("truncated zip", truncated),
        ("corrupted zip", flipped),
        ("PDF named xlsx", PDF.to_vec()),
    ];
    let mut ops = 0;
    for (method, path, shape, op) in operations(&w) {
        let desc = format!("{} {}", op["description"], op["requestBody"]).to_lowercase();
        if !shape.form_only || !desc.contains("xlsx") {
            continue;
        }
        ops += 1;
        let field = shape
            .fields
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| n.contains("file"))
            .unwrap_or("file");
        for (label, bytes) in &cases {
            let (ct, body) = multipart(&[], &[(field, "leads.xlsx", bytes)]);
            let res = w
                .app
                .send(raw(&method, &path, &w.admin.access, &ct, body))
                .await;
            t.expect(
                &format!("{method} {path} ({label})"),
                &res,
                &[StatusCode::BAD_REQUEST],
            );
        }
    }
    assert!(ops >= 1, "imports taking XLSX: {ops}");
    let changed = changed(&w, &before).await;
    t.finish("xlsx", changed);
}
