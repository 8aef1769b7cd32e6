//! `[integrity]`: how a binary checks its own files at boot (DESIGN §5), and where the integrity
//! service listens.

use std::net::SocketAddr;
use std::path::PathBuf;

use flowork_manifest::PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::KitError;

/// The public key compiled in by a release build (`FLOWORK_INTEGRITY_PUBKEY=<hex> cargo build`).
/// With one, the default mode is `strict`; without, `off` (a development build).
pub const PINNED_PUBLIC_KEY: Option<&str> = option_env!("FLOWORK_INTEGRITY_PUBKEY");

/// Longest re-check interval accepted (a year); beyond, timers would overflow.
const MAX_RECHECK_SECS: u64 = 365 * 86_400;

/// What a binary does when its files differ from its manifest.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IntegrityMode {
    /// Refuse to start, naming the file.
    Strict,
    /// Log each file, start, and report health as degraded.
    Warn,
    /// No check (development builds).
    Off,
}

impl IntegrityMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Warn => "warn",
            Self::Off => "off",
        }
    }
}

/// `[integrity]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrityConfig {
    /// Where the integrity service listens (as for every private service).
    pub listen: Option<SocketAddr>,
    /// `strict`, `warn` or `off`. Default: `strict` in a build with a pinned key, else `off`.
    pub mode: IntegrityMode,
    /// The manifest. Unset: `integrity.json` next to the executable. Its paths are relative to
    /// the directory it is in.
    pub manifest: Option<PathBuf>,
    /// The Ed25519 public key (64 hex digits) the manifest must be signed with. Unset: the key
    /// compiled in ([`PINNED_PUBLIC_KEY`]).
    pub public_key: Option<String>,
    /// Seconds between re-checks while running (drift downgrades health); `0`: boot only.
    pub recheck_interval_secs: u64,
}

impl Default for IntegrityConfig {
    fn default() -> Self {
        Self {
            listen: None,
            mode: if PINNED_PUBLIC_KEY.is_some() {
                IntegrityMode::Strict
            } else {
                IntegrityMode::Off
            },
            manifest: None,
            public_key: None,
            recheck_interval_secs: 300,
        }
    }
}

impl IntegrityConfig {
    /// The key manifests must be signed with: the configured one, else the compiled-in one.
    pub fn public_key(&self) -> Result<Option<PublicKey>, KitError> {
        let parse = |hex: &str, what| {
            PublicKey::parse_hex(hex, what).map_err(|e| KitError::Config(e.to_string()))
        };
        match (&self.public_key, PINNED_PUBLIC_KEY) {
            (Some(k), _) => parse(k, "integrity.public_key").map(Some),
            (None, Some(k)) => parse(k, "FLOWORK_INTEGRITY_PUBKEY (compiled in)").map(Some),
            (None, None) => Ok(None),
        }
    }

    /// A usable key whenever the mode checks anything, and a sane interval.
    pub(crate) fn validate(&self) -> Result<(), KitError> {
        if self.recheck_interval_secs > MAX_RECHECK_SECS {
            return Err(KitError::Config(format!(
                "integrity.recheck_interval_secs must be at most {MAX_RECHECK_SECS} (a year); \
                 0 turns re-checks off"
            )));
        }
        let key = self.public_key()?;
        if key.is_none() && self.mode != IntegrityMode::Off {
            return Err(KitError::Config(format!(
                "integrity.mode = {} needs integrity.public_key (or a build with \
                 FLOWORK_INTEGRITY_PUBKEY set)",
                self.mode.as_str()
            )));
        }
        Ok(())
    }

    /// The manifest path: the configured one, else `integrity.json` next to the executable.
    pub fn manifest_path(&self) -> Result<PathBuf, KitError> {
        if let Some(p) = &self.manifest {
            return Ok(p.clone());
        }
        let exe = std::env::current_exe().map_err(|e| KitError::Integrity {
            detail: format!("cannot locate the executable: {e}"),
        })?;
        let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
        Ok(dir.join(flowork_manifest::FILE_NAME))
    }
}
