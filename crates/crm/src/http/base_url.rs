//! The public base URL of this API for links in responses (document and attachment downloads,
//! the org logo): API_URL when it is set; otherwise the request's own scheme and host, so the
//! links work wherever the server listens. `X-Forwarded-Proto`/`X-Forwarded-Host` count only
//! with TRUST_PROXY. E-mails keep API_URL always: the worker has no request, and a link built
//! from a client's Host header in someone else's inbox would be a phishing vector.

use std::sync::Arc;

use axum::http::{HeaderMap, Uri, header};

use crate::config::Config;

tokio::task_local! {
    static BASE_URL: Arc<str>;
}

/// The base URL (no trailing slash) for links in the current response. Inside a request it is
/// the one `run_in_request` set; elsewhere (worker, CLI) API_URL.
pub fn current(cfg: &Config) -> Arc<str> {
    BASE_URL
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(cfg.api_url.trim_end_matches('/')))
}

/// Runs `fut` with `base` as the base URL that `current` answers.
pub async fn scope<F: Future>(base: Arc<str>, fut: F) -> F::Output {
    BASE_URL.scope(base, fut).await
}

/// The base URL for a request with these headers and URI.
pub fn of_request(cfg: &Config, headers: &HeaderMap, uri: &Uri) -> Arc<str> {
    let configured = || Arc::from(cfg.api_url.trim_end_matches('/'));
    if !cfg.api_url_is_default {
        return configured();
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let forwarded = |name: &str| if cfg.trust_proxy { first(name) } else { None };
    let host = forwarded("x-forwarded-host")
        .or_else(|| first(header::HOST.as_str()))
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| valid_host(h));
    let Some(host) = host else {
        return configured();
    };
    let scheme = match forwarded("x-forwarded-proto").or(uri.scheme_str()) {
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    Arc::from(format!("{scheme}://{host}"))
}

/// A host name or address with an optional port; nothing that could change the URL's shape.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(cfg: &Config, hdrs: &[(&str, &str)], uri: &str) -> String {
        let mut h = HeaderMap::new();
        for (k, v) in hdrs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        of_request(cfg, &h, &uri.parse().unwrap()).to_string()
    }

    #[test]
    fn request_host_unless_api_url_is_set() {
        let mut cfg = Config::for_tests("postgres://x@localhost/db");
        assert_eq!(
            base(&cfg, &[("host", "crm.example:9000")], "/x"),
            "http://crm.example:9000"
        );
        assert_eq!(base(&cfg, &[], "/x"), "http://localhost:8000");
        assert_eq!(
            base(&cfg, &[("host", "evil/x?")], "/x"),
            "http://localhost:8000"
        );
        let fwd = [
            ("host", "10.0.0.5:8000"),
            ("x-forwarded-host", "crm.example.org"),
            ("x-forwarded-proto", "https"),
        ];
        assert_eq!(
            base(&cfg, &fwd, "/x"),
            "http://10.0.0.5:8000",
            "no TRUST_PROXY"
        );
        cfg.trust_proxy = true;
        assert_eq!(base(&cfg, &fwd, "/x"), "https://crm.example.org");
        cfg.api_url = "https://api.example.com/".into();
        cfg.api_url_is_default = false;
        assert_eq!(base(&cfg, &fwd, "/x"), "https://api.example.com");
    }
}
