//! JWTs exactly as upstream (simplejwt) makes them: HS256 with SECRET_KEY, claims
//! `token_type, exp, iat, jti, user_id` and, for an org-aware token, `org_id, org_name,
//! org_settings{default_currency, currency_symbol, default_country}, role`. Tokens made by
//! either side verify on the other while a deployment migrates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::common::enums::currency_symbol;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// Decoded claims (only what the server reads back).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub token_type: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: String,
    #[serde(default)]
    pub org_id: Option<String>,
}

impl Claims {
    pub fn user_uuid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.user_id).ok()
    }
    pub fn org_uuid(&self) -> Option<Uuid> {
        self.org_id.as_deref().and_then(|s| Uuid::parse_str(s).ok())
    }
}

/// What an org-aware token says about the org and the caller's membership.
#[derive(Debug, Clone)]
pub struct OrgClaims {
    pub org_id: Uuid,
    pub org_name: Option<String>,
    pub default_currency: Option<String>,
    pub default_country: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
    WrongType,
    NoId,
}

impl TokenError {
    /// simplejwt's message for the error.
    pub fn message(&self) -> &'static str {
        match self {
            TokenError::Invalid => "Token is invalid",
            TokenError::Expired => "Token is expired",
            TokenError::WrongType => "Token has wrong type",
            TokenError::NoId => "Token has no id",
        }
    }
}

pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Jwt {
    pub fn new(secret: &str, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Jwt {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            access_ttl,
            refresh_ttl,
        }
    }

    /// A fresh access/refresh pair. `min_iat` lets a token issued in the same second as a
    /// revocation still count as newer than it (revocation compares whole seconds).
    pub fn issue_pair(&self, user_id: Uuid, org: Option<&OrgClaims>, min_iat: i64) -> TokenPair {
        let iat = now_secs().max(min_iat);
        TokenPair {
            access: self.encode(TokenType::Access, user_id, org, iat),
            refresh: self.encode(TokenType::Refresh, user_id, org, iat),
        }
    }

    fn encode(&self, kind: TokenType, user_id: Uuid, org: Option<&OrgClaims>, iat: i64) -> String {
        let ttl = match kind {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        let mut claims = Map::new();
        claims.insert("token_type".into(), json!(kind.as_str()));
        claims.insert("exp".into(), json!(iat + ttl.as_secs() as i64));
        claims.insert("iat".into(), json!(iat));
        claims.insert("jti".into(), json!(Uuid::new_v4().simple().to_string()));
        claims.insert("user_id".into(), json!(user_id.to_string()));
        if let Some(o) = org {
            let currency = o
                .default_currency
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "USD".into());
            claims.insert("org_id".into(), json!(o.org_id.to_string()));
            claims.insert("org_name".into(), json!(o.org_name));
            claims.insert(
                "org_settings".into(),
                json!({
                    "default_currency": currency,
                    "currency_symbol": currency_symbol(&currency),
                    "default_country": o.default_country,
                }),
            );
            if let Some(role) = &o.role {
                claims.insert("role".into(), json!(role));
            }
        }
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Value::Object(claims),
            &self.encoding,
        )
        .expect("HS256 encoding of a JSON map cannot fail")
    }

    pub fn decode(&self, token: &str, expected: TokenType) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )?;
        let claims = data.claims;
        if claims.token_type != expected.as_str() {
            return Err(TokenError::WrongType);
        }
        if claims.jti.is_empty() {
            return Err(TokenError::NoId);
        }
        if claims.user_uuid().is_none() {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_match_upstream_shape() {
        let jwt = Jwt::new(
            "k".repeat(32).as_str(),
            Duration::from_secs(60),
            Duration::from_secs(120),
        );
        let org = OrgClaims {
            org_id: Uuid::new_v4(),
            org_name: None,
            default_currency: Some("AED".into()),
            default_country: None,
            role: Some("ADMIN".into()),
        };
        let pair = jwt.issue_pair(Uuid::new_v4(), Some(&org), 0);
        let payload = pair.access.split('.').nth(1).unwrap();
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let v: Value = serde_json::from_slice(&raw).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for k in [
            "token_type",
            "exp",
            "iat",
            "jti",
            "user_id",
            "org_id",
            "org_name",
            "org_settings",
            "role",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert_eq!(v["org_name"], Value::Null);
        assert_eq!(v["org_settings"]["currency_symbol"], "د.إ");
        assert_eq!(v["exp"].as_i64().unwrap() - v["iat"].as_i64().unwrap(), 60);
        assert_eq!(v["jti"].as_str().unwrap().len(), 32);
        assert!(jwt.decode(&pair.access, TokenType::Access).is_ok());
        assert_eq!(
            jwt.decode(&pair.access, TokenType::Refresh).unwrap_err(),
            TokenError::WrongType
        );
        let other = Jwt::new(
            "x".repeat(32).as_str(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert_eq!(
            other.decode(&pair.access, TokenType::Access).unwrap_err(),
            TokenError::Invalid
        );
    }
}
