//! License files: a JSON document signed with Ed25519 over its RFC 8785 (JCS) bytes, the same
//! scheme as the integrity manifest (DESIGN §5), and verified offline against a pinned key.
//!
//! ```json
//! {"version":1,"licensee":"Acme","tier":"pro","capabilities":["basic_execution",…],
//!  "seats":10,"issued_at":"2026-12-01T00:00:00Z","expires_at":"2027-12-01T00:00:00Z",
//!  "public_key":"<ed25519 hex>","signature":"<hex over the JCS bytes of all but signature>"}
//! ```
//! `capabilities` absent: the tier's defaults. `seats` and `expires_at` null or absent: no limit.

use std::path::Path;

use flowork_manifest::{PublicKey, SecretKey};
use flowork_model::Timestamp;
use serde_json::{Map, Value, json};

use crate::capability::{Capabilities, Capability, Tier};
use crate::error::AccessError;

/// The `version` this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;
/// The vendor key compiled in by a release build (`FLOWORK_LICENSE_PUBKEY=<hex> cargo build`).
pub const PINNED_PUBLIC_KEY: Option<&str> = option_env!("FLOWORK_LICENSE_PUBKEY");
/// A license file larger than this is refused unread.
const MAX_BYTES: u64 = 1 << 20;

/// The license in force: what it grants, to whom, until when.
#[derive(Debug, Clone, PartialEq)]
pub struct License {
    pub tier: Tier,
    pub capabilities: Capabilities,
    pub licensee: String,
    /// How many user accounts the gateway may hold; `None`: no limit.
    pub seats: Option<u32>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Who signed it; `None` for the built-in open-core default.
    pub signed_by: Option<PublicKey>,
}

/// What to put in a new license file.
#[derive(Debug, Clone)]
pub struct LicenseSpec {
    pub licensee: String,
    pub tier: Tier,
    /// `None`: the tier's defaults.
    pub capabilities: Option<Capabilities>,
    pub seats: Option<u32>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl License {
    /// The open-core default: tier `architect` with all twelve capabilities, no limits.
    pub fn open_core() -> Self {
        Self {
            tier: Tier::Architect,
            capabilities: Tier::Architect.default_capabilities(),
            licensee: "open-core".into(),
            seats: None,
            issued_at: Timestamp(0),
            expires_at: None,
            signed_by: None,
        }
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// Whether `c` is granted at `now` (listed, and the license has not expired).
    pub fn grants(&self, c: Capability, now: Timestamp) -> bool {
        !self.is_expired(now) && self.capabilities.contains(c)
    }

    /// Parses a license file and checks it: signed by `pinned`, unedited, known capabilities,
    /// not expired at `now`.
    pub fn verify(bytes: &[u8], pinned: &PublicKey, now: Timestamp) -> Result<Self, AccessError> {
        let (doc, signed, sig) = split_signature(bytes)?;
        let found = doc
            .get("public_key")
            .and_then(Value::as_str)
            .ok_or_else(|| AccessError::Malformed("public_key: expected a hex string".into()))?;
        let key = PublicKey::parse_hex(found, "public_key")?;
        if key != *pinned {
            return Err(AccessError::WrongKey {
                found: key.to_string(),
                pinned: pinned.to_string(),
            });
        }
        if !key.verifies(&signed, &sig) {
            return Err(AccessError::BadSignature);
        }
        let license = fields(&doc, key)?;
        if let Some(t) = license.expires_at.filter(|_| license.is_expired(now)) {
            return Err(AccessError::Expired(t.to_rfc3339()));
        }
        Ok(license)
    }

    /// What a license file says, without trusting it (for `flowork license inspect`).
    pub fn inspect(bytes: &[u8]) -> Result<Self, AccessError> {
        let (doc, _, _) = split_signature(bytes)?;
        let found = doc.get("public_key").and_then(Value::as_str).unwrap_or("");
        fields(&doc, PublicKey::parse_hex(found, "public_key")?)
    }

    /// Reads and verifies the license file at `path`.
    pub fn load(path: &Path, pinned: &PublicKey, now: Timestamp) -> Result<Self, AccessError> {
        let io = |source| AccessError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_BYTES {
            return Err(AccessError::Malformed(format!(
                "larger than {MAX_BYTES} bytes"
            )));
        }
        Self::verify(&std::fs::read(path).map_err(io)?, pinned, now)
    }
}

impl LicenseSpec {
    /// The signed license file (pretty JSON and a newline).
    pub fn sign(&self, key: &SecretKey) -> Result<String, AccessError> {
        let mut doc = json!({
            "version": FORMAT_VERSION,
            "licensee": self.licensee,
            "tier": self.tier.as_str(),
            "seats": self.seats,
            "issued_at": self.issued_at.to_rfc3339(),
            "expires_at": self.expires_at.map(Timestamp::to_rfc3339),
        });
        if let (Some(caps), Some(obj)) = (&self.capabilities, doc.as_object_mut()) {
            let list: Vec<&str> = caps.iter().map(Capability::as_str).collect();
            obj.insert("capabilities".into(), json!(list));
        }
        sign_document(doc, key)
    }
}

/// Adds `public_key` and `signature` to `doc` (an object) and renders it.
pub(crate) fn sign_document(mut doc: Value, key: &SecretKey) -> Result<String, AccessError> {
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| AccessError::Malformed("expected a JSON object".into()))?;
    obj.insert("public_key".into(), json!(key.public().to_string()));
    let sig = key.sign(&jcs(&doc)?);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("signature".into(), json!(hex::encode(sig)));
    }
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| AccessError::Malformed(e.to_string()))?;
    Ok(text + "\n")
}

fn jcs(v: &Value) -> Result<Vec<u8>, AccessError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| AccessError::Malformed(e.to_string()))
}

/// A parsed file: the document without `signature`, the bytes that were signed, the signature.
type Split = (Map<String, Value>, Vec<u8>, [u8; 64]);

/// Splits a license file into what was signed and the signature.
fn split_signature(bytes: &[u8]) -> Result<Split, AccessError> {
    let malformed = |m: &str| AccessError::Malformed(m.to_owned());
    let mut doc: Value =
        serde_json::from_slice(bytes).map_err(|e| AccessError::Malformed(e.to_string()))?;
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| malformed("expected a JSON object"))?;
    let sig_hex = match obj.remove("signature") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(malformed("signature: expected a hex string")),
        None => return Err(malformed("no signature field: the license is not signed")),
    };
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&sig_hex, &mut sig).map_err(|_| {
        AccessError::InvalidKey("signature: expected an Ed25519 signature as 128 hex digits".into())
    })?;
    // The signed bytes come from the document as parsed, so what was signed is what is read.
    let signed = jcs(&doc)?;
    match doc {
        Value::Object(map) => Ok((map, signed, sig)),
        _ => Err(malformed("expected a JSON object")),
    }
}

/// The license's fields, each checked; names the field at fault.
fn fields(doc: &Map<String, Value>, key: PublicKey) -> Result<License, AccessError> {
    const KNOWN: [&str; 8] = [
        "version",
        "licensee",
        "tier",
        "capabilities",
        "seats",
        "issued_at",
        "expires_at",
        "public_key",
    ];
    let bad = |field: &str, why: &str| AccessError::Malformed(format!("{field}: {why}"));
    if let Some(k) = doc.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(k, "unknown field"));
    }
    match doc.get("version").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => {}
        _ => return Err(bad("version", "only version 1 is supported")),
    }
    let text = |field: &str| {
        doc.get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(field, "expected a string"))
    };
    let time = |field: &str, v: &str| {
        Timestamp::parse_rfc3339(v).ok_or_else(|| bad(field, "expected YYYY-MM-DDTHH:MM:SSZ"))
    };
    let tier: Tier = text("tier")?.parse()?;
    let capabilities = match doc.get("capabilities") {
        None | Some(Value::Null) => tier.default_capabilities(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| {
                c.as_str()
                    .ok_or_else(|| bad("capabilities", "expected strings"))?
                    .parse::<Capability>()
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("capabilities", "expected a list")),
    };
    let seats = match doc.get("seats") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("seats", "expected a positive whole number or null"))?,
        ),
    };
    let expires_at = match doc.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(time("expires_at", s)?),
        Some(_) => return Err(bad("expires_at", "expected a string or null")),
    };
    Ok(License {
        tier,
        capabilities,
        licensee: text("licensee")?.to_owned(),
        seats,
        issued_at: time("issued_at", text("issued_at")?)?,
        expires_at,
        signed_by: Some(key),
    })
}

#[cfg(test)]
mod tests;
