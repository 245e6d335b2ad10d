//! Passwords: new hashes are argon2id, stored in Django's `argon2$argon2id$...` form so the same
//! database still works under upstream. Django's `pbkdf2_sha256$<iter>$<salt>$<b64>` hashes are
//! verified (constant-time) and reported for an upgrade to argon2id at the next successful login.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use subtle::ConstantTimeEq;

const DJANGO_ARGON2_PREFIX: &str = "argon2";

pub fn hash(password: &str) -> String {
    let phc = Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters cannot fail");
    format!("{DJANGO_ARGON2_PREFIX}{phc}")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored in a legacy format: rehash it.
    YesNeedsUpgrade,
}

/// How a stored value is checked. Whatever cannot verify (no such user, Django's unusable `!...`
/// password, an empty or malformed hash) is checked against a dummy argon2id hash with our
/// parameters, so a login costs the same whether the account exists, has a password or not.
#[derive(Debug, PartialEq, Eq)]
pub enum Check<'a> {
    /// A PHC argon2 string (`$argon2id$...`).
    Argon2(&'a str),
    /// Django's `pbkdf2_sha256`: iterations, salt, expected derived key.
    DjangoPbkdf2 {
        iterations: u32,
        salt: &'a str,
        expected: Vec<u8>,
    },
    /// Nothing that can match: verify the dummy hash and answer no.
    Dummy,
}

pub fn check_for(stored: &str) -> Check<'_> {
    if stored.is_empty() || stored.starts_with('!') {
        return Check::Dummy; // Django's unusable password
    }
    if let Some(phc) = stored
        .strip_prefix(DJANGO_ARGON2_PREFIX)
        .filter(|s| s.starts_with('$'))
        .or_else(|| stored.starts_with("$argon2").then_some(stored))
    {
        return match argon2::PasswordHash::new(phc) {
            Ok(h)
                if h.hash.is_some()
                    && h.algorithm.as_str().starts_with("argon2")
                    && argon2::Params::try_from(&h).is_ok() =>
            {
                Check::Argon2(phc)
            }
            _ => Check::Dummy,
        };
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        let mut parts = rest.splitn(3, '$');
        if let (Some(iter), Some(salt), Some(b64)) = (parts.next(), parts.next(), parts.next())
            && let Ok(iterations) = iter.parse::<u32>()
            && iterations > 0
            && let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(b64)
            && expected.len() == 32
        {
            return Check::DjangoPbkdf2 {
                iterations,
                salt,
                expected,
            };
        }
    }
    Check::Dummy
}

/// A well-known argon2id hash with our parameters, verified when there is nothing to verify.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash("dummy-password-for-timing"));

/// How many dummy verifications ran (tests check the path is taken).
pub static DUMMY_CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn verify(password: &str, stored: &str) -> Verified {
    match check_for(stored) {
        Check::Argon2(phc) => {
            let Ok(parsed) = argon2::PasswordHash::new(phc) else {
                return Verified::No;
            };
            match Argon2::default().verify_password(password.as_bytes(), &parsed) {
                Ok(()) if is_current_argon2(&parsed) => Verified::Yes,
                Ok(()) => Verified::YesNeedsUpgrade,
                Err(_) => Verified::No,
            }
        }
        Check::DjangoPbkdf2 {
            iterations,
            salt,
            expected,
        } => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                password.as_bytes(),
                salt.as_bytes(),
                iterations,
                &mut out,
            );
            if bool::from(out.ct_eq(&expected[..])) {
                Verified::YesNeedsUpgrade
            } else {
                Verified::No
            }
        }
        Check::Dummy => {
            DUMMY_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let phc = DUMMY_HASH
                .strip_prefix(DJANGO_ARGON2_PREFIX)
                .expect("our own hash format");
            let _ = Argon2::default().verify_password(password.as_bytes(), phc);
            Verified::No
        }
    }
}

/// argon2id with our parameters; anything else (argon2i, Django's m=102400,p=8) is rehashed at
/// the next login so every account costs the same to check.
fn is_current_argon2(h: &argon2::PasswordHash) -> bool {
    let ours = argon2::Params::default();
    h.algorithm.as_str() == "argon2id"
        && argon2::Params::try_from(h).is_ok_and(|p| {
            p.m_cost() == ours.m_cost()
                && p.t_cost() == ours.t_cost()
                && p.p_cost() == ours.p_cost()
        })
}

/// A Django pbkdf2_sha256 hash (for test fixtures that imitate an upstream database).
pub fn django_pbkdf2_hash(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(out)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_roundtrip() {
        let h = hash("s3cret-pass");
        assert!(h.starts_with("argon2$argon2id$"));
        assert_eq!(verify("s3cret-pass", &h), Verified::Yes);
        assert_eq!(verify("wrong", &h), Verified::No);
    }

    #[test]
    fn django_pbkdf2_vector() {
        // Made by Django 5.2: make_password("testpass123", "abcdefgh", "pbkdf2_sha256") with 1000 iterations.
        let h = django_pbkdf2_hash("testpass123", "abcdefgh", 1000);
        assert_eq!(verify("testpass123", &h), Verified::YesNeedsUpgrade);
        assert_eq!(verify("testpass124", &h), Verified::No);
        assert_eq!(verify("x", "pbkdf2_sha256$x$y$z"), Verified::No);
        assert_eq!(verify("x", ""), Verified::No);
        assert_eq!(verify("x", "!unusable"), Verified::No);
    }

    /// Login timing: a missing user (empty stored value), an unusable password and a malformed
    /// hash all go through the dummy argon2id verification, not an early return.
    #[test]
    fn login_timing_unverifiable_hashes_take_the_dummy_path() {
        use std::sync::atomic::Ordering;
        for stored in [
            "",
            "!unusable",
            "pbkdf2_sha256$x$y$z",
            "argon2$nonsense",
            "md5$a$b",
        ] {
            assert_eq!(check_for(stored), Check::Dummy, "{stored}");
            let before = DUMMY_CHECKS.load(Ordering::Relaxed);
            assert_eq!(verify("anything", stored), Verified::No);
            assert!(DUMMY_CHECKS.load(Ordering::Relaxed) > before, "{stored}");
        }
        // The dummy hash has the parameters of a real one.
        let real = hash("pw-123456");
        let dummy_params = argon2::PasswordHash::new(DUMMY_HASH.strip_prefix("argon2").unwrap())
            .unwrap()
            .params
            .to_string();
        let real_params = argon2::PasswordHash::new(real.strip_prefix("argon2").unwrap())
            .unwrap()
            .params
            .to_string();
        assert_eq!(dummy_params, real_params);
        assert!(matches!(check_for(&real), Check::Argon2(_)));
    }

    #[test]
    fn foreign_argon2_parameters_are_upgraded() {
        use argon2::{Algorithm, Params, Version};
        let params = Params::new(8192, 1, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw-123456")
            .unwrap()
            .to_string();
        assert_eq!(
            verify("pw-123456", &format!("argon2{phc}")),
            Verified::YesNeedsUpgrade
        );
        assert_eq!(verify("pw-123456", &hash("pw-123456")), Verified::Yes);
    }

    /// What each login path costs here: `cargo test --workspace --lib login_cost_report --
    /// --ignored --nocapture` (numbers in docs/decisions.md).
    #[test]
    #[ignore]
    fn login_cost_report() {
        let time = |stored: &str| {
            let t = std::time::Instant::now();
            for _ in 0..5 {
                verify("wrong-password", stored);
            }
            t.elapsed() / 5
        };
        let ours = hash("pw-123456");
        println!("argon2id (ours):        {:?}", time(&ours));
        println!("dummy (no user / '!'):  {:?}", time(""));
        for iterations in [600_000, 870_000, 1_000_000] {
            let django = django_pbkdf2_hash("pw-123456", "saltsalt", iterations);
            println!("pbkdf2_sha256 {iterations}: {:?}", time(&django));
        }
    }
}
