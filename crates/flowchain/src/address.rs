//! Ethereum addresses: the author identity of a flow-chain record.

use sha3::{Digest as _, Keccak256};

use crate::Error;

/// A 20-byte Ethereum address. Displays (and serializes) as "0x" + 40 lowercase hex digits.
///
/// [`FromStr`] is lenient, for people: lowercase, uppercase or EIP-55 mixed case (a mixed-case
/// address must carry a correct EIP-55 checksum). Deserializing is strict, for the wire format:
/// only the lowercase form the record contract allows, so a record has one spelling.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of an uncompressed secp256k1 public key (64 bytes, x || y).
    pub(crate) fn from_public_xy(xy: &[u8]) -> Self {
        let digest = Keccak256::digest(xy);
        let mut a = [0u8; 20];
        a.copy_from_slice(&digest[12..]);
        Self(a)
    }

    /// The EIP-55 mixed-case checksum spelling, as wallets show it.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let digest = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (digest[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }

    fn parse(s: &str, strict: bool) -> Result<Self, Error> {
        let bad = |reason: &str| Error::invalid("address", format!("{s:?}: {reason}"));
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| bad("must start with 0x"))?;
        if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("expected 0x followed by 40 hex digits"));
        }
        let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
        if strict && has_upper {
            return Err(bad("must be lowercase"));
        }
        let mut a = [0u8; 20];
        hex::decode_to_slice(digits, &mut a).map_err(|e| bad(&e.to_string()))?;
        let address = Self(a);
        let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
        if has_upper && has_lower && address.to_checksum() != s {
            return Err(bad("mixed case but the EIP-55 checksum does not match"));
        }
        Ok(address)
    }
}

hex_text!(Address);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors() {
        // From EIP-55 itself.
        for s in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_checksum(), s);
            assert_eq!(a.to_string(), s.to_lowercase());
            assert_eq!(
                s.to_uppercase()
                    .replace("0X", "0x")
                    .parse::<Address>()
                    .unwrap(),
                a
            );
        }
    }

    #[test]
    fn rejects_bad_spellings() {
        assert!(
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
                .parse::<Address>()
                .is_err()
        );
        assert!(
            "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
                .parse::<Address>()
                .is_err()
        );
        assert!(
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"
                .parse::<Address>()
                .is_err()
        );
        let strict: Result<Address, _> =
            serde_json::from_str("\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"");
        assert!(strict.is_err());
    }
}
