//! Failed-login throttle, in memory (one server process). Three counters of failures within a
//! sliding window, only failures count:
//! - per (e-mail, client IP): after `max_per_pair` failures that pair waits `backoff_base`, and
//!   each further failure doubles the wait (capped at the window). An attacker guessing one
//!   account's password from one address slows down fast, while the owner, from another address,
//!   still logs in.
//! - per e-mail, from any address: a higher ceiling (`max_per_email`) against guessing spread
//!   over many addresses.
//! - per client IP, over any e-mails: `max_per_ip` against password spraying.
//!
//! A successful login clears the (e-mail, IP) pair only: it does not reset what others did.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    pub max_per_pair: u32,
    pub max_per_email: u32,
    pub max_per_ip: u32,
    pub window: Duration,
    pub backoff_base: Duration,
}

#[derive(Default)]
struct Record {
    failures: VecDeque<Instant>,
    /// Pair records only: no attempt before this instant.
    blocked_until: Option<Instant>,
}

pub struct LoginLimiter {
    limits: LoginLimits,
    records: Mutex<HashMap<String, Record>>,
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, ip: Option<&str>) -> (String, Option<String>, Option<String>) {
        let email = email.to_lowercase();
        (
            format!("e:{email}"),
            ip.map(|i| format!("i:{i}")),
            // An unknown address (no socket info) still gets its own pair.
            Some(format!("p:{}|{email}", ip.unwrap_or("?"))),
        )
    }

    /// Seconds to wait when the pair is backing off or the e-mail or IP is over its ceiling.
    pub fn check(&self, email: &str, ip: Option<&str>) -> Option<u64> {
        self.check_at(email, ip, Instant::now())
    }

    pub fn check_at(&self, email: &str, ip: Option<&str>, now: Instant) -> Option<u64> {
        let (ek, ik, pk) = Self::keys(email, ip);
        let window = self.limits.window;
        let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait: Option<u64> = None;
        let mut longer = |secs: u64| wait = Some(wait.map_or(secs, |w| w.max(secs)));
        for (key, max) in [
            (Some(ek), self.limits.max_per_email),
            (ik, self.limits.max_per_ip),
        ] {
            let Some(rec) = key.and_then(|k| map.get_mut(&k)) else {
                continue;
            };
            while rec
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                rec.failures.pop_front();
            }
            if rec.failures.len() as u32 >= max.max(1)
                && let Some(oldest) = rec.failures.front()
            {
                longer(ceil_secs(window.saturating_sub(now.duration_since(*oldest))).max(1));
            }
        }
        if let Some(until) = pk
            .and_then(|k| map.get(&k))
            .and_then(|r| r.blocked_until)
            .filter(|u| *u > now)
        {
            longer(ceil_secs(until - now).max(1));
        }
        wait
    }

    pub fn record_failure(&self, email: &str, ip: Option<&str>) {
        self.record_failure_at(email, ip, Instant::now())
    }

    pub fn record_failure_at(&self, email: &str, ip: Option<&str>, now: Instant) {
        let (ek, ik, pk) = Self::keys(email, ip);
        let LoginLimits {
            max_per_pair,
            window,
            backoff_base,
            ..
        } = self.limits;
        let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        // Keep memory bounded under a spray of distinct e-mails: drop stale entries now and then.
        if map.len() > 100_000 {
            map.retain(|_, r| {
                r.failures
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
                    || r.blocked_until.is_some_and(|u| u > now)
            });
        }
        map.entry(ek).or_default().failures.push_back(now);
        if let Some(ik) = ik {
            map.entry(ik).or_default().failures.push_back(now);
        }
        if let Some(pk) = pk {
            let rec = map.entry(pk).or_default();
            while rec
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                rec.failures.pop_front();
            }
            rec.failures.push_back(now);
            let n = rec.failures.len() as u32;
            if n >= max_per_pair.max(1) {
                let doublings = (n - max_per_pair.max(1)).min(20);
                let wait = backoff_base.saturating_mul(1 << doublings).min(window);
                rec.blocked_until = Some(now + wait);
            }
        }
    }

    /// The owner got in from this address: forget the pair's failures.
    pub fn record_success(&self, email: &str, ip: Option<&str>) {
        let (_, _, pk) = Self::keys(email, ip);
        if let Some(pk) = pk {
            self.records
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&pk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            max_per_pair: 3,
            max_per_email: 10,
            max_per_ip: 6,
            window: Duration::from_secs(900),
            backoff_base: Duration::from_secs(30),
        })
    }

    #[test]
    fn pair_backs_off_and_doubles_other_ip_unaffected() {
        let l = limiter();
        let t0 = Instant::now();
        let bad = Some("6.6.6.6");
        for _ in 0..2 {
            l.record_failure_at("a@x.io", bad, t0);
        }
        assert_eq!(l.check_at("a@x.io", bad, t0), None, "under the pair limit");
        l.record_failure_at("A@x.io", bad, t0);
        assert_eq!(l.check_at("a@x.io", bad, t0), Some(30));
        assert_eq!(
            l.check_at("a@x.io", Some("1.2.3.4"), t0),
            None,
            "owner elsewhere"
        );
        assert_eq!(
            l.check_at("b@x.io", bad, t0),
            None,
            "other accounts from that IP"
        );
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(l.check_at("a@x.io", bad, t1), None, "after the wait");
        l.record_failure_at("a@x.io", bad, t1);
        assert_eq!(l.check_at("a@x.io", bad, t1), Some(60), "doubled");
        let t2 = t1 + Duration::from_secs(61);
        l.record_failure_at("a@x.io", bad, t2);
        assert_eq!(l.check_at("a@x.io", bad, t2), Some(120));
        l.record_success("a@x.io", bad);
        assert_eq!(l.check_at("a@x.io", bad, t2), None);
    }

    #[test]
    fn per_email_and_per_ip_ceilings() {
        let l = limiter();
        let t0 = Instant::now();
        // Spread over many addresses: the e-mail ceiling (10) holds for everyone.
        for i in 0..10 {
            l.record_failure_at("a@x.io", Some(&format!("10.0.0.{i}")), t0);
        }
        assert_eq!(l.check_at("a@x.io", Some("1.2.3.4"), t0), Some(900));
        // One address over many e-mails: the IP ceiling (6).
        for i in 0..6 {
            l.record_failure_at(&format!("u{i}@x.io"), Some("7.7.7.7"), t0);
        }
        assert!(l.check_at("new@x.io", Some("7.7.7.7"), t0).is_some());
        let later = t0 + Duration::from_secs(900);
        assert_eq!(l.check_at("new@x.io", Some("7.7.7.7"), later), None);
    }
}
