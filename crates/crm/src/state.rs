//! Shared application state handed to every handler.

use std::ops::Deref;
use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::Jwt;
use crate::auth::ratelimit::{LoginLimiter, LoginLimits};
use crate::cache::ResponseCache;
use crate::config::Config;
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// Logged in as the non-superuser app role: RLS applies to every query.
    pub pool: PgPool,
    pub cfg: Config,
    pub jwt: Jwt,
    pub login_limiter: LoginLimiter,
    /// Uploaded files (MEDIA_ROOT or S3).
    pub storage: Storage,
    /// Rendered list pages, valid per org data version.
    pub cache: ResponseCache,
}

impl AppState {
    pub fn new(pool: PgPool, cfg: Config) -> Self {
        // reqwest (Google sign-in, S3) is built without a bundled TLS provider: use ring, which
        // is already in the tree. Idempotent; a second install is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let jwt = Jwt::new(
            &cfg.secret_key,
            cfg.access_token_lifetime,
            cfg.refresh_token_lifetime,
        );
        let login_limiter = LoginLimiter::new(LoginLimits {
            max_per_pair: cfg.login_max_failures,
            max_per_email: cfg.login_max_failures_per_email,
            max_per_ip: cfg.login_max_failures_per_ip,
            window: cfg.login_window,
            backoff_base: cfg.login_backoff_base,
        });
        let storage = Storage::from_config(&cfg);
        let cache = ResponseCache::new(cfg.response_cache_bytes);
        AppState(Arc::new(Inner {
            pool,
            cfg,
            jwt,
            login_limiter,
            storage,
            cache,
        }))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
