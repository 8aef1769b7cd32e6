//! `[versions]`: the engine's policy for saved workflow versions (the flow-chain, DESIGN §5).

use serde::{Deserialize, Serialize};

use crate::error::KitError;

/// `[versions]`
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VersionsConfig {
    /// Refuse unsigned saves (the plain create/update endpoints, and records without a
    /// signature). Unset: on for an engine run as its own process (the production layout), off
    /// under `flowork up` (the embedded development default).
    pub require_signed: Option<bool>,
    /// Author addresses (`0x` + 40 hex) allowed to save signed versions on this engine. Empty:
    /// any author whose signature verifies (who may call the engine at all is the gateway's
    /// business).
    pub allowed_authors: Vec<String>,
}

impl VersionsConfig {
    /// Whether signatures are required, given whether this engine is the embedded one.
    pub fn require_signed(&self, embedded: bool) -> bool {
        self.require_signed.unwrap_or(!embedded)
    }

    /// Each allowed author looks like an address (the engine checks EIP-55 case when parsing).
    pub(super) fn validate(&self) -> Result<(), KitError> {
        let address = |a: &str| {
            a.strip_prefix("0x")
                .is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        match self.allowed_authors.iter().find(|a| !address(a)) {
            Some(bad) => Err(KitError::Config(format!(
                "versions.allowed_authors: {bad:?} is not an address (0x + 40 hex digits)"
            ))),
            None => Ok(()),
        }
    }
}
