//! Account activation tokens, byte-compatible with upstream's `TokenGenerator` (Django's
//! PasswordResetTokenGenerator with hash value `pk + timestamp + is_active`): a link made by
//! either side works on the other. The token stops working once the account is active.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";
/// Seconds between the Unix epoch and 2001-01-01 (Django's token epoch).
const EPOCH_2001: i64 = 978_307_200;
/// Django's PASSWORD_RESET_TIMEOUT default: three days.
pub const VALIDITY_SECS: i64 = 3 * 86400;

fn base36(mut n: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n <= 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn from_base36(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 13 {
        return None;
    }
    i64::from_str_radix(s, 36).ok()
}

fn digest(secret: &str, user_id: Uuid, ts: i64, is_active: bool) -> String {
    let key = Sha256::digest(format!("{KEY_SALT}{secret}").as_bytes());
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length works for HMAC");
    let value = format!("{user_id}{ts}{}", if is_active { "True" } else { "False" });
    mac.update(value.as_bytes());
    let hexed = hex::encode(mac.finalize().into_bytes());
    hexed.chars().step_by(2).collect()
}

pub fn make_token(secret: &str, user_id: Uuid, is_active: bool, now_unix: i64) -> String {
    let ts = now_unix - EPOCH_2001;
    format!("{}-{}", base36(ts), digest(secret, user_id, ts, is_active))
}

pub fn check_token(
    secret: &str,
    user_id: Uuid,
    is_active: bool,
    token: &str,
    now_unix: i64,
) -> bool {
    let Some((ts_b36, hash)) = token.split_once('-') else {
        return false;
    };
    let Some(ts) = from_base36(ts_b36) else {
        return false;
    };
    let expected = digest(secret, user_id, ts, is_active);
    if !bool::from(expected.as_bytes().ct_eq(hash.as_bytes())) {
        return false;
    }
    let age = now_unix - EPOCH_2001 - ts;
    (0..=VALIDITY_SECS).contains(&age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip_and_single_use() {
        let uid = Uuid::new_v4();
        let now = 1_800_000_000;
        let t = make_token("secret", uid, false, now);
        assert!(check_token("secret", uid, false, &t, now + 10));
        assert!(
            !check_token("secret", uid, true, &t, now + 10),
            "activated users cannot reuse it"
        );
        assert!(!check_token("other", uid, false, &t, now + 10));
        assert!(!check_token(
            "secret",
            uid,
            false,
            &t,
            now + VALIDITY_SECS + 1
        ));
        assert!(!check_token("secret", uid, false, "zz", now));
        assert_eq!(base36(35), "z");
        assert_eq!(from_base36("z"), Some(35));
    }
}
