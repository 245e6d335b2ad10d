//! Tokens of e-mailed links that the database never holds: an HMAC-SHA256 under SECRET_KEY of a
//! purpose and a stored value (a reset's nonce, an invitation's id). The request stores only the
//! value (and, for resets, a SHA-256 of the token); the worker derives the token again when it
//! renders the e-mail. A copy of the database (jobs included) yields no working link without the
//! key, and whoever has the key can sign JWTs anyway.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn sign(secret: &str, purpose: &str, value: &str) -> String {
    let key = Sha256::digest(format!("bottlecrm.links:{secret}").as_bytes());
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length works for HMAC");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn verify(secret: &str, purpose: &str, value: &str, token: &str) -> bool {
    sign(secret, purpose, value)
        .as_bytes()
        .ct_eq(token.as_bytes())
        .into()
}

pub const PASSWORD_RESET: &str = "password-reset";
pub const INVITATION: &str = "org-invitation";

/// The token of a password-reset link, from the reset's nonce.
pub fn reset_token(secret: &str, nonce: uuid::Uuid) -> String {
    sign(secret, PASSWORD_RESET, &nonce.simple().to_string())
}

/// The token of an invitation link: `<org id>.<invitation id>.<signature>`.
pub fn invitation_token(secret: &str, org_id: uuid::Uuid, invitation_id: uuid::Uuid) -> String {
    let value = format!("{}.{}", org_id.simple(), invitation_id.simple());
    let sig = sign(secret, INVITATION, &value);
    format!("{value}.{sig}")
}

/// The (org id, invitation id) an invitation token names, if its signature holds.
pub fn check_invitation_token(secret: &str, token: &str) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let mut parts = token.trim().splitn(3, '.');
    let (org, inv, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let org_id = uuid::Uuid::parse_str(org).ok()?;
    let inv_id = uuid::Uuid::parse_str(inv).ok()?;
    verify(secret, INVITATION, &format!("{org}.{inv}"), sig).then_some((org_id, inv_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_tokens_verify_and_resist_tampering() {
        let (org, inv) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let t = invitation_token("k", org, inv);
        assert_eq!(check_invitation_token("k", &t), Some((org, inv)));
        assert_eq!(check_invitation_token("other", &t), None);
        let forged = format!(
            "{}.{}.{}",
            uuid::Uuid::new_v4().simple(),
            inv.simple(),
            t.rsplit('.').next().unwrap()
        );
        assert_eq!(check_invitation_token("k", &forged), None);
        assert_ne!(reset_token("k", inv), reset_token("k", org));
        assert_eq!(reset_token("k", inv).len(), 64);
    }
}
