//! Role matrix (issue 11, item 2): every operation of the served OpenAPI document is called by a
//! USER of org A with org A's ids (every table's, in the path and in every id-like body field).
//! - Operations the document marks admin-only (`x-admin-only: true`, read from the document, so
//!   a module's route is covered once its handler carries the mark) must answer 403 or 404 and
//!   change nothing of org A: every table's rows and row count are compared before and after.
//! - Every operation: no 5xx, no byte of what the USER may not see in the answer (records the
//!   admin created and did not assign or share: their ids, and the marker `zqxh` in their names,
//!   e-mails, comments and file names), and none of the rows that existed before the walk
//!   changed (the USER's own profile aside): a USER never edits or deletes the admin's records.
//! - Lists: the USER's lists show the member's own and assigned records, and the admin's lists
//!   show the hidden ones (the detector works).
//!
//! Org-wide lookups every member reads (tags, teams, profiles) are renamed before the walk so
//! they carry no marker; they are still in the "unchanged" check.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use crm::auth::jwt::{OrgClaims, now_secs};
use crm::testkit::{TestApp, TestResponse};
use serde_json::json;
use uuid::Uuid;

use crate::tenancy_matrix::{
    BId, OpShape, b_ids, bearer_request, form_request, json_body, op_shape, seed,
};

const HIDDEN: &str = "zqxh";

/// Tables whose rows every member may read (lookups): not markers of hidden data.
const LOOKUPS: &[&str] = &[
    "tags",
    "teams",
    "profile",
    "organization",
    "users",
    "product",
    "crm_email_template",
];

pub(crate) type Snapshot = BTreeMap<String, Vec<String>>;

/// Ids of org `org`'s rows per table (tables with `org_id` and `id`).
pub(crate) async fn snapshot(app: &TestApp, org: Uuid) -> Snapshot {
    let mut out = Snapshot::new();
    for b in b_ids(app, org).await {
        if b.table == "users" {
            continue;
        }
        out.entry(b.table).or_default().push(b.id);
    }
    out
}

/// Per table: md5 of the snapshot's rows (less `except`) and the number of the org's rows.
pub(crate) async fn sums(
    app: &TestApp,
    org: Uuid,
    snap: &Snapshot,
    except: &[String],
) -> BTreeMap<String, (String, i64)> {
    let mut out = BTreeMap::new();
    for (t, ids) in snap {
        let ids: Vec<&String> = ids.iter().filter(|i| !except.contains(i)).collect();
        let (key, filter) = if t == "organization" {
            ("id", "id = $1")
        } else {
            ("id", "org_id = $1")
        };
        let q = format!(
            "SELECT (SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{t}\" x
                      WHERE {key}::text = ANY($2)),
                    (SELECT count(*) FROM \"{t}\" WHERE {filter})"
        );
        let (sum, n): (Option<String>, i64) = sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(org)
            .bind(&ids)
            .fetch_one(&app.db.admin)
            .await
            .unwrap_or_else(|e| panic!("checksum of {t}: {e}"));
        out.insert(t.clone(), (sum.unwrap_or_default(), n));
    }
    out
}

pub(crate) fn method_of(m: &str) -> Option<Method> {
    Some(match m {
        "get" => Method::GET,
        "post" => Method::POST,
        "put" => Method::PUT,
        "patch" => Method::PATCH,
        "delete" => Method::DELETE,
        _ => return None,
    })
}

/// The markers of hidden data in `text` that `sent` does not carry.
fn leaked<'a>(res: &TestResponse, sent: &str, markers: &'a [String]) -> Vec<&'a str> {
    let text = format!("{} {:?}", res.text, res.headers).to_lowercase();
    let sent = sent.to_lowercase();
    markers
        .iter()
        .filter(|m| text.contains(m.as_str()) && !sent.contains(m.as_str()))
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn role_matrix_every_operation_as_user() {
    let app = TestApp::new().await;
    let admin = app.admin("r-admin@example.com").await;
    let user = app.member(admin.org_id, "r-user@example.com", "USER").await;
    let _other = app
        .member(admin.org_id, "r-other@example.com", "USER")
        .await;
    let org = admin.org_id;

    // Hidden data: the admin's, in every module, assigned to nobody but the admin.
    seed(&app, &admin, HIDDEN).await;
    for (table, cols) in [
        ("tags", "name = 'shared tag', slug = 'shared-tag'"),
        ("teams", "name = 'shared team', description = ''"),
        // The product catalogue and shared e-mail templates are every member's to read.
        ("product", "name = 'shared product'"),
        (
            "crm_email_template",
            "name = 'shared template', subject = 'shared'",
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE \"{table}\" SET {cols} WHERE org_id = $1"
        )))
        .bind(org)
        .execute(&app.db.admin)
        .await
        .unwrap();
    }
    let all = b_ids(&app, org).await;
    let mut markers: Vec<String> = all
        .iter()
        .filter(|b| !LOOKUPS.contains(&b.table.as_str()))
        .flat_map(|b| [b.id.to_lowercase(), b.id.replace('-', "").to_lowercase()])
        .collect();
    let table_of: BTreeMap<String, String> = all
        .iter()
        .map(|b| (b.id.to_lowercase(), b.table.clone()))
        .collect();
    let name = |m: &str| format!("{m} ({})", table_of.get(m).map_or("text", String::as_str));
    markers.push(HIDDEN.into());
    markers.sort();
    markers.dedup();
    let snap = snapshot(&app, org).await;

    // What the USER may see: a lead of their own and one the admin assigned to them.
    let res = app
        .post(
            "/api/leads/",
            Some(&user.access),
            &json!({"title": "own lead", "first_name": "Own"}),
        )
        .await;
    assert!(res.status.is_success(), "own lead: {}", res.text);
    let res = app
        .post(
            "/api/leads/",
            Some(&admin.access),
            &json!({"title": "assigned lead", "first_name": "Given", "assigned_to": [user.profile_id]}),
        )
        .await;
    assert!(res.status.is_success(), "assigned lead: {}", res.text);
    let res = app.get("/api/leads/", Some(&user.access)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.text.contains("own lead") && res.text.contains("assigned lead"),
        "the USER's lead list shows own and assigned leads: {:.500}",
        res.text
    );
    assert!(
        leaked(&res, "", &markers).is_empty(),
        "the USER's lead list hides the admin's lead: {:?} in {:.1000}",
        leaked(&res, "", &markers)
            .iter()
            .map(|m| name(m))
            .collect::<Vec<_>>(),
        res.text
    );
    let res = app.get("/api/leads/", Some(&admin.access)).await;
    assert!(
        !leaked(&res, "", &markers).is_empty(),
        "leak detector sees the hidden lead in the admin's list"
    );

    let doc = app.get("/api/schema/openapi.json", None).await.body;
    let paths = doc["paths"].as_object().expect("paths");
    // One id per table for paths (all of org A's tables, lookups too).
    let mut kinds: Vec<BId> = Vec::new();
    for b in &all {
        if !kinds.iter().any(|k| k.table == b.table) {
            kinds.push(b.clone());
        }
    }
    let claims = OrgClaims {
        org_id: org,
        org_name: None,
        default_currency: None,
        default_country: None,
        role: Some("USER".into()),
    };
    let admin_claims = OrgClaims {
        role: Some("ADMIN".into()),
        ..claims.clone()
    };
    let token = |user_id: Uuid, c: &OrgClaims| {
        format!(
            "Bearer {}",
            app.state
                .jwt
                .issue_pair(user_id, Some(c), now_secs() + 1)
                .access
        )
    };
    let keep = vec![user.profile_id.to_string()];

    let mut requests = 0usize;
    let mut admin_only = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut lists_checked, mut lists_hiding) = (0usize, 0usize);
    let started = std::time::Instant::now();
    // Admin-only operations first, each with a whole-org comparison; then the rest.
    for pass_admin_only in [true, false] {
        let before_pass = sums(&app, org, &snap, &keep).await;
        for (template, item) in paths {
            for (m, op) in item.as_object().unwrap() {
                let Some(method) = method_of(m) else { continue };
                let marked = op["x-admin-only"] == json!(true);
                if marked != pass_admin_only {
                    continue;
                }
                admin_only += usize::from(marked);
                let OpShape {
                    id_params,
                    prefixes,
                    fields,
                    json,
                    form_only,
                } = op_shape(&doc, item, op, template);
                let variants: Vec<&BId> = if id_params.is_empty() {
                    vec![&kinds[0]]
                } else {
                    kinds.iter().collect()
                };
                let before = if marked {
                    Some(sums(&app, org, &snap, &[]).await)
                } else {
                    None
                };
                for prefix in &prefixes {
                    for kind in &variants {
                        let mut path = prefix.clone();
                        for name in &id_params {
                            path = path.replace(&format!("{{{name}}}"), &kind.id);
                        }
                        let what = format!("{m} {path} [A {}]", kind.table);
                        let body = json_body(&fields, &all, kind);
                        let auth = token(user.user_id, &claims);
                        let req = if form_only {
                            form_request(&method, &path, &auth, &body)
                        } else {
                            bearer_request(&method, &path, Some(&auth), json.then_some(&body))
                        };
                        let sent = format!("{path} {body}");
                        let res = app.send(req).await;
                        requests += 1;
                        *statuses.entry(res.status.as_u16()).or_default() += 1;
                        let switched_off = res.status == StatusCode::SERVICE_UNAVAILABLE
                            && res.text.contains("is not configured");
                        if res.status.is_server_error() && !switched_off {
                            failures
                                .push(format!("5xx: {what} -> {}: {:.200}", res.status, res.text));
                        }
                        if marked
                            && !matches!(res.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
                        {
                            failures.push(format!(
                                "admin-only served to a USER: {what} -> {}: {:.200}",
                                res.status, res.text
                            ));
                        }
                        let l: Vec<String> = leaked(&res, &sent, &markers)
                            .iter()
                            .map(|m| name(m))
                            .collect();
                        if !l.is_empty() {
                            failures.push(format!(
                                "USER sees hidden data: {what} -> {}: {l:?} in {:.300}",
                                res.status, res.text
                            ));
                        }
                        // A list: the admin's answer shows hidden data, the USER's does not.
                        if method == Method::GET && id_params.is_empty() && res.status.is_success()
                        {
                            lists_checked += 1;
                            let a = app
                                .send(bearer_request(
                                    &method,
                                    &path,
                                    Some(&token(admin.user_id, &admin_claims)),
                                    None,
                                ))
                                .await;
                            requests += 1;
                            if !leaked(&a, "", &markers).is_empty() {
                                lists_hiding += 1;
                            }
                        }
                    }
                }
                if let Some(before) = before {
                    let after = sums(&app, org, &snap, &[]).await;
                    for (t, v) in &before {
                        if after.get(t) != Some(v) {
                            failures.push(format!(
                                "admin-only {m} {template} by a USER changed {t}: {v:?} -> {:?}",
                                after.get(t)
                            ));
                        }
                    }
                }
            }
        }
        let after_pass = sums(&app, org, &snap, &keep).await;
        for (t, (sum, _)) in &before_pass {
            if after_pass.get(t).map(|(s, _)| s) != Some(sum) {
                failures.push(format!(
                    "a USER changed rows of {t} that existed before ({} operations)",
                    if pass_admin_only {
                        "admin-only"
                    } else {
                        "other"
                    }
                ));
            }
        }
    }
    println!(
        "role matrix: {admin_only} admin-only operations, {requests} requests, {} failures, {lists_checked} USER lists checked ({lists_hiding} where the admin sees hidden rows) ({:.1}s)",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    println!("role matrix: statuses of the USER's calls: {statuses:?}");
    for f in &failures {
        println!("ROLE {f}");
    }
    assert!(admin_only >= 20, "the document marks admin-only operations");
    assert!(
        lists_hiding >= 3,
        "some lists hide the admin's rows from the USER"
    );
    assert!(
        failures.is_empty(),
        "role matrix: {} failures",
        failures.len()
    );
}
