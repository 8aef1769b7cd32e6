//! The sealed format: `[version byte][24-byte nonce][ciphertext + 16-byte tag]`, XChaCha20-Poly1305.
//!
//! The AAD names what the blob belongs to (a credential's name, or the key canary), so a blob
//! copied to another row does not open.

use std::io;

use chacha20poly1305::aead::{AeadCore as _, AeadInPlace as _, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::key::MasterKey;
use crate::secret::Secret;

/// The only format so far; a new one gets a new byte and old blobs keep opening.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// What a sealed blob is bound to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Binding<'a> {
    /// The secret of the credential with this name.
    Credential(&'a str),
    /// The start-up key check.
    Canary,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        // The version byte is in the AAD too, so it cannot be swapped to reinterpret a blob.
        let mut aad = vec![VERSION];
        aad.extend_from_slice(b"flowork-vault\0");
        match self {
            Binding::Credential(name) => {
                aad.extend_from_slice(b"credential\0");
                aad.extend_from_slice(name.as_bytes());
            }
            Binding::Canary => aad.extend_from_slice(b"canary"),
        }
        aad
    }
}

/// Seals `plaintext` under a fresh random nonce.
pub(crate) fn seal(key: &MasterKey, binding: Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    // Sized up front so the buffer never reallocates while it holds plain text.
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(&nonce, &binding.aad(), &mut out[HEADER_LEN..])
        .map_err(|_| VaultError::invalid("secret", "too large to seal"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed blob; `None` if it is malformed, tampered, or bound to something else.
pub(crate) fn open(
    key: &MasterKey,
    binding: Binding<'_>,
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != VERSION {
        return None;
    }
    let nonce = XNonce::from_slice(&sealed[1..HEADER_LEN]);
    let mut buf = Zeroizing::new(sealed[HEADER_LEN..].to_vec());
    key.cipher()
        .decrypt_in_place(nonce, &binding.aad(), &mut *buf)
        .ok()?;
    Some(buf)
}

/// Serializes and seals a credential's secret.
pub(crate) fn seal_secret(key: &MasterKey, name: &str, secret: &Secret) -> Result<Vec<u8>> {
    let json = to_json_exact(secret)?;
    crate::validate::secret_size(json.len())?;
    seal(key, Binding::Credential(name), &json)
}

/// Opens and parses a credential's secret.
pub(crate) fn open_secret(key: &MasterKey, name: &str, sealed: &[u8]) -> Result<Secret> {
    let corrupt = || VaultError::Corrupt {
        name: name.to_owned(),
    };
    let json = open(key, Binding::Credential(name), sealed).ok_or_else(corrupt)?;
    let value = serde_json::from_slice(&json).map_err(|_| corrupt())?;
    Ok(Secret::new(value))
}

/// The secret as JSON in a buffer of exactly the right size, so growing it never leaves copies
/// of the plain text behind in freed memory.
pub(crate) fn to_json_exact(secret: &Secret) -> Result<Zeroizing<Vec<u8>>> {
    let invalid = |e: serde_json::Error| VaultError::invalid("secret", e.to_string());
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, secret.expose()).map_err(invalid)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *buf, secret.expose()).map_err(invalid)?;
    Ok(buf)
}

/// An `io::Write` that only counts bytes.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Result<MasterKey> {
        MasterKey::generate()
    }

    #[test]
    fn round_trip_and_format() -> Result<()> {
        let k = key()?;
        let blob = seal(&k, Binding::Credential("gh"), b"hello")?;
        assert_eq!(blob.len(), 1 + 24 + 5 + 16);
        assert_eq!(blob[0], VERSION);
        let back = open(&k, Binding::Credential("gh"), &blob);
        assert_eq!(back.as_deref().map(Vec::as_slice), Some(&b"hello"[..]));
        Ok(())
    }

    #[test]
    fn binding_version_key_and_tampering_are_checked() -> Result<()> {
        let k = key()?;
        let blob = seal(&k, Binding::Credential("gh"), b"hello")?;
        assert!(open(&k, Binding::Credential("gh2"), &blob).is_none());
        assert!(open(&k, Binding::Canary, &blob).is_none());
        assert!(open(&key()?, Binding::Credential("gh"), &blob).is_none());
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&k, Binding::Credential("gh"), &bad).is_none(),
                "byte {i}"
            );
        }
        assert!(open(&k, Binding::Credential("gh"), &blob[..blob.len() - 1]).is_none());
        assert!(open(&k, Binding::Credential("gh"), &[]).is_none());
        Ok(())
    }

    #[test]
    fn exact_json_has_no_slack() -> Result<()> {
        let s = Secret::new(serde_json::json!({"token": "abc", "n": [1, 2.5, "ü"]}));
        let json = to_json_exact(&s)?;
        assert_eq!(json.len(), json.capacity());
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&json)
                .ok()
                .as_ref(),
            Some(s.expose())
        );
        Ok(())
    }
}
