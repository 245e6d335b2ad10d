//! Failed-login throttle and the public endpoints' request counters, kept in PostgreSQL
//! (migration 0050) so that every `serve` process sharing the database enforces one limit.
//! Three counters of failed logins within a sliding window, only failures count:
//! - per (e-mail, client IP): after `max_per_pair` failures that pair waits `backoff_base`, and
//!   each further failure doubles the wait (capped at the window). An attacker guessing one
//!   account's password from one address slows down fast, while the owner, from another address,
//!   still logs in.
//! - per e-mail, from any address: a higher ceiling (`max_per_email`) against guessing spread
//!   over many addresses.
//! - per client IP, over any e-mails: `max_per_ip` against password spraying.
//!
//! A successful login clears the (e-mail, IP) pair only: it does not reset what others did.
//! Keys are stored as SHA-256 digests; times are the database's clock (one clock for all
//! processes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    pub max_per_pair: u32,
    pub max_per_email: u32,
    pub max_per_ip: u32,
    pub window: Duration,
    pub backoff_base: Duration,
}

pub struct LoginLimiter {
    limits: LoginLimits,
    /// Failures recorded by this process: every 100th sweeps expired rows.
    recorded: AtomicU64,
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            recorded: AtomicU64::new(0),
        }
    }

    /// (e-mail key, IP key, pair key), digested.
    fn keys(email: &str, ip: Option<&str>) -> (String, Option<String>, String) {
        let email = email.to_lowercase();
        (
            digest(&format!("e:{email}")),
            ip.map(|i| digest(&format!("i:{i}"))),
            // An unknown address (no socket info) still gets its own pair.
            digest(&format!("p:{}|{email}", ip.unwrap_or("?"))),
        )
    }

    fn window_secs(&self) -> f64 {
        self.limits.window.as_secs_f64()
    }

    /// Seconds to wait when the pair is backing off or the e-mail or IP is over its ceiling.
    pub async fn check(
        &self,
        pool: &PgPool,
        email: &str,
        ip: Option<&str>,
    ) -> Result<Option<u64>, sqlx::Error> {
        let (ek, ik, pk) = Self::keys(email, ip);
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT key, count(*),
                    ceil(extract(epoch FROM min(at) + make_interval(secs => $3) - clock_timestamp()))::bigint
               FROM throttle_hits
              WHERE key IN ($1, $2) AND at > clock_timestamp() - make_interval(secs => $3)
              GROUP BY key
             UNION ALL
             SELECT key, -1, ceil(extract(epoch FROM until - clock_timestamp()))::bigint
               FROM throttle_blocks WHERE key = $4 AND until > clock_timestamp()",
        )
        .bind(&ek)
        .bind(ik.as_deref().unwrap_or(""))
        .bind(self.window_secs())
        .bind(&pk)
        .fetch_all(pool)
        .await?;
        let mut wait: Option<u64> = None;
        for (key, n, secs) in rows {
            let over = if n < 0 {
                true
            } else if key == ek {
                n >= i64::from(self.limits.max_per_email.max(1))
            } else {
                n >= i64::from(self.limits.max_per_ip.max(1))
            };
            if over {
                let secs = secs.max(1) as u64;
                wait = Some(wait.map_or(secs, |w| w.max(secs)));
            }
        }
        Ok(wait)
    }

    pub async fn record_failure(
        &self,
        pool: &PgPool,
        email: &str,
        ip: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let (ek, ik, pk) = Self::keys(email, ip);
        let LoginLimits {
            max_per_pair,
            window,
            backoff_base,
            ..
        } = self.limits;
        let mut keys = vec![ek, pk.clone()];
        keys.extend(ik);
        let (n,): (i64,) = sqlx::query_as(
            "WITH ins AS (INSERT INTO throttle_hits (key) SELECT unnest($1::text[]))
             SELECT count(*) + 1 FROM throttle_hits
              WHERE key = $2 AND at > clock_timestamp() - make_interval(secs => $3)",
        )
        .bind(&keys)
        .bind(&pk)
        .bind(self.window_secs())
        .fetch_one(pool)
        .await?;
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if n >= max_per_pair.max(1) {
            let doublings = (n - max_per_pair.max(1)).min(20);
            let wait = backoff_base.saturating_mul(1 << doublings).min(window);
            sqlx::query(
                "INSERT INTO throttle_blocks (key, until)
                 VALUES ($1, clock_timestamp() + make_interval(secs => $2))
                 ON CONFLICT (key) DO UPDATE SET until = excluded.until",
            )
            .bind(&pk)
            .bind(wait.as_secs_f64())
            .execute(pool)
            .await?;
        }
        // Keep the tables small under a spray of distinct e-mails.
        if self.recorded.fetch_add(1, Ordering::Relaxed) % 100 == 99 {
            sqlx::query(
                "WITH h AS (DELETE FROM throttle_hits WHERE at < clock_timestamp() - make_interval(secs => $1))
                 DELETE FROM throttle_blocks WHERE until < clock_timestamp()",
            )
            .bind(self.window_secs())
            .execute(pool)
            .await?;
        }
        Ok(())
    }

    /// The owner got in from this address: forget the pair's failures.
    pub async fn record_success(
        &self,
        pool: &PgPool,
        email: &str,
        ip: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let (_, _, pk) = Self::keys(email, ip);
        sqlx::query(
            "WITH h AS (DELETE FROM throttle_hits WHERE key = $1)
             DELETE FROM throttle_blocks WHERE key = $1",
        )
        .bind(&pk)
        .execute(pool)
        .await?;
        Ok(())
    }
}

/// A fixed-window counter shared by every process: counts a hit of `key` and returns the
/// seconds to wait when `key` already had `max` hits in the current window.
pub async fn window_hit(
    pool: &PgPool,
    key: &str,
    max: u32,
    window: Duration,
) -> Result<Option<u64>, sqlx::Error> {
    let (n, secs): (i32, i64) = sqlx::query_as(
        "INSERT INTO throttle_counts AS c (key, started, n) VALUES ($1, clock_timestamp(), 1)
         ON CONFLICT (key) DO UPDATE SET
            started = CASE WHEN c.started <= clock_timestamp() - make_interval(secs => $2)
                           THEN clock_timestamp() ELSE c.started END,
            n = CASE WHEN c.started <= clock_timestamp() - make_interval(secs => $2)
                     THEN 1 ELSE c.n + 1 END
         RETURNING n, ceil(extract(epoch FROM started + make_interval(secs => $2) - clock_timestamp()))::bigint",
    )
    .bind(digest(key))
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok((n as i64 > i64::from(max)).then(|| secs.max(1) as u64))
}
