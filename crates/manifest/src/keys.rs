//! Ed25519 keys: the signing key of whoever builds manifests, and the public key binaries pin.

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::error::ManifestError;

/// An Ed25519 public key, written as 64 hex digits (lowercase when printed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 64 hex digits (either case); `what` names the setting or field in errors.
    pub fn parse_hex(s: &str, what: &'static str) -> Result<Self, ManifestError> {
        let bad = |reason: &str| ManifestError::InvalidKey {
            what,
            reason: reason.to_owned(),
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes)
            .map_err(|_| bad("expected an Ed25519 public key as 64 hex digits"))?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| bad("not a valid Ed25519 public key"))
    }

    /// Whether `signature` (64 bytes) signs `message` under this key (strict RFC 8032 rules).
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// An Ed25519 signing key. Its file form is the 32-byte seed as 64 hex digits and a newline;
/// it is never printed or logged ([`fmt::Debug`] shows the public half only).
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(seed.as_mut());
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads the file form (64 hex digits; surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, ManifestError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.trim(), seed.as_mut()).map_err(|_| ManifestError::InvalidKey {
            what: "signing key",
            reason: "expected an Ed25519 private key as 64 hex digits".into(),
        })?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The file form: 64 hex digits and a newline.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.0.to_bytes());
        Zeroizing::new(format!("{}\n", hex::encode(seed.as_ref())))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` (deterministic, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1, test 1: the empty message under a known seed.
    #[test]
    fn rfc8032_test_vector() {
        let key = SecretKey::from_hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
        )
        .expect("seed");
        assert_eq!(
            key.public().to_string(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = key.sign(b"");
        assert_eq!(
            hex::encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(key.public().verifies(b"", &sig));
        assert!(!key.public().verifies(b"x", &sig));
        assert!(!format!("{key:?}").contains("9d61"));
    }

    #[test]
    fn bad_hex_is_named() {
        let e = PublicKey::parse_hex("zz", "integrity.public_key").expect_err("bad");
        assert!(e.to_string().starts_with("integrity.public_key: "), "{e}");
        assert!(SecretKey::from_hex("00").is_err());
        let k = SecretKey::generate();
        let back = SecretKey::from_hex(&k.to_file_text()).expect("round trip");
        assert_eq!(back.public(), k.public());
    }
}
