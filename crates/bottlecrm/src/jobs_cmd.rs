//! `bottlecrm worker` and `bottlecrm jobs failed|retry`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use crm::Config;
use crm::db;
use crm::jobs::{Worker, WorkerOptions, queue};
use crm::mail::Mailer;
use uuid::Uuid;

#[derive(Args)]
pub struct WorkerArgs {
    /// Jobs run at the same time (default JOB_CONCURRENCY, else 4).
    #[arg(long)]
    concurrency: Option<usize>,
}

#[derive(Subcommand)]
pub enum JobsAction {
    /// Jobs that used up their attempts, newest failure first, with their last error.
    Failed {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a failed job again, with a fresh set of attempts.
    Retry { id: Uuid },
}

/// A worker for `cfg`, on its own pool logged in as the serving (RLS-bound) role.
pub async fn start_worker(
    cfg: &Config,
    url: &str,
    concurrency: Option<usize>,
) -> anyhow::Result<crm::jobs::WorkerHandle> {
    let mut opts = WorkerOptions::from_env()?;
    if let Some(n) = concurrency.filter(|n| *n > 0) {
        opts.concurrency = n;
    }
    let pool = db::connect(url, opts.pool_size()).await?;
    let mailer = Mailer::from_env(cfg)?;
    Ok(Worker::new(pool, opts, mailer).spawn())
}

pub async fn worker(cfg: Config, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let url = crate::serve::serving_url(&cfg).await?;
    let handle = start_worker(&cfg, &url, args.concurrency).await?;
    println!("worker running (stop with Ctrl-C or SIGTERM)");
    crate::serve::shutdown_signal().await;
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn jobs(cfg: Config, action: JobsAction) -> anyhow::Result<ExitCode> {
    let pool = db::connect(&cfg.database_url, 1).await?;
    match action {
        JobsAction::Failed { limit } => {
            let failed = queue::list_failed(&pool, limit).await?;
            if failed.is_empty() {
                println!("no failed jobs");
            }
            for j in failed {
                let org = j
                    .tenant_org_id
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}  {:<16} org {org}  attempts {}  created {}  failed {}",
                    j.id,
                    j.kind,
                    j.attempts,
                    j.created_at.format("%Y-%m-%d %H:%M:%SZ"),
                    j.updated_at.format("%Y-%m-%d %H:%M:%SZ")
                );
                for line in j.last_error.as_deref().unwrap_or("").lines() {
                    println!("    {line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsAction::Retry { id } => {
            if queue::retry(&pool, id).await? {
                println!("job {id} queued again");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no failed job with id {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
