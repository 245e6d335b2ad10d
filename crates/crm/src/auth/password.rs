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

pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.is_empty() || stored.starts_with('!') {
        return Verified::No; // Django's unusable password
    }
    if let Some(phc) = stored
        .strip_prefix(DJANGO_ARGON2_PREFIX)
        .filter(|s| s.starts_with('$'))
        .or_else(|| stored.starts_with("$argon2").then_some(stored))
    {
        return match Argon2::default().verify_password(password.as_bytes(), phc) {
            Ok(()) if phc.starts_with("$argon2id$") => Verified::Yes,
            Ok(()) => Verified::YesNeedsUpgrade,
            Err(_) => Verified::No,
        };
    }
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        return if verify_django_pbkdf2(password, rest) {
            Verified::YesNeedsUpgrade
        } else {
            Verified::No
        };
    }
    Verified::No
}

fn verify_django_pbkdf2(password: &str, rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iter), Some(salt), Some(expected_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iter.parse::<u32>() else {
        return false;
    };
    if iterations == 0 {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected_b64) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    out.ct_eq(&expected[..]).into()
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
}
