//! Rendered responses kept in memory, each valid for one data version of its org.
//!
//! A data version is the sum of the org's and the global write counters in `cache_versions`
//! (migration 0032: statement triggers bump them on every write to a watched table). `Tenant`
//! reads it in the request's transaction, so a hit is a page no older than what that transaction
//! would render itself, whichever server process wrote last. Pages must be rendered in read-only
//! transactions: a page built after the transaction's own (possibly rolled back) writes would be
//! stored under a version that never commits.
//!
//! Bounded by bytes (`RESPONSE_CACHE_BYTES`, 0 turns it off); the least recently used page goes
//! first. Pages of older versions are dropped when met.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use uuid::Uuid;

struct Entry {
    version: i64,
    body: Bytes,
    used: u64,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<(Uuid, String), Entry>,
    bytes: usize,
    clock: u64,
}

pub struct ResponseCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl ResponseCache {
    pub fn new(budget_bytes: usize) -> Self {
        ResponseCache {
            budget: budget_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The page stored under `key` for this org if it was rendered at `version`.
    pub fn get(&self, org: Uuid, version: i64, key: &str) -> Option<Bytes> {
        if self.budget == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        let k = (org, key.to_string());
        let entry = inner.pages.get_mut(&k)?;
        if entry.version == version {
            entry.used = now;
            return Some(entry.body.clone());
        }
        if entry.version < version {
            let old = inner.pages.remove(&k).map_or(0, |e| e.body.len());
            inner.bytes -= old;
        }
        None
    }

    /// Stores a page rendered at `version` (a newer page under the same key is kept).
    pub fn put(&self, org: Uuid, version: i64, key: String, body: Bytes) {
        // One page may take at most a quarter of the budget, so a few big pages cannot flush it.
        if self.budget == 0 || body.len() > self.budget / 4 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let used = inner.clock;
        let k = (org, key);
        if inner.pages.get(&k).is_some_and(|e| e.version > version) {
            return;
        }
        let size = body.len();
        if let Some(old) = inner.pages.insert(
            k,
            Entry {
                version,
                body,
                used,
            },
        ) {
            inner.bytes -= old.body.len();
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            let Some(lru) = inner
                .pages
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            let freed = inner.pages.remove(&lru).map_or(0, |e| e.body.len());
            inner.bytes -= freed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_version_it_was_rendered_at() {
        let c = ResponseCache::new(1000);
        let org = Uuid::new_v4();
        c.put(org, 5, "k".into(), Bytes::from_static(b"v5"));
        assert_eq!(c.get(org, 5, "k").as_deref(), Some(&b"v5"[..]));
        assert_eq!(c.get(org, 6, "k"), None);
        assert_eq!(
            c.get(org, 5, "k"),
            None,
            "older versions are dropped when met"
        );
        assert_eq!(c.get(Uuid::new_v4(), 5, "k"), None, "pages are per org");
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let c = ResponseCache::new(40);
        let org = Uuid::new_v4();
        for k in ["a", "b", "c", "d"] {
            c.put(org, 1, k.into(), Bytes::from(vec![0u8; 10]));
        }
        assert!(c.get(org, 1, "a").is_some());
        c.put(org, 1, "e".into(), Bytes::from(vec![0u8; 10]));
        assert!(c.get(org, 1, "a").is_some(), "recently read");
        assert!(c.get(org, 1, "b").is_none(), "least recently used");
        c.put(org, 1, "big".into(), Bytes::from(vec![0u8; 11]));
        assert!(
            c.get(org, 1, "big").is_none(),
            "over a quarter of the budget"
        );
        assert!(ResponseCache::new(0).get(org, 1, "a").is_none());
    }
}
