//! The worker: `concurrency` loops that claim and run jobs, a LISTEN connection that wakes them
//! on enqueue, and the schedule loop. While a job runs, its lease is extended; if the process
//! dies, the lease runs out and another worker takes the job again.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::run::{self, JobContext};
use super::{Job, queue, schedule};
use crate::config::{ConfigError, parse_duration};
use crate::db::tenant;
use crate::mail::Mailer;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at the same time by one worker process (JOB_CONCURRENCY, default 4).
    pub concurrency: usize,
    /// How long a claimed job stays reserved without a heartbeat (JOB_LEASE, default 60s).
    /// A killed worker's job is taken again after at most this long.
    pub lease: Duration,
    /// Idle wait between polls when no notification arrives (JOB_POLL_INTERVAL, default 1s).
    pub poll_interval: Duration,
    /// First retry delay, doubled per attempt (JOB_BACKOFF_BASE, default 10s), capped at
    /// `backoff_max` (1h).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// On shutdown, how long running jobs may take before they are released (default 30s).
    pub shutdown_grace: Duration,
    /// Fire due schedules (`schedule::SCHEDULES`). Safe with any number of workers.
    pub run_schedules: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(30),
            run_schedules: true,
        }
    }
}

/// `250ms`, or anything `parse_duration` accepts (`2`, `30s`, `5m`).
fn duration_var(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().strip_suffix("ms").map(str::parse::<u64>) {
            Some(Ok(ms)) if ms > 0 => Ok(Duration::from_millis(ms)),
            Some(_) => Err(ConfigError {
                var: name,
                msg: format!("expected a duration like 250ms or 30s, got {v:?}"),
            }),
            None => parse_duration(name, &v),
        },
    }
}

impl WorkerOptions {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = WorkerOptions::default();
        let concurrency = match std::env::var("JOB_CONCURRENCY") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError {
                    var: "JOB_CONCURRENCY",
                    msg: format!("expected a positive number, got {v:?}"),
                })?,
            _ => d.concurrency,
        };
        Ok(WorkerOptions {
            concurrency,
            lease: duration_var("JOB_LEASE", d.lease)?,
            poll_interval: duration_var("JOB_POLL_INTERVAL", d.poll_interval)?,
            backoff_base: duration_var("JOB_BACKOFF_BASE", d.backoff_base)?,
            shutdown_grace: duration_var("JOB_SHUTDOWN_GRACE", d.shutdown_grace)?,
            ..d
        })
    }

    /// Connections a worker pool needs: a job transaction and a side connection (lease,
    /// e-mail ledger) per running job, plus the listener and the scheduler.
    pub fn pool_size(&self) -> u32 {
        (self.concurrency * 2 + 2) as u32
    }
}

/// What happened to a job `run_one` took.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Failed; queued again after a backoff.
    Retrying(String),
    /// Failed on its last attempt; kept as failed.
    Failed(String),
    /// Another worker took it over (this worker's lease had expired); nothing was committed.
    LeaseLost,
}

#[derive(Clone)]
pub struct Worker(Arc<Inner>);

struct Inner {
    pool: PgPool,
    opts: WorkerOptions,
    mailer: Mailer,
    /// Unique per process: `host:pid:random`, recorded in `jobs.locked_by`.
    id: String,
    wake: Notify,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Aborts the lease heartbeat however the job ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Worker {
    /// `pool` should be logged in as the app role, so jobs are bound by RLS like requests.
    pub fn new(pool: PgPool, opts: WorkerOptions, mailer: Mailer) -> Worker {
        let id = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..6]
        );
        Worker(Arc::new(Inner {
            pool,
            opts,
            mailer,
            id,
            wake: Notify::new(),
        }))
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Claims and runs one job. None when no job is runnable now.
    pub async fn run_one(&self) -> anyhow::Result<Option<(Uuid, Outcome)>> {
        let w = &self.0;
        let Some(job) = queue::claim(&w.pool, &w.id, w.opts.lease).await? else {
            return Ok(None);
        };
        let _heartbeat = AbortOnDrop(tokio::spawn({
            let (pool, id, worker, lease) = (w.pool.clone(), job.id, w.id.clone(), w.opts.lease);
            async move {
                let mut every = tokio::time::interval(lease / 3);
                every.tick().await;
                loop {
                    every.tick().await;
                    if let Ok(false) = queue::extend_lease(&pool, id, &worker, lease).await {
                        break;
                    }
                }
            }
        }));
        let outcome = match self.execute(&job).await {
            Ok(true) => Outcome::Done,
            Ok(false) => Outcome::LeaseLost,
            Err(e) => {
                let msg = format!("{e:#}");
                let delay = queue::backoff(job.attempts, w.opts.backoff_base, w.opts.backoff_max);
                match queue::record_failure(&w.pool, &job, &w.id, &msg, delay).await? {
                    Some(s) if s == "failed" => Outcome::Failed(msg),
                    Some(_) => Outcome::Retrying(msg),
                    None => Outcome::LeaseLost,
                }
            }
        };
        match &outcome {
            Outcome::Done => tracing::info!(job_id = %job.id, attempt = job.attempts, "job done"),
            Outcome::Retrying(e) => {
                tracing::warn!(job_id = %job.id, attempt = job.attempts, error = %e, "job failed; will retry")
            }
            Outcome::Failed(e) => {
                tracing::error!(job_id = %job.id, attempt = job.attempts, error = %e, "job failed for good (see `bottlecrm jobs failed`)")
            }
            Outcome::LeaseLost => {
                tracing::warn!(job_id = %job.id, "job lease lost to another worker; rolled back")
            }
        }
        Ok(Some((job.id, outcome)))
    }

    /// Runs the job in a transaction for its org and marks it done in that same transaction.
    async fn execute(&self, job: &queue::Claimed) -> anyhow::Result<bool> {
        let w = &self.0;
        let parsed: Job =
            serde_json::from_value(job.payload.clone()).context("unreadable job payload")?;
        let mut tx = tenant::begin(&w.pool, job.tenant_org_id, None).await?;
        let mut ctx = JobContext {
            tx: &mut tx,
            pool: &w.pool,
            mailer: &w.mailer,
            job_id: job.id,
            org_id: job.tenant_org_id,
        };
        run::run(&mut ctx, parsed).await?;
        if !queue::mark_done(&mut tx, job.id, &w.id).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Runs jobs until none is runnable; returns how many ran. For tests and one-shot use.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        while self.run_one().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// Starts the loops in the background; stop them with `WorkerHandle::shutdown`.
    pub fn spawn(&self) -> WorkerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for _ in 0..self.0.opts.concurrency {
            tasks.spawn(self.clone().job_loop(stop_rx.clone()));
        }
        tasks.spawn(self.clone().listen_loop(stop_rx.clone()));
        if self.0.opts.run_schedules {
            tasks.spawn(self.clone().schedule_loop(stop_rx));
        }
        tracing::info!(worker = %self.0.id, concurrency = self.0.opts.concurrency,
            mail = self.0.mailer.transport_name(), "job worker started");
        WorkerHandle {
            stop,
            tasks,
            worker: self.clone(),
        }
    }

    /// Waits for a notification, the poll interval, or stop. False when stopping.
    async fn idle(&self, stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
        tokio::select! {
            r = stop.changed() => r.is_ok() && !*stop.borrow(),
            _ = self.0.wake.notified() => true,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    async fn job_loop(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.run_one().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "worker cannot take jobs"),
            }
            if !self.idle(&mut stop, self.0.opts.poll_interval).await {
                break;
            }
        }
    }

    async fn listen_loop(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if let Ok(mut l) = PgListener::connect_with(&self.0.pool).await
                && l.listen(queue::CHANNEL).await.is_ok()
            {
                loop {
                    tokio::select! {
                        n = l.recv() => match n {
                            Ok(_) => self.0.wake.notify_waiters(),
                            Err(_) => break,
                        },
                        r = stop.changed() => if r.is_err() || *stop.borrow() { return },
                    }
                }
            }
            tracing::debug!("job notifications unavailable; polling");
            let wait = self.0.opts.poll_interval * 5;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return },
            }
        }
    }

    async fn schedule_loop(self, mut stop: watch::Receiver<bool>) {
        let pool = &self.0.pool;
        if let Err(e) = schedule::sync(pool, schedule::SCHEDULES).await {
            tracing::warn!(error = %e, "cannot register schedules");
        }
        loop {
            if let Err(e) = schedule::tick(pool, schedule::SCHEDULES).await {
                tracing::warn!(error = %format!("{e:#}"), "cannot fire schedules");
            }
            if let Err(e) = queue::fail_abandoned(pool).await {
                tracing::warn!(error = %e, "cannot sweep abandoned jobs");
            }
            tokio::select! {
                _ = tokio::time::sleep(schedule::TICK) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return },
            }
        }
    }
}

pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    worker: Worker,
}

impl WorkerHandle {
    /// Stops taking jobs, lets running ones finish within the grace period, and releases
    /// the ones that did not (they run again elsewhere, the attempt not counted).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let grace = self.worker.0.opts.shutdown_grace;
        let tasks = &mut self.tasks;
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        if !finished {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
            match queue::release(&self.worker.0.pool, &self.worker.0.id).await {
                Ok(n) => tracing::warn!(
                    released = n,
                    "shutdown grace over: released unfinished jobs"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "cannot release unfinished jobs (they run again after the lease)")
                }
            }
        }
        tracing::info!(worker = %self.worker.0.id, "job worker stopped");
    }
}
