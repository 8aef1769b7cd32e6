//! Ethereum `personal_sign` (EIP-191) with secp256k1: the author's signature over a record.

use std::fmt;

use k256::ecdsa::{self, RecoveryId, VerifyingKey};
use k256::elliptic_curve::ops::{Invert as _, LinearCombination as _, Reduce};
use k256::elliptic_curve::point::DecompressPoint as _;
use k256::elliptic_curve::sec1::ToEncodedPoint as _;
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};
use sha3::{Digest as _, Keccak256};
use zeroize::Zeroizing;

use crate::{Address, Error};

/// An author's secp256k1 private key. Its `Debug` shows only the address, never the key.
#[derive(Clone)]
pub struct SigningKey(ecdsa::SigningKey);

/// A 65-byte Ethereum signature `r || s || v` with `v` = 27 or 28; "0x" + 130 lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 65]);

/// The EIP-191 digest: keccak256("\x19Ethereum Signed Message:\n" + decimal byte length + message).
pub fn personal_hash(message: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(b"\x19Ethereum Signed Message:\n");
    h.update(message.len().to_string().as_bytes());
    h.update(message);
    h.finalize().into()
}

impl SigningKey {
    /// A new random key from the OS random source.
    pub fn generate() -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rand::fill(&mut bytes[..]);
            // All but ~2^-128 of 32-byte strings are valid scalars; retry the rest.
            if let Ok(k) = Self::from_bytes(&bytes) {
                return k;
            }
        }
    }

    /// The key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        ecdsa::SigningKey::from_bytes(bytes.into())
            .map(Self)
            .map_err(|_| Error::invalid("private key", "not a valid secp256k1 scalar"))
    }

    /// The key from 64 hex digits, with or without "0x" (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let t = text.trim();
        let digits = t.strip_prefix("0x").unwrap_or(t);
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, &mut bytes[..])
            .map_err(|_| Error::invalid("private key", "expected 64 hex digits"))?;
        Self::from_bytes(&bytes)
    }

    /// The raw 32 bytes, wiped when dropped (for the keystore).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes().into())
    }

    /// The author address of this key.
    pub fn address(&self) -> Address {
        address_of(self.0.verifying_key())
    }

    /// `personal_sign(message)`: the signature of the EIP-191 digest of `message`.
    pub fn sign_personal(&self, message: &[u8]) -> Result<Signature, Error> {
        let (sig, rid) = self
            .0
            .sign_prehash_recoverable(&personal_hash(message))
            .map_err(|e| Error::Sign(e.to_string()))?;
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + rid.to_byte();
        Ok(Signature(out))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, private key hidden)", self.address())
    }
}

/// SEC 1 v2 §4.1.6 public key recovery, Q = r⁻¹(s·R − z·G), with k256's own arithmetic.
///
/// `VerifyingKey::recover_from_prehash` computes the same Q and then verifies the signature
/// against it, which holds by construction and doubles the cost; chain verification is
/// dominated by this function. Variable time is fine: every input is public.
fn recover_prehash(prehash: &[u8; 32], sig: &ecdsa::Signature, y_odd: bool) -> Option<Address> {
    let (r, s) = sig.split_scalars();
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*prehash));
    // v = 27/28 cannot express an x coordinate reduced mod n (recovery ids 2 and 3).
    let big_r = Option::<AffinePoint>::from(AffinePoint::decompress(
        &r.to_bytes(),
        Choice::from(u8::from(y_odd)),
    ))?;
    let r_inv = Option::<Scalar>::from((*r).invert_vartime())?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let q = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &big_r.into(), &u2);
    let q = q.to_affine();
    if q == AffinePoint::IDENTITY {
        return None;
    }
    Some(Address::from_public_xy(
        &q.to_encoded_point(false).as_bytes()[1..],
    ))
}

fn address_of(vk: &VerifyingKey) -> Address {
    let point = vk.to_encoded_point(false);
    Address::from_public_xy(&point.as_bytes()[1..])
}

impl Signature {
    /// The address whose key made this `personal_sign` signature over `message`.
    ///
    /// Refuses high-s signatures (EIP-2): each signature has one accepted form, so a record's
    /// hash cannot be changed by re-encoding its signature.
    pub fn recover(&self, message: &[u8]) -> Result<Address, Error> {
        let bad = |r: &str| Error::invalid("signature", r.to_string());
        let sig =
            ecdsa::Signature::from_slice(&self.0[..64]).map_err(|_| bad("r or s out of range"))?;
        let v = self.0[64];
        let rid = match v {
            27 | 28 => RecoveryId::from_byte(v - 27).ok_or_else(|| bad("bad v"))?,
            _ => return Err(bad("v must be 27 or 28")),
        };
        if sig.normalize_s().is_some() {
            return Err(bad("high s value (not canonical, EIP-2)"));
        }
        recover_prehash(&personal_hash(message), &sig, rid.is_y_odd())
            .ok_or_else(|| bad("does not recover to a public key"))
    }

    fn parse(s: &str, strict: bool) -> Result<Self, Error> {
        let bad = |r: &str| Error::invalid("signature", r.to_string());
        let digits = match s.strip_prefix("0x") {
            Some(d) => d,
            None if !strict => s,
            None => return Err(bad("must start with 0x")),
        };
        if strict && digits.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("must be lowercase hex"));
        }
        let mut out = [0u8; 65];
        hex::decode_to_slice(digits, &mut out).map_err(|_| bad("expected 130 hex digits"))?;
        if !matches!(out[64], 27 | 28) {
            return Err(bad("v must be 27 or 28"));
        }
        Ok(Self(out))
    }
}

// FromStr is lenient: "0x" optional (eth-account 0.14's `.hex()` omits it), any case.
hex_text!(Signature);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    #[test]
    fn known_key_gives_known_address() {
        // The key/address pair of the web3.js / eth-account documentation.
        let k = SigningKey::from_hex(KEY).unwrap();
        assert_eq!(
            k.address().to_checksum(),
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
        );
        assert!(!format!("{k:?}").contains("4c0883a6"));
    }

    #[test]
    fn eth_account_docs_personal_sign_vector() {
        // eth-account docs, `Account.sign_message(encode_defunct(text="I♥SF"), key)`.
        let key = "0xb25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364";
        let sig: Signature = "0xe6ca9bba58c88611fad66a6ce8f996908195593807c4b38bd528d2cff09d4eb3\
                              3e5bfbbf4d3e39b1a2fd816a7680c19ebebaf3a141b239934ad43cb33fcec8ce1c"
            .parse()
            .unwrap();
        let expected: Address = "0x5ce9454909639D2D17A3F753ce7d93fa0b9aB12E"
            .parse()
            .unwrap();
        assert_eq!(sig.recover("I♥SF".as_bytes()).unwrap(), expected);
        // RFC 6979 signing is deterministic: we produce the very same bytes.
        let ours = SigningKey::from_hex(key)
            .unwrap()
            .sign_personal("I♥SF".as_bytes())
            .unwrap();
        assert_eq!(ours, sig);
    }

    #[test]
    fn known_key_hello_vector() {
        // Generated with eth-account 0.14: Account.sign_message(encode_defunct(text="hello"), KEY).
        let sig: Signature = "a5d58782075bdf09490159d634d1aae66a8f6777c7247d2f233e9511cfd7c64c\
                              34f288cdbcea5370e4863fdbe9f4d86654c2ba1d86589e9ebb64494c649008591b"
            .parse()
            .unwrap();
        let k = SigningKey::from_hex(KEY).unwrap();
        assert_eq!(sig.recover(b"hello").unwrap(), k.address());
        assert_eq!(k.sign_personal(b"hello").unwrap(), sig);
        assert_ne!(sig.recover(b"hellO").unwrap(), k.address());
    }

    #[test]
    fn fast_recovery_agrees_with_k256() {
        for i in 0..64u32 {
            let k = SigningKey::generate();
            let msg = i.to_be_bytes();
            let sig = k.sign_personal(&msg).unwrap();
            let es = ecdsa::Signature::from_slice(&sig.0[..64]).unwrap();
            let rid = RecoveryId::from_byte(sig.0[64] - 27).unwrap();
            let vk = VerifyingKey::recover_from_prehash(&personal_hash(&msg), &es, rid).unwrap();
            assert_eq!(sig.recover(&msg).unwrap(), address_of(&vk));
            assert_eq!(address_of(&vk), k.address());
        }
    }

    #[test]
    fn rejects_bad_v_and_high_s() {
        let k = SigningKey::from_hex(KEY).unwrap();
        let mut sig = k.sign_personal(b"x").unwrap();
        sig.0[64] = 29;
        assert!(sig.recover(b"x").is_err());
        assert!(sig.to_string().parse::<Signature>().is_err());
        // s -> n - s with v flipped is the same point but must be refused.
        let good = k.sign_personal(b"x").unwrap();
        let s = ecdsa::Signature::from_slice(&good.0[..64]).unwrap();
        let (r, s) = s.split_scalars();
        let high = ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
        let mut m = [0u8; 65];
        m[..64].copy_from_slice(&high.to_bytes());
        m[64] = if good.0[64] == 27 { 28 } else { 27 };
        assert!(Signature(m).recover(b"x").is_err());
    }
}
