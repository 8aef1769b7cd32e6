//! The version record (DESIGN §5): one saved version of a workflow, linked to the one before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::canonical::canonical_of;
use crate::verify::Problem;
use crate::{Address, Error, Signature, SigningKey};

/// A SHA-256 digest; "<64 lowercase hex>" on the wire (the record's `previous_hash`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHash(pub [u8; 32]);

impl RecordHash {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl FromStr for RecordHash {
    type Err = Error;
    /// Exactly 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Error::invalid(
                "hash",
                format!("{s:?}: expected 64 lowercase hex digits"),
            ));
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| {
            Error::invalid("hash", format!("{s:?}: expected 64 lowercase hex digits"))
        })?;
        Ok(Self(out))
    }
}

impl fmt::Display for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordHash({self})")
    }
}

impl Serialize for RecordHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One version of a workflow. Every field is always serialized (`null` when absent), so a
/// record has exactly one canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRecord {
    /// The workflow this chain belongs to.
    pub workflow_id: String,
    /// 1 for the first version, then +1 per save.
    pub version: u32,
    /// The author's address; `None` for an unsigned record.
    pub author_id: Option<Address>,
    /// RFC 3339 time of the save, kept exactly as given (it is part of the signed bytes).
    pub created_at: String,
    /// Hash of the previous record; `None` for version 1.
    pub previous_hash: Option<RecordHash>,
    /// The workflow document of this version.
    pub workflow: Value,
    /// `personal_sign` over [`VersionRecord::signing_bytes`]; `None` for an unsigned record.
    pub signature: Option<Signature>,
}

/// The record without its signature: what the author signs.
#[derive(Serialize)]
struct Unsigned<'a> {
    workflow_id: &'a str,
    version: u32,
    author_id: Option<Address>,
    created_at: &'a str,
    previous_hash: Option<RecordHash>,
    workflow: &'a Value,
}

impl VersionRecord {
    /// A new unsigned record that follows `previous` (or is version 1 when `previous` is None).
    pub fn next(
        previous: Option<&VersionRecord>,
        workflow_id: impl Into<String>,
        created_at: impl Into<String>,
        workflow: Value,
    ) -> Result<Self, Error> {
        let (version, previous_hash) = match previous {
            Some(p) => (p.version.saturating_add(1), Some(p.hash()?)),
            None => (1, None),
        };
        Ok(Self {
            workflow_id: workflow_id.into(),
            version,
            author_id: None,
            created_at: created_at.into(),
            previous_hash,
            workflow,
            signature: None,
        })
    }

    /// Canonical (JCS) bytes of the record without `signature`: the signed message.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, Error> {
        canonical_of(&Unsigned {
            workflow_id: &self.workflow_id,
            version: self.version,
            author_id: self.author_id,
            created_at: &self.created_at,
            previous_hash: self.previous_hash,
            workflow: &self.workflow,
        })
    }

    /// Canonical (JCS) bytes of the whole record, signature included: an exported file's bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(self.encode()?.1)
    }

    /// SHA-256 of [`VersionRecord::canonical_bytes`]: the next record's `previous_hash`.
    pub fn hash(&self) -> Result<RecordHash, Error> {
        Ok(RecordHash::of(&self.canonical_bytes()?))
    }

    /// Both canonical forms from one JCS pass: the signing bytes, and the full record made by
    /// splicing the `signature` member in where JCS orders it (after `previous_hash`, before
    /// `version`). Exact because the outer keys are fixed ASCII, and `,"version":` cannot occur
    /// earlier: the members before it hold strings, inside which every `"` is escaped.
    /// Verification runs this once per version; a test checks it against plain JCS.
    pub(crate) fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let signing = self.signing_bytes()?;
        let at = find(&signing, VERSION_KEY)
            .ok_or_else(|| Error::Canonical("no version member".into()))?;
        let mut full = Vec::with_capacity(signing.len() + 150);
        full.extend_from_slice(&signing[..at]);
        match &self.signature {
            Some(sig) => {
                full.extend_from_slice(b",\"signature\":\"");
                full.extend_from_slice(sig.to_string().as_bytes());
                full.push(b'"');
            }
            None => full.extend_from_slice(b",\"signature\":null"),
        }
        full.extend_from_slice(&signing[at..]);
        Ok((signing, full))
    }

    /// Signs the record: sets `author_id` to the key's address, then the signature over
    /// [`VersionRecord::signing_bytes`].
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), Error> {
        self.author_id = Some(key.address());
        self.signature = None;
        self.signature = Some(key.sign_personal(&self.signing_bytes()?)?);
        Ok(())
    }

    /// Parses a record from its canonical bytes; refuses bytes that are not exactly canonical.
    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, Problem> {
        Ok(Self::decode(bytes)?.0)
    }

    /// The record and its signing bytes, from bytes that must be its exact canonical form
    /// (anything else that parses to the same record — other spacing, key order, number
    /// spelling, a missing `"signature":null` — is `NotCanonical`).
    pub(crate) fn decode(bytes: &[u8]) -> Result<(Self, Vec<u8>), Problem> {
        let record: Self =
            serde_json::from_slice(bytes).map_err(|e| Problem::Malformed(e.to_string()))?;
        let (signing, full) = record
            .encode()
            .map_err(|e| Problem::Malformed(e.to_string()))?;
        if full != bytes {
            return Err(Problem::NotCanonical);
        }
        Ok((record, signing))
    }
}

const VERSION_KEY: &[u8] = b",\"version\":";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spliced_encoding_is_plain_jcs() {
        let key = SigningKey::generate();
        let tricky = "a,\"version\":1 \u{1f600}\\";
        let mut r = VersionRecord::next(None, tricky, tricky, json!({"version": 9, "v": [tricky]}))
            .unwrap();
        assert_eq!(r.canonical_bytes().unwrap(), canonical_of(&r).unwrap());
        r.sign(&key).unwrap();
        let mut next = VersionRecord::next(Some(&r), "w", "t", json!(null)).unwrap();
        next.sign(&key).unwrap();
        for rec in [&r, &next] {
            let (signing, full) = rec.encode().unwrap();
            assert_eq!(full, canonical_of(rec).unwrap());
            let mut v = serde_json::to_value(rec).unwrap();
            v.as_object_mut().unwrap().remove("signature");
            assert_eq!(signing, canonical_of(&v).unwrap());
        }
    }
}
