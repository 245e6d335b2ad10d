//! Background jobs: transactional enqueue, worker, retries and backoff, leases, schedules,
//! e-mail (outbox and a real SMTP server), password reset.

use std::time::Duration;

use axum::http::StatusCode;
use crm::db::tenant;
use crm::jobs::schedule::{self, Schedule};
use crm::jobs::worker::Outcome;
use crm::jobs::{self, Job, Worker, WorkerOptions, queue};
use crm::mail::{Mailer, SmtpSettings, Tls};
use crm::testkit::TestApp;
use serde_json::json;
use uuid::Uuid;

fn fast() -> WorkerOptions {
    WorkerOptions {
        concurrency: 2,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        ..WorkerOptions::default()
    }
}

fn worker(app: &TestApp, opts: WorkerOptions) -> Worker {
    let mailer = Mailer::outbox("no-reply@bottlecrm.local", "http://localhost:5173")
        .unwrap()
        .with_link_secret(&app.state.cfg.secret_key);
    Worker::new(app.db.app.clone(), opts, mailer)
}

fn email(to: &str) -> Job {
    Job::Email {
        template: "assignment".into(),
        to: to.into(),
        context: json!({"module": "Lead", "name": "ACME deal", "path": "/leads/1", "assigned_by": "boss@example.com"}),
    }
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.admin).await.unwrap();
    n
}

async fn job_row(app: &TestApp, id: Uuid) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT status, attempts, last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn jobs_rolled_back_enqueue_sends_nothing_and_commit_sends_once() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let w = worker(&app, fast());

    let mut tx = tenant::begin(&app.db.app, Some(admin.org_id), None)
        .await
        .unwrap();
    jobs::enqueue(&mut tx, Some(admin.org_id), email("a@example.com"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(w.drain().await.unwrap(), 0);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM mail_outbox").await, 0);

    let mut tx = tenant::begin(&app.db.app, Some(admin.org_id), None)
        .await
        .unwrap();
    jobs::enqueue(&mut tx, Some(admin.org_id), email("a@example.com"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(w.drain().await.unwrap(), 0);
    let (to, subject, text, html, org, transport): (
        String,
        String,
        String,
        String,
        Option<Uuid>,
        String,
    ) = sqlx::query_as(
        "SELECT to_addr, subject, text_body, html_body, tenant_org_id, transport FROM mail_outbox",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(to, "a@example.com");
    assert_eq!(subject, "You were assigned to the lead ACME deal");
    assert!(
        text.contains("boss@example.com assigned you")
            && text.contains("http://localhost:5173/leads/1")
    );
    assert!(html.contains("<strong>ACME deal</strong>"));
    assert_eq!((org, transport.as_str()), (Some(admin.org_id), "outbox"));
    let (status, attempts, _) = sqlx::query_as::<_, (String, i32, Option<String>)>(
        "SELECT status, attempts, last_error FROM jobs",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("done", 1));
}

#[tokio::test]
async fn jobs_registration_enqueues_the_activation_email() {
    let app = TestApp::new().await;
    let w = worker(&app, fast());
    let body = json!({"email": "new@example.com", "password": "long-enough-1", "confirm_password": "long-enough-1"});
    let res = app.post("/api/auth/register/", None, &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    // A rejected registration enqueues nothing.
    let bad =
        json!({"email": "other@example.com", "password": "long-enough-1", "confirm_password": "x"});
    let res = app.post("/api/auth/register/", None, &bad).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(w.drain().await.unwrap(), 1);
    let (to, subject, text): (String, String, String) =
        sqlx::query_as("SELECT to_addr, subject, text_body FROM mail_outbox")
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("new@example.com", "Activate your BottleCRM account")
    );
    let link = text
        .lines()
        .find(|l| l.contains("/api/auth/activate/"))
        .expect("link in e-mail");
    let path = link.trim().trim_start_matches("http://localhost:8000");
    let res = app.get(path, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn jobs_failures_back_off_exponentially_then_fail_and_can_be_retried() {
    let app = TestApp::new().await;
    let w = worker(&app, fast());
    let mut conn = app.db.app.acquire().await.unwrap();
    let id = queue::insert(
        &mut conn,
        None,
        &Job::Noop {
            sleep_ms: 0,
            fail: Some("boom".into()),
        },
        None,
    )
    .await
    .unwrap();
    let mut delays = vec![];
    for attempt in 1..=5 {
        let (ran, outcome) = loop {
            if let Some(r) = w.run_one().await.unwrap() {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(ran, id);
        if attempt < 5 {
            assert_eq!(outcome, Outcome::Retrying("boom".into()));
            let (d,): (f64,) = sqlx::query_as(
                "SELECT extract(epoch FROM run_at - updated_at)::float8 FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
            delays.push(d);
        } else {
            assert_eq!(outcome, Outcome::Failed("boom".into()));
        }
    }
    for (i, d) in delays.iter().enumerate() {
        let expected = 0.1 * 2f64.powi(i as i32);
        assert!((d - expected).abs() < 0.02, "delay {i}: {d} vs {expected}");
    }
    assert_eq!(
        job_row(&app, id).await,
        ("failed".into(), 5, Some("boom".into()))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        w.run_one().await.unwrap().is_none(),
        "a failed job is not run again by itself"
    );

    // Not runnable before its backoff is over (a worker with a long backoff).
    let slow = worker(
        &app,
        WorkerOptions {
            backoff_base: Duration::from_secs(60),
            ..fast()
        },
    );
    let other = queue::insert(
        &mut conn,
        None,
        &Job::Noop {
            sleep_ms: 0,
            fail: Some("x".into()),
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        slow.run_one().await.unwrap(),
        Some((other, Outcome::Retrying("x".into())))
    );
    assert!(slow.run_one().await.unwrap().is_none());
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(other)
        .execute(&app.db.admin)
        .await
        .unwrap();

    let failed = queue::list_failed(&app.db.app, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].id,
            failed[0].kind.as_str(),
            failed[0].last_error.as_deref()
        ),
        (id, "noop", Some("boom"))
    );

    assert!(queue::retry(&app.db.app, id).await.unwrap());
    assert!(
        !queue::retry(&app.db.app, id).await.unwrap(),
        "only failed jobs are retried"
    );
    assert!(!queue::retry(&app.db.app, Uuid::new_v4()).await.unwrap());
    // The cause is fixed; the retried job runs with a fresh set of attempts.
    sqlx::query("UPDATE jobs SET payload = '{\"type\": \"noop\"}' WHERE id = $1")
        .bind(id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(w.run_one().await.unwrap(), Some((id, Outcome::Done)));
    assert_eq!(job_row(&app, id).await.0, "done");
    assert_eq!(job_row(&app, id).await.1, 1);
    assert!(
        queue::list_failed(&app.db.app, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn jobs_an_expired_lease_is_taken_over_and_the_old_holder_cannot_finish() {
    let app = TestApp::new().await;
    let mut conn = app.db.app.acquire().await.unwrap();
    let id = queue::insert(
        &mut conn,
        None,
        &Job::Noop {
            sleep_ms: 0,
            fail: None,
        },
        None,
    )
    .await
    .unwrap();
    // A worker that claimed the job and died (no heartbeat).
    let dead = queue::claim(&app.db.app, "dead-worker", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.id, id);
    let w = worker(&app, fast());
    assert!(
        w.run_one().await.unwrap().is_none(),
        "leased to the dead worker"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(w.run_one().await.unwrap(), Some((id, Outcome::Done)));
    assert_eq!(job_row(&app, id).await, ("done".into(), 2, None));
    // The old holder coming back cannot mark it (again).
    let mut conn = app.db.app.acquire().await.unwrap();
    assert!(
        !queue::mark_done(&mut conn, id, "dead-worker")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn jobs_spawned_worker_runs_jobs_as_they_are_committed() {
    let app = TestApp::new().await;
    let handle = worker(&app, fast()).spawn();
    let mut tx = tenant::begin(&app.db.app, None, None).await.unwrap();
    for i in 0..10 {
        jobs::enqueue(&mut tx, None, email(&format!("u{i}@example.com")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut done = 0;
    for _ in 0..400 {
        done = count(&app, "SELECT count(*) FROM jobs WHERE status = 'done'").await;
        if done == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    assert_eq!(done, 10);
    assert_eq!(
        count(&app, "SELECT count(DISTINCT to_addr) FROM mail_outbox").await,
        10
    );
}

#[tokio::test]
async fn jobs_schedules_fire_once_per_period_across_workers() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    let other = app.admin("other@example.com").await;
    const LIST: &[Schedule] = &[
        Schedule {
            name: "every_minute",
            cron: "* * * * *",
            per_org: false,
            job: || Job::PurgeExpired,
        },
        Schedule {
            name: "per_org",
            cron: "0 9 * * *",
            per_org: true,
            job: || Job::Noop {
                sleep_ms: 0,
                fail: None,
            },
        },
    ];
    schedule::sync(&app.db.app, LIST).await.unwrap();
    assert_eq!(
        schedule::tick(&app.db.app, LIST).await.unwrap(),
        0,
        "nothing due yet"
    );
    sqlx::query("UPDATE job_schedules SET next_run_at = now() - interval '1 hour'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    // Several workers tick at the same moment: each due schedule fires once.
    let t = || schedule::tick(&app.db.app, LIST);
    let (a, b, c, d) = tokio::join!(t(), t(), t(), t());
    let fired = a.unwrap() + b.unwrap() + c.unwrap() + d.unwrap();
    assert_eq!(fired, 3, "one purge job + one job per active org");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM jobs WHERE kind = 'purge_expired' AND tenant_org_id IS NULL"
        )
        .await,
        1
    );
    let (orgs,): (Vec<Uuid>,) = sqlx::query_as(
        "SELECT array_agg(tenant_org_id ORDER BY tenant_org_id) FROM jobs WHERE kind = 'noop'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let mut expected = vec![admin.org_id, other.org_id];
    expected.sort();
    assert_eq!(orgs, expected);
    let (next_ok,): (bool,) = sqlx::query_as(
        "SELECT bool_and(next_run_at > now() AND last_run_at IS NOT NULL) FROM job_schedules",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert!(next_ok);
    assert_eq!(schedule::tick(&app.db.app, LIST).await.unwrap(), 0);
}

#[tokio::test]
async fn jobs_purge_deletes_expired_rows_only() {
    let app = TestApp::new().await;
    let admin = app.admin("boss@example.com").await;
    for (jti, expires) in [
        ("old", "now() - interval '1 day'"),
        ("live", "now() + interval '1 day'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO session_token (created_at, updated_at, id, token_jti, expires_at, is_active, last_used_at, user_id)
             VALUES (now(), now(), gen_random_uuid(), '{jti}', {expires}, true, now(), $1)"
        )))
        .bind(admin.user_id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, finished_at) VALUES
         (gen_random_uuid(), 'noop', '{\"type\":\"noop\"}', 'done', now() - interval '8 days'),
         (gen_random_uuid(), 'noop', '{\"type\":\"noop\"}', 'done', now() - interval '1 hour'),
         (gen_random_uuid(), 'noop', '{\"type\":\"noop\"}', 'failed', now() - interval '30 days')",
    )
    .execute(&app.db.admin)
    .await
    .unwrap();
    let mut conn = app.db.app.acquire().await.unwrap();
    queue::insert(&mut conn, None, &Job::PurgeExpired, None)
        .await
        .unwrap();
    assert_eq!(worker(&app, fast()).drain().await.unwrap(), 1);
    let (jtis,): (Vec<String>,) = sqlx::query_as("SELECT array_agg(token_jti) FROM session_token")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(jtis, vec!["live".to_string()]);
    // The old done job is gone; the recent one, the failed one and the purge job itself stay.
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 3);
    assert_eq!(
        count(&app, "SELECT count(*) FROM jobs WHERE status = 'failed'").await,
        1
    );
}

/// The token in the last password-reset e-mail to `to`.
async fn reset_token(app: &TestApp, to: &str) -> String {
    let (text,): (String,) = sqlx::query_as(
        "SELECT text_body FROM mail_outbox WHERE to_addr = $1 AND subject LIKE 'Reset%' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let at = text.find("token=").expect("token in link") + 6;
    text[at..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn jobs_password_reset_is_single_use_and_revokes_tokens() {
    let app = TestApp::new().await;
    let user = app.admin("boss@example.com").await;
    let w = worker(&app, fast());

    let res = app
        .post("/api/auth/password-reset/", None, &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body, json!({"email": ["This field is required."]}));
    let res = app
        .post(
            "/api/auth/password-reset/",
            None,
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let unknown_answer = res.body.clone();
    assert_eq!(
        count(&app, "SELECT count(*) FROM jobs").await,
        0,
        "no e-mail for unknown addresses"
    );

    let res = app
        .post(
            "/api/auth/password-reset/",
            None,
            &json!({"email": "boss@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.body, unknown_answer,
        "same answer: no account enumeration"
    );
    // A second request right away does not send a second e-mail.
    app.post(
        "/api/auth/password-reset/",
        None,
        &json!({"email": "boss@example.com"}),
    )
    .await;
    assert_eq!(w.drain().await.unwrap(), 1);
    let token = reset_token(&app, "boss@example.com").await;
    assert_eq!(token.len(), 64);

    let body =
        |t: &str, p: &str, c: &str| json!({"token": t, "password": p, "confirm_password": c});
    let res = app
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            &body(&token, "short", "short"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body["password"][0],
        "Ensure this field has at least 8 characters."
    );
    let res = app
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            &body(&token, "new-password-1", "other-password"),
        )
        .await;
    assert_eq!(
        res.body,
        json!({"password": ["Password fields didn't match."]})
    );
    let res = app
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            &body("wrong", "new-password-1", "new-password-1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        res.body,
        json!({"error": "Password reset link is invalid or has expired."})
    );

    // Tokens are revoked by whole seconds (`iat`): make the old ones strictly older.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            &body(&token, "new-password-1", "new-password-1"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["message"],
        "Your password has been reset. You can now log in."
    );
    let res = app
        .post(
            "/api/auth/password-reset/confirm/",
            None,
            &body(&token, "new-password-2", "new-password-2"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "single use");

    let res = app
        .post(
            "/api/auth/refresh-token/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "old sessions are revoked"
    );
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "boss@example.com", "password": user.password}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .post(
            "/api/auth/login/",
            None,
            &json!({"email": "boss@example.com", "password": "new-password-1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[tokio::test]
async fn jobs_password_reset_links_expire() {
    let app = TestApp::new().await;
    app.admin("boss@example.com").await;
    let res = app
        .post(
            "/api/auth/password-reset/",
            None,
            &json!({"email": "BOSS@EXAMPLE.COM"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    worker(&app, fast()).drain().await.unwrap();
    let token = reset_token(&app, "boss@example.com").await;
    sqlx::query("UPDATE password_reset_token SET expires_at = now() - interval '1 second'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    let res = app
        .post("/api/auth/password-reset/confirm/", None, &json!({"token": token, "password": "new-password-1", "confirm_password": "new-password-1"}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

/// `python3 -m aiosmtpd` on a free loopback port; its stdout is every message it received.
pub(crate) struct SmtpSink {
    child: std::process::Child,
    pub(crate) port: u16,
    out: std::path::PathBuf,
}

/// The SMTP server is a test dependency from PyPI: install it on first use, so README's test
/// command works on a fresh machine too.
fn ensure_aiosmtpd() {
    let importable = || {
        std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !importable() {
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
            .status();
    }
}

impl SmtpSink {
    pub(crate) async fn start() -> SmtpSink {
        ensure_aiosmtpd();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::env::temp_dir().join(format!("bottlecrm-smtp-{}.log", Uuid::new_v4()));
        let child = std::process::Command::new("python3")
            .args([
                "-u",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let sink = SmtpSink { child, port, out };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not start (is it installed? pip install aiosmtpd)");
    }

    pub(crate) fn received(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.out);
    }
}

#[tokio::test]
async fn jobs_smtp_delivers_to_a_real_server_once_even_when_retried() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start().await;
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port,
        user: None,
        password: None,
        tls: Tls::None,
    };
    let mailer = Mailer::smtp(
        &settings,
        "BottleCRM <no-reply@bottlecrm.local>",
        "http://localhost:5173",
    )
    .unwrap();
    let w = Worker::new(app.db.app.clone(), fast(), mailer);
    let mut conn = app.db.app.acquire().await.unwrap();
    let job = Job::Email {
        template: "password_reset".into(),
        to: "someone@example.com".into(),
        context: json!({"link": "http://localhost:5173/reset-password?token=abc", "expires_minutes": 60}),
    };
    let id = queue::insert(&mut conn, None, &job, None).await.unwrap();
    assert_eq!(w.run_one().await.unwrap(), Some((id, Outcome::Done)));

    // The worker died after the server accepted the message but before the job was marked done:
    // the job runs again, and the ledger stops a second copy.
    sqlx::query("UPDATE jobs SET status = 'queued', run_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(w.run_one().await.unwrap(), Some((id, Outcome::Done)));

    let mut got = String::new();
    for _ in 0..50 {
        got = sink.received();
        if got.contains("END MESSAGE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.matches("MESSAGE FOLLOWS").count(), 1, "{got}");
    assert!(
        got.contains("Subject: Reset your BottleCRM password"),
        "{got}"
    );
    assert!(got.contains("To: someone@example.com"), "{got}");
    assert!(
        got.contains("From: BottleCRM <no-reply@bottlecrm.local>"),
        "{got}"
    );
    assert!(
        got.contains(&format!("Message-ID: <job.{id}@bottlecrm.local>")),
        "{got}"
    );
    assert!(
        got.contains("multipart/alternative") && got.contains("text/html"),
        "{got}"
    );
    assert!(got.contains("Choose a new password"), "{got}");
    let (transport, text): (String, String) =
        sqlx::query_as("SELECT transport, text_body FROM mail_outbox WHERE job_id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(transport, "smtp");
    assert_eq!(text, "", "no secrets (reset links) kept in the ledger");

    // An unreachable server is a retryable failure, not a lost e-mail.
    drop(sink);
    let id = queue::insert(&mut conn, None, &job, None).await.unwrap();
    match w.run_one().await.unwrap() {
        Some((ran, Outcome::Retrying(e))) => assert!(ran == id && e.contains("SMTP"), "{e}"),
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn jobs_shutdown_finishes_running_jobs_or_releases_them_after_the_grace() {
    let app = TestApp::new().await;
    let mut conn = app.db.app.acquire().await.unwrap();
    let slow = Job::Noop {
        sleep_ms: 1500,
        fail: None,
    };
    for (grace, expected) in [
        (Duration::from_secs(10), ("done", 1)),
        (Duration::from_millis(100), ("queued", 0)),
    ] {
        let id = queue::insert(&mut conn, None, &slow, None).await.unwrap();
        let handle = worker(
            &app,
            WorkerOptions {
                shutdown_grace: grace,
                ..fast()
            },
        )
        .spawn();
        for _ in 0..200 {
            if job_row(&app, id).await.0 == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handle.shutdown().await;
        let (status, attempts, _) = job_row(&app, id).await;
        assert_eq!((status.as_str(), attempts), expected, "grace {grace:?}");
        sqlx::query("DELETE FROM jobs")
            .execute(&app.db.admin)
            .await
            .unwrap();
    }
}
