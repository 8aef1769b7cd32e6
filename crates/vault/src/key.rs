//! The master key: 32 bytes that seal every credential, and its public fingerprint.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::rand_core::RngCore as _;
use chacha20poly1305::aead::{AeadInPlace as _, OsRng};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};

/// The environment variable the engine reads the master key from.
pub const MASTER_KEY_ENV: &str = "FLOWORK_MASTER_KEY";

/// Length of the master key in bytes.
pub const KEY_LEN: usize = 32;

// The fingerprint is the Poly1305 tag of an empty message sealed under a fixed nonce and a
// domain-separating AAD: a deterministic PRF output of the key (no sha2 needed), which reveals
// nothing about the key. Real seals use random 24-byte nonces, so they never reuse this one.
const FINGERPRINT_NONCE: &[u8; 24] = b"flowork-vault-fingerprnt";
const FINGERPRINT_AAD: &[u8] = b"flowork-vault key fingerprint v1";

/// The 32-byte master key. Zeroized on drop; `Debug` shows only the fingerprint.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl MasterKey {
    /// Parses the value of `FLOWORK_MASTER_KEY` (base64, standard or url-safe, padded or not).
    pub fn from_base64(value: &str) -> Result<MasterKey> {
        Self::from_base64_in(MASTER_KEY_ENV, value)
    }

    /// Parses a base64 key; errors name `origin` (an env var or a file path).
    pub fn from_base64_in(origin: &str, value: &str) -> Result<MasterKey> {
        let value = value.trim();
        let bad = |message: String| VaultError::MasterKey {
            origin: origin.to_owned(),
            message,
        };
        // Error messages never quote the input: it is (almost) the key.
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(value).ok().map(Zeroizing::new))
            .ok_or_else(|| bad("expected 32 bytes base64, got text that is not base64".into()))?;
        let key: &[u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!(
                "expected {KEY_LEN} bytes base64, got {} bytes",
                bytes.len()
            ))
        })?;
        Self::from_bytes(key)
    }

    /// A new random key from the OS's randomness.
    pub fn generate() -> Result<MasterKey> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(bytes.as_mut_slice())
            .map_err(|e| VaultError::MasterKey {
                origin: "OS randomness".into(),
                message: e.to_string(),
            })?;
        Self::from_bytes(&bytes)
    }

    /// Wraps raw key bytes (the caller keeps responsibility for its own copy).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<MasterKey> {
        // The cipher keeps the only long-lived copy and zeroizes it on drop.
        let cipher = XChaCha20Poly1305::new(bytes.into());
        let tag = cipher
            .encrypt_in_place_detached(
                XNonce::from_slice(FINGERPRINT_NONCE),
                FINGERPRINT_AAD,
                &mut [],
            )
            .map_err(|_| VaultError::MasterKey {
                origin: "fingerprint".into(),
                message: "could not derive the key fingerprint".into(),
            })?;
        let fingerprint = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(MasterKey {
            cipher,
            fingerprint,
        })
    }

    /// A non-secret 16-hex-digit id of the key, safe to log and show.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The AEAD keyed with this key.
    pub(crate) fn cipher(&self) -> &XChaCha20Poly1305 {
        &self.cipher
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn accepts_every_base64_flavour() -> Result<()> {
        let want = MasterKey::from_base64(KEY)?;
        let bytes = STANDARD.decode(KEY).unwrap_or_default();
        for s in [
            STANDARD_NO_PAD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            format!("  {KEY}\n"),
        ] {
            assert_eq!(
                MasterKey::from_base64(&s)?.fingerprint(),
                want.fingerprint()
            );
        }
        Ok(())
    }

    #[test]
    fn wrong_length_and_bad_base64_name_the_source() {
        let short = MasterKey::from_base64("AAECAwQFBgcICQoL").expect_err("must fail");
        assert_eq!(
            short.to_string(),
            "FLOWORK_MASTER_KEY: expected 32 bytes base64, got 12 bytes"
        );
        let bad = MasterKey::from_base64("not base64 at all!").expect_err("must fail");
        assert!(
            bad.to_string()
                .starts_with("FLOWORK_MASTER_KEY: expected 32 bytes base64")
        );
        assert!(!bad.to_string().contains("at all"), "{bad}");
        let empty = MasterKey::from_base64_in("/etc/key", "").expect_err("must fail");
        assert_eq!(
            empty.to_string(),
            "/etc/key: expected 32 bytes base64, got 0 bytes"
        );
    }

    #[test]
    fn fingerprint_is_stable_and_differs_per_key() -> Result<()> {
        let a = MasterKey::from_base64(KEY)?;
        assert_eq!(a.fingerprint(), MasterKey::from_base64(KEY)?.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
        assert_ne!(a.fingerprint(), MasterKey::generate()?.fingerprint());
        Ok(())
    }

    #[test]
    fn debug_shows_no_key_material() -> Result<()> {
        let key = MasterKey::from_base64(KEY)?;
        let debug = format!("{key:?}");
        assert!(debug.contains(key.fingerprint()), "{debug}");
        for needle in [KEY, "AAECAwQF", "0, 1, 2, 3", "[0, 1"] {
            assert!(!debug.contains(needle), "{debug}");
        }
        Ok(())
    }
}
