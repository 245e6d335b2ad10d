//! `bottlecrm serve`: prepare the database if needed, pick a role that RLS binds, serve HTTP.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use crm::Config;
use crm::db;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (default BIND_ADDR, else 127.0.0.1:8000).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Do not create or migrate the database at start-up.
    #[arg(long)]
    no_migrate: bool,
    /// Serve even when the database role is a superuser or has BYPASSRLS (row-level security
    /// then protects nothing). For emergencies only.
    #[arg(long, env = "ALLOW_SUPERUSER")]
    allow_superuser: bool,
    /// Do not run the embedded job worker (run `bottlecrm worker` processes instead).
    #[arg(long)]
    no_worker: bool,
}

/// The URL requests should run under: DATABASE_URL when its role is safe; the app role on the
/// same local server when DATABASE_URL is a local superuser (the zero-config case).
pub async fn serving_url(cfg: &Config) -> anyhow::Result<String> {
    let pool = db::connect(&cfg.database_url, 1).await?;
    let role = db::role_info(&pool).await?;
    pool.close().await;
    if role.is_safe_for_serving() {
        return Ok(cfg.database_url.clone());
    }
    if role.superuser && db::is_local_url(&cfg.database_url) {
        return db::url_for_role(
            &cfg.database_url,
            &cfg.app_db_user,
            cfg.app_db_password.as_deref(),
        );
    }
    Ok(cfg.database_url.clone())
}

async fn prepare_database(cfg: &Config) -> anyhow::Result<()> {
    let created = db::ensure_database(&cfg.migrate_database_url).await?;
    if created {
        println!(
            "created database {}",
            db::redact_url(&cfg.migrate_database_url)
        );
    }
    let pool = db::connect(&cfg.migrate_database_url, 2).await?;
    if !db::migrate::pending(&pool).await?.is_empty() {
        let report = db::migrate::run(&pool).await?;
        if report.adopted {
            println!("adopted an upstream BottleCRM database in place");
        }
        for m in report.lines() {
            println!("applied migration {m}");
        }
    }
    let role = db::role_info(&pool).await?;
    if role.superuser || role.create_role {
        db::roles::ensure_app_role(&pool, &cfg.app_db_user, cfg.app_db_password.as_deref()).await?;
    }
    pool.close().await;
    Ok(())
}

pub async fn run(cfg: Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if cfg.secret_key_is_default {
        tracing::warn!(
            "SECRET_KEY is not set: using a development key. Set SECRET_KEY in production."
        );
    }
    if !args.no_migrate {
        prepare_database(&cfg).await?;
    }
    let url = serving_url(&cfg).await?;
    let pool = db::connect_app(&url, &cfg.app_pool()).await?;
    let role = db::role_info(&pool).await?;
    let problems = crm::db::rls::role_problems(&role);
    if !problems.is_empty() {
        if !args.allow_superuser {
            bail!(
                "refusing to serve: {}. Connect as the app role (`bottlecrm migrate` creates {}) or pass --allow-superuser",
                problems.join("; "),
                cfg.app_db_user
            );
        }
        tracing::warn!(problems = ?problems, "serving with a role that bypasses row-level security (--allow-superuser)");
    }
    if let Some(first) = crm::common::bootstrap::ensure_first_admin(&pool, &cfg).await? {
        println!("No users yet: created the first admin.");
        println!("  e-mail:   {}", first.email);
        println!("  password: {}", first.password);
        println!(
            "  log in:   curl -X POST http://{}/api/auth/login/ -H 'Content-Type: application/json' \\",
            args.bind.unwrap_or(cfg.bind_addr)
        );
        println!(
            "              -d '{{\"email\": \"{}\", \"password\": \"<password above>\"}}'",
            first.email
        );
    }
    let bind = args.bind.unwrap_or(cfg.bind_addr);
    let worker = if args.no_worker {
        None
    } else {
        Some(crate::jobs_cmd::start_worker(&cfg, &url, None).await?)
    };
    let state = crm::AppState::new(pool, cfg);
    let app = crm::router(state);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(address = %listener.local_addr()?, role = %role.name, "serving BottleCRM API");
    println!(
        "listening on http://{}  (API docs: /swagger-ui/, /api/schema/redoc/)",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    if let Some(w) = worker {
        w.shutdown().await;
    }
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}
