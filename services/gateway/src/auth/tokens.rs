//! Token material: HS256 access tokens (JWT), and opaque random secrets (refresh tokens, API
//! keys, engine tokens) that are stored only as their SHA-256.

use std::time::Duration;

use flowork_model::{Role, Timestamp, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{GatewayError, Result};

/// The `iss` of every access token, checked on the way in.
const ISSUER: &str = "flowork-gateway";
/// Random characters after a secret's prefix: 43 alphanumerics are about 256 bits.
const SECRET_CHARS: usize = 43;

/// Prefix of an API key (how the bearer check tells one from a JWT).
pub(crate) const API_KEY_PREFIX: &str = "fk_";
/// Prefix of a refresh token.
pub(crate) const REFRESH_PREFIX: &str = "fkr_";
/// Prefix of an engine token.
pub(crate) const ENGINE_PREFIX: &str = "fke_";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id.
    pub sub: String,
    pub role: Role,
    /// A unique token id (for logs and a future deny list).
    pub jti: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and checks access tokens.
pub(crate) struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl AccessTokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub(crate) fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// Seconds an access token lives (the `expires_in` of the login answer).
    pub(crate) fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// A signed token for `user` with `role`.
    pub(crate) fn issue(&self, user: UserId, role: Role) -> Result<String> {
        let now = Timestamp::now().millis() / 1000;
        let claims = Claims {
            sub: user.to_string(),
            role,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| GatewayError::Internal(format!("cannot sign an access token: {e}")))
    }

    /// The user and role of a valid, unexpired token.
    pub(crate) fn verify(&self, token: &str) -> Result<(UserId, Role)> {
        let invalid = || GatewayError::Unauthenticated("invalid or expired access token");
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid())?;
        let user = data.claims.sub.parse().map_err(|_| invalid())?;
        Ok((user, data.claims.role))
    }
}

/// A fresh random secret: `prefix` plus about 256 bits of alphanumerics.
pub(crate) fn generate(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + SECRET_CHARS);
    s.push_str(prefix);
    s.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(SECRET_CHARS)
            .map(char::from),
    );
    s
}

/// Lowercase hex SHA-256: how secrets are stored and looked up. (Plain SHA-256 suffices for
/// random 256-bit secrets: there is nothing to brute-force, unlike passwords.)
pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored`, compared in constant time.
pub(crate) fn matches(secret: &str, stored: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_round_trip_and_reject_forgeries() {
        let tokens = AccessTokens::new(&[7u8; 32], Duration::from_secs(60));
        let user = UserId::new();
        let t = tokens.issue(user, Role::Admin).expect("issue");
        assert_eq!(tokens.verify(&t).expect("verify"), (user, Role::Admin));
        let other = AccessTokens::new(&[8u8; 32], Duration::from_secs(60));
        assert!(other.verify(&t).is_err(), "another key");
        assert!(tokens.verify(&format!("{t}x")).is_err(), "tampered");
        assert!(tokens.verify("fk_abc").is_err());
    }

    #[test]
    fn secrets_are_prefixed_random_and_hash_matched() {
        let a = generate(API_KEY_PREFIX);
        assert!(a.starts_with("fk_") && a.len() == 3 + SECRET_CHARS, "{a}");
        assert_ne!(a, generate(API_KEY_PREFIX));
        let h = hash(&a);
        assert_eq!(h.len(), 64);
        assert!(matches(&a, &h));
        assert!(!matches(&generate(API_KEY_PREFIX), &h));
    }
}
