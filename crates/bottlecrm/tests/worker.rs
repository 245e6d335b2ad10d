//! The real `bottlecrm` binary: a worker killed with SIGKILL mid-job leaves the job to another
//! worker after the lease, and the job completes exactly once; `jobs failed` / `jobs retry`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crm::jobs::{Job, queue};
use crm::testkit::TestDb;
use uuid::Uuid;

struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn bottlecrm(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bottlecrm"));
    cmd.args(args)
        .env("DATABASE_URL", db.url())
        .env_remove("MIGRATE_DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env("JOB_LEASE", "2")
        .env("JOB_POLL_INTERVAL", "100ms");
    cmd
}

fn start_worker(db: &TestDb) -> Proc {
    let log = std::env::temp_dir().join(format!("bottlecrm-worker-{}.log", Uuid::new_v4()));
    let file = std::fs::File::create(&log).unwrap();
    let child = bottlecrm(db, &["worker", "--concurrency", "2"])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("start bottlecrm worker");
    Proc { child, log }
}

async fn job(db: &TestDb, id: Uuid) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT status, attempts, locked_by FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&db.admin)
        .await
        .unwrap()
}

async fn wait_for(
    db: &TestDb,
    id: Uuid,
    what: &str,
    ok: impl Fn(&(String, i32, Option<String>)) -> bool,
) -> (String, i32, Option<String>) {
    let start = Instant::now();
    loop {
        let row = job(db, id).await;
        if ok(&row) {
            return row;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn worker_killed_mid_job_is_replaced_and_the_job_completes_once() {
    let db = TestDb::new().await;
    let mut conn = db.admin.acquire().await.unwrap();
    let id = queue::insert(
        &mut conn,
        None,
        &Job::Noop {
            sleep_ms: 3000,
            fail: None,
        },
        None,
    )
    .await
    .unwrap();

    let mut first = start_worker(&db);
    let (_, attempts, holder) = wait_for(&db, id, "the first worker to take the job", |r| {
        r.0 == "running"
    })
    .await;
    assert_eq!(attempts, 1);
    let first_id = holder.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.child.kill().unwrap(); // SIGKILL: no chance to release the job
    first.child.wait().unwrap();
    let killed_at = Instant::now();

    let second = start_worker(&db);
    // Still leased to the dead worker until its lease runs out.
    let row = job(&db, id).await;
    assert_eq!(
        (row.0.as_str(), row.2.as_deref()),
        ("running", Some(first_id.as_str()))
    );
    let (_, _, holder) = wait_for(&db, id, "the second worker to take over", |r| {
        r.0 == "running" && r.2.as_deref() != Some(first_id.as_str())
    })
    .await;
    assert!(
        killed_at.elapsed() <= Duration::from_secs(10),
        "taken over after the 2 s lease"
    );
    let second_id = holder.unwrap();
    assert!(
        second_id.contains(&format!(":{}:", second.child.id())),
        "{second_id}"
    );

    let (status, attempts, _) = wait_for(&db, id, "the job to finish", |r| r.0 == "done").await;
    assert_eq!((status.as_str(), attempts), ("done", 2));
    // Nothing runs it again later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(job(&db, id).await.1, 2);
    let done_lines = |out: &str| {
        out.lines()
            .filter(|l| l.contains("job done") && l.contains(&id.to_string()))
            .count()
    };
    assert_eq!(done_lines(&first.output()), 0, "{}", first.output());
    assert_eq!(done_lines(&second.output()), 1, "{}", second.output());

    // SIGTERM: graceful stop.
    let status = Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut second = second;
    let start = Instant::now();
    let code = loop {
        if let Some(code) = second.child.try_wait().unwrap() {
            break code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "worker did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.success(), "{}", second.output());
}

#[tokio::test]
async fn jobs_failed_lists_and_jobs_retry_requeues() {
    let db = TestDb::new().await;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, last_error)
         VALUES ($1, 'email', '{\"type\": \"noop\"}', 'failed', 5, 'SMTP send failed: connection refused')",
    )
    .bind(id)
    .execute(&db.admin)
    .await
    .unwrap();
    let out = bottlecrm(&db, &["jobs", "failed"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains(&id.to_string()) && text.contains("attempts 5"),
        "{text}"
    );
    assert!(
        text.contains("SMTP send failed: connection refused"),
        "{text}"
    );

    let out = bottlecrm(&db, &["jobs", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(job(&db, id).await, ("queued".into(), 0, None));
    let out = bottlecrm(&db, &["jobs", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a job that is not failed cannot be retried"
    );
    let out = bottlecrm(&db, &["jobs", "failed"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no failed jobs"));
}

/// `serve` runs the worker by default, and not with `--no-worker`.
#[tokio::test]
async fn serve_runs_an_embedded_worker_unless_told_not_to() {
    for embedded in [true, false] {
        let db = TestDb::new().await;
        let log = std::env::temp_dir().join(format!("bottlecrm-serve-{}.log", Uuid::new_v4()));
        let file = std::fs::File::create(&log).unwrap();
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        if !embedded {
            args.push("--no-worker");
        }
        let serve = Proc {
            child: bottlecrm(&db, &args)
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .unwrap(),
            log,
        };
        let start = Instant::now();
        let addr = loop {
            let out = serve.output();
            if let Some(rest) = out.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not start: {out}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let body = r#"{"email": "new@example.com", "password": "long-enough-1", "confirm_password": "long-enough-1"}"#;
        let res = post(&addr, "/api/auth/register/", body);
        assert!(
            res.starts_with("HTTP/1.1 201"),
            "register failed: {res}\n{}",
            serve.output()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (sent,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM mail_outbox WHERE to_addr = 'new@example.com'")
                .fetch_one(&db.admin)
                .await
                .unwrap();
        let (queued,): (i64,) = sqlx::query_as("SELECT count(*) FROM jobs WHERE status = 'queued'")
            .fetch_one(&db.admin)
            .await
            .unwrap();
        if embedded {
            assert_eq!((sent, queued), (1, 0), "{}", serve.output());
        } else {
            assert_eq!((sent, queued), (0, 1), "{}", serve.output());
        }
    }
}

/// A minimal HTTP/1.1 POST; returns the raw response.
fn post(addr: &str, path: &str, json: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
