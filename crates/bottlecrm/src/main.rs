//! The `bottlecrm` command: one binary for the server and its operations.

mod jobs_cmd;
mod seed;
mod serve;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use crm::Config;
use crm::db::{self, rls};

#[derive(Parser)]
#[command(
    name = "bottlecrm",
    version,
    about = "BottleCRM API server (drop-in replacement for the Django backend)",
    long_about = "BottleCRM API server. Configured by environment variables and an optional .env file \
                  (DATABASE_URL, SECRET_KEY, ...; see README). Run `bottlecrm serve` to start."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP API. Creates and migrates the database when needed (zero-config on a local
    /// PostgreSQL), then serves as the non-superuser app role so row-level security applies.
    Serve(serve::ServeArgs),
    /// Run background jobs and schedules (any number of workers may share one database).
    Worker(jobs_cmd::WorkerArgs),
    /// Inspect and retry background jobs.
    Jobs {
        #[command(subcommand)]
        action: jobs_cmd::JobsAction,
    },
    /// Apply pending migrations with MIGRATE_DATABASE_URL (default DATABASE_URL). Adopts a
    /// database migrated by upstream BottleCRM (Django) in place, and creates the app role.
    Migrate,
    /// Row-level security: report, verify, self-test, enable or disable.
    Rls {
        #[command(subcommand)]
        action: RlsAction,
    },
    /// Create a superuser, an organization, and make the user its ADMIN (non-interactive).
    Createsuperuser {
        /// Login e-mail of the new user.
        #[arg(long)]
        email: String,
        /// Password (or set BOTTLECRM_PASSWORD).
        #[arg(long, env = "BOTTLECRM_PASSWORD", hide_env_values = true)]
        password: String,
        /// Name of the organization to create.
        #[arg(long, default_value = "My Organization")]
        org_name: String,
    },
    /// Fill the database with fake organizations, users, teams, tags, contacts, accounts and
    /// leads (deterministic with --seed; fast enough for a million leads).
    Seed(seed::SeedArgs),
    /// Print the OpenAPI document (YAML by default).
    Openapi {
        /// Output format.
        #[arg(long, value_parser = ["yaml", "json"], default_value = "yaml")]
        format: String,
    },
}

#[derive(Subcommand)]
enum RlsAction {
    /// Every protected table: RLS enabled, forced, policy present. Exits 1 if any is missing.
    Status,
    /// Check that the serving role (DATABASE_URL) is not superuser, BYPASSRLS or table owner.
    VerifyUser,
    /// Two throwaway orgs: rows visible only in their own org, none without context (rolled back).
    Test,
    /// (Re)create the policies on every org-scoped and join table (MIGRATE_DATABASE_URL).
    Enable,
    /// Drop every policy and disable RLS (MIGRATE_DATABASE_URL). Tenants are then separated only
    /// by application code.
    Disable {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let _ = dotenvy_load();
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `.env` in the working directory, if present; real environment variables win.
fn dotenvy_load() -> Option<()> {
    crm::config::load_dotenv()
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Openapi { format } = &cli.command {
        let doc = if format == "json" {
            crm::http::docs::openapi_json()
        } else {
            crm::http::docs::openapi_yaml()
        };
        println!("{doc}");
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = Config::from_env()?;
    match cli.command {
        Command::Serve(args) => serve::run(cfg, args).await,
        Command::Migrate => {
            let created = db::ensure_database(&cfg.migrate_database_url).await?;
            if created {
                println!("created database");
            }
            let pool = db::connect(&cfg.migrate_database_url, 2).await?;
            let report = db::migrate::run(&pool).await?;
            if report.adopted {
                println!(
                    "adopted an upstream BottleCRM database: recorded 0001 (upstream schema) as applied"
                );
            }
            if report.applied.is_empty() {
                println!("database is up to date");
            }
            for m in report.lines() {
                println!("applied {m}");
            }
            db::roles::ensure_app_role(&pool, &cfg.app_db_user, cfg.app_db_password.as_deref())
                .await?;
            println!("app role {} is ready", cfg.app_db_user);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rls { action } => rls_command(&cfg, action).await,
        Command::Worker(args) => jobs_cmd::worker(cfg, args).await,
        Command::Jobs { action } => jobs_cmd::jobs(cfg, action).await,
        Command::Createsuperuser {
            email,
            password,
            org_name,
        } => {
            let pool = db::connect(&cfg.database_url, 2).await?;
            let created =
                crm::common::bootstrap::create_superuser(&pool, &email, &password, &org_name)
                    .await?;
            println!(
                "created superuser {} (id {}) as ADMIN of org {:?} (id {})",
                email, created.user_id, org_name, created.org_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed(args) => {
            let pool = seed::connect(&cfg.database_url).await?;
            seed::run(&pool, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi { .. } => unreachable!("handled above"),
    }
}

async fn rls_command(cfg: &Config, action: RlsAction) -> anyhow::Result<ExitCode> {
    match action {
        RlsAction::Status => {
            let pool = db::connect(&cfg.database_url, 2).await?;
            let role = db::role_info(&pool).await?;
            let tables = rls::status(&pool).await?;
            println!("RLS status (connected as {}):", role.name);
            let mut missing = 0;
            for t in &tables {
                let state = match (t.enabled, t.forced, t.policy) {
                    (true, true, true) => "ENABLED (forced), policy org_isolation".to_string(),
                    _ => {
                        missing += 1;
                        format!(
                            "MISSING: enabled={} forced={} policy={}",
                            t.enabled, t.forced, t.policy
                        )
                    }
                };
                println!("  {:<34} {:<5} {state}", t.table, t.kind);
            }
            println!(
                "  protected: {}, missing: {missing}",
                tables.len() - missing
            );
            if missing > 0 {
                println!(
                    "run `bottlecrm rls enable` (as the migrate/owner role) to restore the policies"
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        RlsAction::VerifyUser => {
            let pool = db::connect(&cfg.database_url, 1).await?;
            let role = db::role_info(&pool).await?;
            println!("Database user: {}", role.name);
            println!(
                "  superuser: {}  bypassrls: {}  owns tables: {}  createdb: {}  createrole: {}",
                role.superuser, role.bypass_rls, role.owns_tables, role.create_db, role.create_role
            );
            let problems = rls::role_problems(&role);
            if problems.is_empty() {
                println!("OK: row-level security is enforced for this role");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in problems {
                    println!("UNSAFE: {p}");
                }
                println!(
                    "Serve with a dedicated role instead: `bottlecrm migrate` creates {} (NOSUPERUSER NOBYPASSRLS);",
                    cfg.app_db_user
                );
                println!(
                    "then set DATABASE_URL to connect as it (and MIGRATE_DATABASE_URL to the owner role)."
                );
                Ok(ExitCode::FAILURE)
            }
        }
        RlsAction::Test => {
            let url = serve::serving_url(cfg).await?;
            let pool = db::connect(&url, 1).await?;
            let role = db::role_info(&pool).await?;
            let r = rls::self_test(&pool).await?;
            println!("RLS self-test as {} (all changes rolled back):", role.name);
            println!(
                "  rows visible with org A context: {} (expected 1)",
                r.visible_in_a
            );
            println!(
                "  rows visible with org B context: {} (expected 1)",
                r.visible_in_b
            );
            println!(
                "  rows visible without context:    {} (expected 0)",
                r.visible_without_context
            );
            println!("  org A context sees only org A:   {}", r.a_sees_only_a);
            println!(
                "  insert into org B from org A rejected: {}",
                r.cross_org_insert_rejected
            );
            if r.passed() {
                println!("PASS: row-level security isolates tenants");
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "FAIL: row-level security is not isolating tenants for role {}",
                    role.name
                );
                Ok(ExitCode::FAILURE)
            }
        }
        RlsAction::Enable => {
            let pool = db::connect(&cfg.migrate_database_url, 1).await?;
            let n = rls::enable(&pool).await?;
            println!("row-level security enabled and forced on {n} tables");
            Ok(ExitCode::SUCCESS)
        }
        RlsAction::Disable { yes } => {
            eprintln!("WARNING: this removes row-level security from every table. Tenants will be");
            eprintln!("separated only by application code until `bottlecrm rls enable` is run.");
            if !yes && !confirm()? {
                eprintln!("aborted");
                return Ok(ExitCode::FAILURE);
            }
            let pool = db::connect(&cfg.migrate_database_url, 1).await?;
            let n = rls::disable(&pool).await?;
            println!("row-level security disabled on {n} tables");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn confirm() -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("Type 'disable' to continue: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("no confirmation on standard input (use --yes)")?;
    Ok(line.trim() == "disable")
}
