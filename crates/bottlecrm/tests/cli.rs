//! The binary, run as an operator would: exit codes and output of each subcommand.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crm::testkit::TestDb;

fn bottlecrm(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("SECRET_KEY", "cli-test-secret-key-0123456789")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run bottlecrm")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn migrate_then_rls_status_and_failure_when_a_policy_is_dropped() {
    let db = TestDb::empty().await;
    let out = bottlecrm(&db.url(), &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applied 0001"));
    // One line per migration, never the SQL (0001 used to be logged whole as a slow statement).
    assert!(!text(&out).contains("CREATE TABLE"), "{}", text(&out));
    assert!(text(&out).len() < 10_000, "{}", text(&out));
    let out = bottlecrm(&db.url(), &["rls", "status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("teams_users"));
    sqlx::query("DROP POLICY org_isolation ON contacts")
        .execute(&db.admin)
        .await
        .unwrap();
    let out = bottlecrm(&db.url(), &["rls", "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("MISSING"));
    let out = bottlecrm(&db.url(), &["rls", "enable"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(bottlecrm(&db.url(), &["rls", "status"]).status.success());
    let out = bottlecrm(&db.url(), &["rls", "disable", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("WARNING"));
    assert_eq!(
        bottlecrm(&db.url(), &["rls", "status"]).status.code(),
        Some(1)
    );
}

#[tokio::test]
async fn verify_user_and_self_test() {
    let db = TestDb::new().await;
    let out = bottlecrm(&db.url(), &["rls", "verify-user"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "superuser is unsafe: {}",
        text(&out)
    );
    assert!(text(&out).contains("SUPERUSER"));
    let out = bottlecrm(&db.app_url(), &["rls", "verify-user"]);
    assert!(out.status.success(), "{}", text(&out));
    // With a local superuser URL the test runs as the app role, like serve.
    let out = bottlecrm(&db.url(), &["rls", "test"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("PASS"));
    assert!(text(&out).contains("as crm_app"));
}

#[tokio::test]
async fn createsuperuser_is_non_interactive() {
    let db = TestDb::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .args([
            "createsuperuser",
            "--email",
            "root@example.com",
            "--org-name",
            "Root Org",
        ])
        .env("DATABASE_URL", db.url())
        .env("BOTTLECRM_PASSWORD", "from-env-pass")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (su, role): (bool, String) = sqlx::query_as(
        "SELECT u.is_superuser, p.role FROM users u JOIN profile p ON p.user_id = u.id
         JOIN organization o ON o.id = p.org_id WHERE u.email = 'root@example.com' AND o.name = 'Root Org'",
    )
    .fetch_one(&db.admin)
    .await
    .unwrap();
    assert!(su);
    assert_eq!(role, "ADMIN");
    // A second time: a clear error, not a crash.
    let out = bottlecrm(
        &db.url(),
        &[
            "createsuperuser",
            "--email",
            "root@example.com",
            "--password",
            "another-pass",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"));
}

#[tokio::test]
async fn bad_configuration_is_one_clear_line() {
    let out = bottlecrm("mysql://nope", &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("DATABASE_URL"), "{t}");
    assert_eq!(t.trim().lines().count(), 1, "{t}");
    let out = Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://x@localhost/x")
        .env("ACCESS_TOKEN_LIFETIME", "soon")
        .output()
        .unwrap();
    assert!(
        text(&out).contains("ACCESS_TOKEN_LIFETIME"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn serve_refuses_a_role_that_bypasses_rls() {
    let db = TestDb::new().await;
    sqlx::raw_sql(
        "DO $$ BEGIN CREATE ROLE crm_test_bypass LOGIN BYPASSRLS;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    .execute(&db.admin)
    .await
    .unwrap();
    let url = crm::db::url_for_role(&db.url(), "crm_test_bypass", None).unwrap();
    let out = bottlecrm(&url, &["serve", "--no-migrate", "--bind", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("refusing to serve"), "{}", text(&out));
}

#[tokio::test]
async fn serve_answers_and_shuts_down_gracefully_on_sigterm() {
    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", db.url())
        .env("SECRET_KEY", "cli-test-secret-key-0123456789")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    let mut printed = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("listening on http://") {
            addr = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no listening line: {printed:?}"));
    assert!(
        printed
            .iter()
            .any(|l| l.contains("created the first admin")),
        "{printed:?}"
    );
    // A plain HTTP/1.1 request over TCP.
    let body = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("\"database\":\"ok\""));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap();
    assert!(code.success(), "graceful exit: {code:?}");
}

#[test]
fn openapi_subcommand_prints_the_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .args(["openapi", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    let out = Command::new(env!("CARGO_BIN_EXE_bottlecrm"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "rls", "createsuperuser", "openapi"] {
        assert!(help.contains(cmd), "{help}");
    }
}

#[tokio::test]
async fn seed_links_accounts_contacts_and_leads() {
    let db = TestDb::new().await;
    let args = [
        "seed",
        "--email",
        "seed@example.com",
        "--accounts",
        "300",
        "--contacts",
        "200",
        "--leads",
        "200",
        "--seed",
        "3",
        "--batch",
        "64",
    ];
    let out = bottlecrm(&db.app_url(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let count = |sql: &'static str| {
        let pool = db.admin.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM accounts").await, 300);
    assert_eq!(
        count("SELECT count(DISTINCT lower(name)) FROM accounts").await,
        300,
        "names are unique per org"
    );
    assert!(count("SELECT count(*) FROM accounts WHERE NOT is_active").await > 0);
    assert!(count("SELECT count(DISTINCT account_id) FROM accounts_contacts").await == 300);
    assert!(count("SELECT count(*) FROM accounts_assigned_to").await >= 300);
    assert!(count("SELECT count(*) FROM contacts WHERE account_id IS NOT NULL").await > 0);
    assert!(
        count(
            "SELECT count(*) FROM contacts c WHERE c.account_id IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM accounts_contacts x WHERE x.account_id = c.account_id AND x.contact_id = c.id)"
        )
        .await
            == 0,
        "a contact's account also lists it"
    );
    assert!(count("SELECT count(*) FROM contacts_assigned_to").await > 0);
    assert!(
        count("SELECT count(*) FROM lead l WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.name = l.company_name)")
            .await
            > 0
    );
}
