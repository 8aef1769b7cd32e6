//! Calls between replicas are signed: HMAC-SHA256 over the method, the path with its query, a
//! timestamp and the caller's identity, keyed by a key derived from the gateway secret (which
//! every replica shares). The internal routes sit on the public port, so this signature is the
//! only thing that lets a request in: a client cannot mint one, and a captured one is useless
//! after [`WINDOW_SECS`]. The body is not covered (it is streamed, never held to hash); replicas
//! should reach each other over a private network or https.

use axum::http::{HeaderMap, HeaderValue, Method};
use flowork_model::{Role, Timestamp, UserId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{GatewayError, Result};

/// Unix seconds when the call was signed.
pub(crate) const TS: &str = "x-flowork-relay-ts";
/// Hex HMAC-SHA256.
pub(crate) const SIG: &str = "x-flowork-relay-signature";
/// The caller the first replica authenticated (API calls; absent for public webhooks).
pub(crate) const USER: &str = "x-flowork-relay-user";
pub(crate) const ROLE: &str = "x-flowork-relay-role";
/// How far a signature's time may be from the receiver's clock (replicas run NTP).
pub(crate) const WINDOW_SECS: i64 = 30;

/// Separates the relay key from the token key derived from the same secret.
const KEY_LABEL: &[u8] = b"flowork gateway replica relay v1";
const REFUSED: &str = "missing, expired or invalid replica signature";

type HmacSha256 = Hmac<Sha256>;

/// Who a relayed call acts for.
pub(crate) type Identity = (UserId, Role);

/// Signs and checks calls between replicas.
pub(crate) struct Signer {
    key: Zeroizing<Vec<u8>>,
}

impl Signer {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(KEY_LABEL);
        Self {
            key: Zeroizing::new(mac.finalize().into_bytes().to_vec()),
        }
    }

    fn mac(&self, method: &str, target: &str, ts: &str, user: &str, role: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in [method, target, ts, user, role] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    /// Adds the signature headers for a call to `target` (path and query, as sent).
    pub(crate) fn sign(
        &self,
        method: &Method,
        target: &str,
        who: Option<Identity>,
        headers: &mut HeaderMap,
    ) {
        let ts = (Timestamp::now().millis() / 1000).to_string();
        let (user, role) = who.map_or((String::new(), ""), |(u, r)| (u.to_string(), r.as_str()));
        let sig = self.mac(method.as_str(), target, &ts, &user, role);
        let sig = hex::encode(sig.finalize().into_bytes());
        for (name, value) in [(TS, ts), (SIG, sig), (USER, user), (ROLE, role.to_owned())] {
            headers.remove(name);
            if !value.is_empty()
                && let Ok(v) = HeaderValue::from_str(&value)
            {
                headers.insert(name, v);
            }
        }
    }

    /// The identity a correctly signed, fresh call carries (`None`: signed, but for nobody).
    /// Anything else is 401. The comparison is constant-time (`verify_slice`).
    pub(crate) fn verify(
        &self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        now_secs: i64,
    ) -> Result<Option<Identity>> {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        let refused = || GatewayError::Unauthenticated(REFUSED);
        let ts = get(TS);
        let at: i64 = ts.parse().map_err(|_| refused())?;
        if (now_secs - at).abs() > WINDOW_SECS {
            return Err(refused());
        }
        let sig = hex::decode(get(SIG)).map_err(|_| refused())?;
        let (user, role) = (get(USER), get(ROLE));
        self.mac(method.as_str(), target, ts, user, role)
            .verify_slice(&sig)
            .map_err(|_| refused())?;
        match (user, role) {
            ("", "") => Ok(None),
            (u, r) => {
                let user = u.parse().map_err(|_| refused())?;
                let role = r.parse().map_err(|_| refused())?;
                Ok(Some((user, role)))
            }
        }
    }
}

/// The receiver's clock, in the signature's unit.
pub(crate) fn now_secs() -> i64 {
    Timestamp::now().millis() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_call_verifies_and_anything_changed_does_not() {
        let s = Signer::new(SECRET);
        let who = (UserId::new(), Role::User);
        let target = "/internal/v1/engines/eng_1/forward/workflows?x=1";
        let mut h = HeaderMap::new();
        s.sign(&Method::POST, target, Some(who), &mut h);
        let now = now_secs();
        assert_eq!(
            s.verify(&Method::POST, target, &h, now).expect("valid"),
            Some(who)
        );
        assert!(s.verify(&Method::GET, target, &h, now).is_err(), "method");
        assert!(
            s.verify(&Method::POST, "/internal/v1/x", &h, now).is_err(),
            "path"
        );
        assert!(
            s.verify(&Method::POST, target, &h, now + 31).is_err(),
            "expired"
        );
        let mut admin = h.clone();
        admin.insert(ROLE, HeaderValue::from_static("admin"));
        assert!(
            s.verify(&Method::POST, target, &admin, now).is_err(),
            "role"
        );
        let other = Signer::new(b"another secret, just as long as it must be");
        assert!(other.verify(&Method::POST, target, &h, now).is_err(), "key");
        assert!(
            s.verify(&Method::POST, target, &HeaderMap::new(), now)
                .is_err()
        );
    }

    #[test]
    fn a_call_for_nobody_carries_no_identity() {
        let s = Signer::new(SECRET);
        let mut h = HeaderMap::new();
        h.insert(USER, HeaderValue::from_static("usr_forged"));
        s.sign(&Method::POST, "/internal/v1/engines/e/drain", None, &mut h);
        assert!(h.get(USER).is_none());
        let got = s.verify(
            &Method::POST,
            "/internal/v1/engines/e/drain",
            &h,
            now_secs(),
        );
        assert_eq!(got.expect("valid"), None);
    }
}
