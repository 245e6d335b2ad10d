//! `limit`/`offset` pagination with upstream's defaults: limit 10 (non-numbers, 0 or negatives
//! fall back to it), offset 0. Unlike upstream, a page is capped so one request cannot dump an
//! entire org.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::query::RawQuery;

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub fn from_query(q: &RawQuery) -> Self {
        let limit = q
            .get("limit")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
            .map(|v| v.min(MAX_LIMIT))
            .unwrap_or(DEFAULT_LIMIT);
        let offset = q
            .get("offset")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .unwrap_or(0);
        Page { limit, offset }
    }
}

impl Page {
    /// DRF's `next`/`previous` links of this page of `count` rows: `base` + `path` with the
    /// request's query string, `limit` and `offset` replaced (`previous` drops a zero offset).
    pub fn links(
        &self,
        base: &str,
        path: &str,
        q: &RawQuery,
        count: i64,
    ) -> (Option<String>, Option<String>) {
        let url = |offset: i64| {
            let mut pairs: Vec<(String, String)> =
                q.0.iter()
                    .filter(|(k, _)| k != "limit" && k != "offset")
                    .cloned()
                    .collect();
            pairs.push(("limit".into(), self.limit.to_string()));
            if offset > 0 {
                pairs.push(("offset".into(), offset.to_string()));
            }
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            format!("{base}{path}?{query}")
        };
        // Saturating: `offset` is capped by nothing a client cannot send.
        let after = self.offset.saturating_add(self.limit);
        let next = (after < count).then(|| url(after));
        let previous =
            (self.offset > 0).then(|| url(self.offset.saturating_sub(self.limit).max(0)));
        (next, previous)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Page::from_query(&RawQuery::parse(parts.uri.query())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_like_upstream() {
        let p = |q: &str| Page::from_query(&RawQuery::parse(Some(q)));
        assert_eq!(
            p(""),
            Page {
                limit: 10,
                offset: 0
            }
        );
        assert_eq!(
            p("limit=abc&offset=-3"),
            Page {
                limit: 10,
                offset: 0
            }
        );
        assert_eq!(
            p("limit=0"),
            Page {
                limit: 10,
                offset: 0
            }
        );
        assert_eq!(
            p("limit=5&offset=20&limit=7"),
            Page {
                limit: 7,
                offset: 20
            }
        );
        assert_eq!(
            p("limit=999999"),
            Page {
                limit: MAX_LIMIT,
                offset: 0
            }
        );
    }
}
