//! Issuing and verifying tokens with the issuer's Ed25519 key (jsonwebtoken over ring).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use zeroize::Zeroizing;

use crate::claims::{Capability, Claims, FacClaim};
use crate::error::{FacError, Forbidden};
use crate::pattern::Pattern;
use flowork_model::{Gas, Jti};

/// `iss` of tokens this engine issues, unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "flowork";
/// `aud` expected when none is given: the engine's executions.
pub const DEFAULT_AUDIENCE: &str = "flowork:engine";
/// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds).
pub const LEEWAY_SECS: u64 = 30;

/// What to put in a new token.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub sub: String,
    pub aud: String,
    pub ttl: Duration,
    pub budget: Gas,
    pub costs: BTreeMap<String, Gas>,
    pub allow: Vec<String>,
    pub workflows: Option<Vec<String>>,
}

/// Signs and verifies FAC tokens with one Ed25519 key.
pub struct Issuer {
    iss: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Vec<u8>,
    validation: Validation,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("iss", &self.iss)
            .field("public_key", &URL_SAFE_NO_PAD.encode(&self.public))
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer named `iss` from a PKCS#8 (v1 or v2) Ed25519 key.
    pub fn from_pkcs8(iss: &str, pkcs8: &[u8]) -> Result<Self, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Times, issuer and audience are checked by `verify` (with named reasons and a clock).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(Self {
            iss: iss.to_owned(),
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding: DecodingKey::from_ed_der(&public),
            public,
            validation,
        })
    }

    /// A new random key (PKCS#8 v2 bytes, to be kept secret).
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, String> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| Zeroizing::new(doc.as_ref().to_vec()))
            .map_err(|e| format!("cannot generate an Ed25519 key: {e}"))
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Signs a new token for `req`, issued now; answers the compact JWS and its claims.
    pub fn issue(&self, req: &IssueRequest) -> Result<(String, Claims), FacError> {
        for p in req.costs.keys().chain(&req.allow) {
            Pattern::parse(p).map_err(FacError::Invalid)?;
        }
        if req.ttl.is_zero() {
            return Err(FacError::Invalid("ttl must be positive".into()));
        }
        let iat = now_secs();
        let claims = Claims {
            iss: self.iss.clone(),
            sub: req.sub.clone(),
            aud: req.aud.clone(),
            iat,
            exp: iat.saturating_add(req.ttl.as_secs().max(1)),
            nbf: None,
            jti: Jti::new(),
            fac: FacClaim {
                budget: req.budget,
                costs: req.costs.clone(),
                allow: req.allow.clone(),
                workflows: req.workflows.clone(),
            },
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(|e| FacError::Sign(e.to_string()))?;
        Ok((token, claims))
    }

    /// Verifies `token` for audience `aud` at Unix time `now`: signature (EdDSA only), issuer,
    /// audience, `exp`/`nbf`/`iat` within [`LEEWAY_SECS`]. Answers the claims and capability.
    pub fn verify(
        &self,
        token: &str,
        aud: &str,
        now: u64,
    ) -> Result<(Claims, Capability), Forbidden> {
        let alg = header_alg(token)?;
        if alg != "EdDSA" {
            return Err(Forbidden::Algorithm(alg));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::Crypto(_) => Forbidden::BadSignature,
                _ => Forbidden::Malformed(e.to_string()),
            })?;
        let c = data.claims;
        if c.iss != self.iss {
            return Err(Forbidden::WrongIssuer(c.iss));
        }
        if c.aud != aud {
            return Err(Forbidden::WrongAudience(c.aud));
        }
        if c.exp.saturating_add(LEEWAY_SECS) <= now {
            return Err(Forbidden::Expired { exp: c.exp, now });
        }
        let from = c.nbf.unwrap_or(c.iat).max(c.iat);
        if from > now.saturating_add(LEEWAY_SECS) {
            return Err(Forbidden::NotYetValid { from, now });
        }
        let cap = Capability::from_claims(&c)?;
        Ok((c, cap))
    }

    /// [`Issuer::verify`] at the current time.
    pub fn verify_now(&self, token: &str, aud: &str) -> Result<(Claims, Capability), Forbidden> {
        self.verify(token, aud, now_secs())
    }
}

/// The header's `alg`, read before anything else so a foreign algorithm is named in the error.
fn header_alg(token: &str) -> Result<String, Forbidden> {
    let malformed = |why: &str| Forbidden::Malformed(why.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "not a JWT (three base64url parts separated by dots)",
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("header is not base64url"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| malformed("header is not JSON"))?;
    value
        .get("alg")
        .and_then(|a| a.as_str())
        .map(str::to_owned)
        .ok_or_else(|| malformed("header has no alg"))
}

/// The current Unix time in seconds.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
