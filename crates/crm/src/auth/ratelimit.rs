//! Failed-login throttle, per e-mail and per client IP, in memory (one server process).
//! Only failures count; a success clears the e-mail's record.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_per_email: u32,
    max_per_ip: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_per_email: u32, max_per_ip: u32, window: Duration) -> Self {
        LoginLimiter {
            max_per_email,
            max_per_ip,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, ip: Option<&str>) -> (String, Option<String>) {
        (
            format!("e:{}", email.to_lowercase()),
            ip.map(|i| format!("i:{i}")),
        )
    }

    /// Seconds to wait when either key is over its limit, else None.
    pub fn check(&self, email: &str, ip: Option<&str>) -> Option<u64> {
        let (ek, ik) = Self::keys(email, ip);
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None;
        for (key, max) in [(Some(ek), self.max_per_email), (ik, self.max_per_ip)] {
            let Some(key) = key else { continue };
            if let Some(q) = map.get_mut(&key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                if q.len() as u32 >= max {
                    let oldest = *q.front().expect("non-empty: len >= max >= 1");
                    let secs = self
                        .window
                        .saturating_sub(now.duration_since(oldest))
                        .as_secs()
                        + 1;
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn record_failure(&self, email: &str, ip: Option<&str>) {
        let (ek, ik) = Self::keys(email, ip);
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Keep memory bounded under a spray of distinct e-mails: drop stale entries now and then.
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        map.entry(ek).or_default().push_back(now);
        if let Some(ik) = ik {
            map.entry(ik).or_default().push_back(now);
        }
    }

    pub fn record_success(&self, email: &str) {
        let (ek, _) = Self::keys(email, None);
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ek);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_after_max_failures() {
        let l = LoginLimiter::new(2, 10, Duration::from_secs(60));
        assert!(l.check("a@x.io", Some("1.1.1.1")).is_none());
        l.record_failure("a@x.io", Some("1.1.1.1"));
        l.record_failure("A@x.io", Some("1.1.1.1"));
        let wait = l
            .check("a@x.io", Some("2.2.2.2"))
            .expect("limited by e-mail");
        assert!(wait > 0 && wait <= 61);
        assert!(
            l.check("b@x.io", Some("1.1.1.1")).is_none(),
            "ip limit is higher"
        );
        l.record_success("a@x.io");
        assert!(l.check("a@x.io", None).is_none());
    }
}
