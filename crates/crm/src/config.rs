//! Configuration from environment variables (and `.env`, loaded by the binary before this runs).
//! Upstream's variable names are accepted where they exist, so an existing `.env` keeps working.

use std::net::SocketAddr;
use std::time::Duration;

/// A missing or malformed setting: one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var}: {msg}")]
pub struct ConfigError {
    pub var: &'static str,
    pub msg: String,
}

fn bad(var: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        msg: msg.into(),
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// What `serve` and `worker` connect with.
    pub database_url: String,
    /// What `migrate` connects with (owner/admin role); defaults to `database_url`.
    pub migrate_database_url: String,
    /// The non-superuser role requests run as.
    pub app_db_user: String,
    pub app_db_password: Option<String>,
    pub secret_key: String,
    /// True when SECRET_KEY was not set and a development key is in use.
    pub secret_key_is_default: bool,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub domain_name: String,
    /// Public base URL of this API, for links in e-mails (activation); in responses too when
    /// set explicitly (else responses use the request's own scheme and host: `http::BaseUrl`).
    pub api_url: String,
    /// True when API_URL was not set and `api_url` is the default.
    pub api_url_is_default: bool,
    pub cors_allowed_origins: Vec<String>,
    pub cors_allow_all: bool,
    pub bind_addr: SocketAddr,
    pub json_body_limit: usize,
    pub request_timeout: Duration,
    pub db_max_connections: u32,
    /// How long a request waits for a pooled connection before a 503 (DB_ACQUIRE_TIMEOUT).
    pub db_acquire_timeout: Duration,
    /// `statement_timeout` of the serving pool (DB_STATEMENT_TIMEOUT; None: no limit).
    pub db_statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout` of the serving pool
    /// (DB_IDLE_IN_TRANSACTION_TIMEOUT; None: no limit).
    pub db_idle_in_transaction_timeout: Option<Duration>,
    /// Failed logins (see `auth::ratelimit`): per (e-mail, IP) before backing off from
    /// `login_backoff_base`, and the per-e-mail and per-IP ceilings within `login_window`.
    pub login_max_failures: u32,
    pub login_backoff_base: Duration,
    pub login_max_failures_per_email: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window: Duration,
    pub default_from_email: String,
    /// Trust the first `X-Forwarded-For` entry as the client address (only behind a proxy).
    pub trust_proxy: bool,
    /// Upstream's ADMIN_EMAIL (also the first admin on an empty database), shown in `GET /api/users/`.
    pub admin_email: String,
    pub google: GoogleConfig,
    /// Where uploaded files go when S3 is not configured (MEDIA_ROOT, default ./media).
    pub media_root: std::path::PathBuf,
    /// Largest accepted uploaded file (UPLOAD_MAX_BYTES, default 10 MiB).
    pub upload_max_bytes: usize,
    /// Memory for rendered list pages (`crate::cache`); 0 turns the cache off.
    pub response_cache_bytes: usize,
    /// S3-compatible storage, when AWS_BUCKET_NAME is set.
    pub s3: Option<S3Config>,
}

/// Google sign-in. Endpoints are settings so tests (and other OpenID providers) can stand in.
#[derive(Clone, Debug)]
pub struct GoogleConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token_url: String,
    pub jwks_url: String,
    /// Accepted `iss` values of the ID token.
    pub issuers: Vec<String>,
}

impl GoogleConfig {
    fn from_env() -> Self {
        GoogleConfig {
            client_id: var("GOOGLE_CLIENT_ID"),
            client_secret: var("GOOGLE_CLIENT_SECRET"),
            token_url: var("GOOGLE_TOKEN_URL")
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            jwks_url: var("GOOGLE_JWKS_URL")
                .unwrap_or_else(|| "https://www.googleapis.com/oauth2/v3/certs".into()),
            issuers: var("GOOGLE_ISSUER")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_else(|| {
                    vec![
                        "https://accounts.google.com".into(),
                        "accounts.google.com".into(),
                    ]
                }),
        }
    }
}

/// Upstream's (django-storages) variable names.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub bucket: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// AWS_S3_ENDPOINT_URL: for S3-compatible services (MinIO, R2...).
    pub endpoint: Option<String>,
    pub region: String,
}

fn s3_from_env() -> Result<Option<S3Config>, ConfigError> {
    let Some(bucket) = var("AWS_BUCKET_NAME").or_else(|| var("AWS_STORAGE_BUCKET_NAME")) else {
        return Ok(None);
    };
    let endpoint = var("AWS_S3_ENDPOINT_URL");
    if let Some(e) = &endpoint {
        let ok = url::Url::parse(e).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(bad(
                "AWS_S3_ENDPOINT_URL",
                format!("not an http(s) URL: {e:?}"),
            ));
        }
    }
    Ok(Some(S3Config {
        bucket,
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        endpoint,
        region: var("AWS_S3_REGION_NAME")
            .or_else(|| var("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
    }))
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@localhost/bottlecrm";
const DEV_SECRET_KEY: &str = "bottlecrm-development-secret-key-change-me";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `3600`, `3600s`, `60m`, `24h`, `1d`, `365d` -> Duration.
pub fn parse_duration(var_name: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    let raw = raw.trim();
    let (num, mult) = match raw.chars().last() {
        Some('s') => (&raw[..raw.len() - 1], 1),
        Some('m') => (&raw[..raw.len() - 1], 60),
        Some('h') => (&raw[..raw.len() - 1], 3600),
        Some('d') => (&raw[..raw.len() - 1], 86400),
        _ => (raw, 1),
    };
    let n: u64 = num.parse().map_err(|_| {
        bad(
            var_name,
            format!("expected a duration like 3600, 60m, 24h or 1d, got {raw:?}"),
        )
    })?;
    if n == 0 {
        return Err(bad(var_name, "must be greater than zero"));
    }
    Ok(Duration::from_secs(n * mult))
}

/// Twice the CPUs, at least 4: PostgreSQL on the same machine runs one backend per connection,
/// and more busy backends than cores only thrash (docs/benchmarks.md: on 2 cores a pool of 4
/// beats 20 on throughput and p99 alike).
pub fn default_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (cpus * 2).max(4)
}

/// A duration where `0` or `off` means no limit; `default` when unset.
fn parse_limit(
    name: &'static str,
    default: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) if matches!(v.trim(), "0" | "off" | "none") => Ok(None),
        Some(v) => parse_duration(name, &v).map(Some),
    }
}

fn parse_num<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad(name, format!("expected a number, got {v:?}"))),
    }
}

fn parse_bool(name: &'static str) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(bad(name, format!("expected true or false, got {v:?}"))),
    }
}

/// Upstream's DBNAME/DBUSER/DBPASSWORD/DBHOST/DBPORT, when DATABASE_URL is not set.
fn database_url_from_parts() -> Result<Option<String>, ConfigError> {
    let Some(name) = var("DBNAME") else {
        return Ok(None);
    };
    let user = var("DBUSER").unwrap_or_else(|| "postgres".into());
    let host = var("DBHOST").unwrap_or_else(|| "localhost".into());
    let port: u16 = parse_num("DBPORT", 5432)?;
    let mut url = url::Url::parse("postgres://localhost/").expect("static url");
    url.set_host(Some(&host))
        .map_err(|e| bad("DBHOST", e.to_string()))?;
    url.set_port(Some(port)).ok();
    url.set_username(&user).ok();
    if let Some(pw) = var("DBPASSWORD") {
        url.set_password(Some(&pw)).ok();
    }
    url.set_path(&name);
    Ok(Some(url.to_string()))
}

fn check_db_url(name: &'static str, v: &str) -> Result<(), ConfigError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("not a URL: {e}")))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(bad(name, "must start with postgres://"));
    }
    Ok(())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let database_url = match var("DATABASE_URL") {
            Some(u) => u,
            None => database_url_from_parts()?.unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        };
        check_db_url("DATABASE_URL", &database_url)?;
        let migrate_database_url =
            var("MIGRATE_DATABASE_URL").unwrap_or_else(|| database_url.clone());
        check_db_url("MIGRATE_DATABASE_URL", &migrate_database_url)?;

        let (secret_key, secret_key_is_default) = match var("SECRET_KEY") {
            Some(k) if k.len() < 16 => {
                return Err(bad("SECRET_KEY", "must be at least 16 characters"));
            }
            Some(k) => (k, false),
            None => (DEV_SECRET_KEY.to_string(), true),
        };
        let access_token_lifetime = match var("ACCESS_TOKEN_LIFETIME") {
            Some(v) => parse_duration("ACCESS_TOKEN_LIFETIME", &v)?,
            None => Duration::from_secs(86400),
        };
        let refresh_token_lifetime = match var("REFRESH_TOKEN_LIFETIME") {
            Some(v) => parse_duration("REFRESH_TOKEN_LIFETIME", &v)?,
            None => Duration::from_secs(365 * 86400),
        };
        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8000".into());
        let bind_addr = bind_addr.parse().map_err(|_| {
            bad(
                "BIND_ADDR",
                format!("expected host:port, got {bind_addr:?}"),
            )
        })?;
        let cors_allowed_origins = var("CORS_ALLOWED_ORIGINS")
            .unwrap_or_else(|| "http://localhost:5173,http://127.0.0.1:5173".into())
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        for o in &cors_allowed_origins {
            if url::Url::parse(o).is_err() {
                return Err(bad("CORS_ALLOWED_ORIGINS", format!("not an origin: {o:?}")));
            }
        }
        let login_backoff_base = match var("LOGIN_BACKOFF_BASE") {
            Some(v) => parse_duration("LOGIN_BACKOFF_BASE", &v)?,
            None => Duration::from_secs(30),
        };
        let login_window = match var("LOGIN_RATE_WINDOW") {
            Some(v) => parse_duration("LOGIN_RATE_WINDOW", &v)?,
            None => Duration::from_secs(15 * 60),
        };
        let request_timeout = match var("REQUEST_TIMEOUT") {
            Some(v) => parse_duration("REQUEST_TIMEOUT", &v)?,
            None => Duration::from_secs(30),
        };
        Ok(Config {
            database_url,
            migrate_database_url,
            app_db_user: var("APP_DB_USER").unwrap_or_else(|| "crm_app".into()),
            app_db_password: var("APP_DB_PASSWORD"),
            secret_key,
            secret_key_is_default,
            access_token_lifetime,
            refresh_token_lifetime,
            domain_name: var("DOMAIN_NAME").unwrap_or_else(|| "http://localhost:5173".into()),
            api_url: var("API_URL").unwrap_or_else(|| "http://localhost:8000".into()),
            api_url_is_default: var("API_URL").is_none(),
            cors_allowed_origins,
            cors_allow_all: parse_bool("CORS_ALLOW_ALL")?,
            bind_addr,
            json_body_limit: parse_num("JSON_BODY_LIMIT", 1024 * 1024)?,
            request_timeout,
            db_max_connections: parse_num("DB_MAX_CONNECTIONS", default_pool_size())?,
            db_acquire_timeout: match var("DB_ACQUIRE_TIMEOUT") {
                Some(v) => parse_duration("DB_ACQUIRE_TIMEOUT", &v)?,
                None => Duration::from_secs(5),
            },
            db_statement_timeout: parse_limit(
                "DB_STATEMENT_TIMEOUT",
                Some(Duration::from_secs(30)),
            )?,
            db_idle_in_transaction_timeout: parse_limit(
                "DB_IDLE_IN_TRANSACTION_TIMEOUT",
                Some(Duration::from_secs(30)),
            )?,
            login_max_failures: parse_num("LOGIN_MAX_FAILURES", 5)?,
            login_backoff_base,
            login_max_failures_per_email: parse_num("LOGIN_MAX_FAILURES_PER_EMAIL", 50)?,
            login_max_failures_per_ip: parse_num("LOGIN_MAX_FAILURES_PER_IP", 20)?,
            login_window,
            default_from_email: var("DEFAULT_FROM_EMAIL")
                .unwrap_or_else(|| "no-reply@bottlecrm.local".into()),
            trust_proxy: parse_bool("TRUST_PROXY")?,
            admin_email: var("ADMIN_EMAIL").unwrap_or_else(|| "admin@example.com".into()),
            google: GoogleConfig::from_env(),
            media_root: var("MEDIA_ROOT").unwrap_or_else(|| "./media".into()).into(),
            upload_max_bytes: parse_num("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)?,
            response_cache_bytes: parse_num("RESPONSE_CACHE_BYTES", 64 * 1024 * 1024)?,
            s3: s3_from_env()?,
        })
    }

    /// A configuration for tests: everything default except the database URLs.
    pub fn for_tests(database_url: &str) -> Self {
        Config {
            database_url: database_url.into(),
            migrate_database_url: database_url.into(),
            app_db_user: "crm_app".into(),
            app_db_password: None,
            secret_key: "test-secret-key-0123456789abcdef".into(),
            secret_key_is_default: false,
            access_token_lifetime: Duration::from_secs(86400),
            refresh_token_lifetime: Duration::from_secs(365 * 86400),
            domain_name: "http://localhost:5173".into(),
            api_url: "http://localhost:8000".into(),
            api_url_is_default: true,
            cors_allowed_origins: vec!["http://localhost:5173".into()],
            cors_allow_all: false,
            bind_addr: "127.0.0.1:0".parse().expect("static addr"),
            json_body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            db_max_connections: 5,
            db_acquire_timeout: Duration::from_secs(5),
            db_statement_timeout: Some(Duration::from_secs(30)),
            db_idle_in_transaction_timeout: Some(Duration::from_secs(30)),
            login_max_failures: 5,
            login_backoff_base: Duration::from_secs(30),
            login_max_failures_per_email: 50,
            login_max_failures_per_ip: 20,
            login_window: Duration::from_secs(900),
            default_from_email: "no-reply@bottlecrm.local".into(),
            trust_proxy: false,
            admin_email: "admin@example.com".into(),
            google: GoogleConfig {
                client_id: None,
                client_secret: None,
                token_url: "http://127.0.0.1:9/token".into(),
                jwks_url: "http://127.0.0.1:9/jwks".into(),
                issuers: vec!["https://accounts.google.com".into()],
            },
            media_root: test_media_root(database_url),
            upload_max_bytes: 10 * 1024 * 1024,
            response_cache_bytes: 8 * 1024 * 1024,
            s3: None,
        }
    }
}

impl Config {
    /// The serving pool's settings.
    pub fn app_pool(&self) -> crate::db::AppPoolSettings {
        crate::db::AppPoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
            idle_in_transaction_timeout: self.db_idle_in_transaction_timeout,
        }
    }
}

/// A test database's own MEDIA_ROOT, named after the database (removed with it by the testkit).
pub fn test_media_root(database_url: &str) -> std::path::PathBuf {
    let db = url::Url::parse(database_url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    std::env::temp_dir().join("bottlecrm-test-media").join(db)
}

/// Loads `.env` from the working directory when present; variables already set win.
pub fn load_dotenv() -> Option<()> {
    dotenvy::dotenv().ok().map(|_| ())
}
