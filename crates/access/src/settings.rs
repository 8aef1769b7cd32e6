//! `[license]` → the license in force: the configured file, verified against the configured or
//! compiled-in key, else the open-core default.

use flowork_kit::config::LicenseConfig;
use flowork_manifest::PublicKey;
use flowork_model::Timestamp;

use crate::error::AccessError;
use crate::license::{License, PINNED_PUBLIC_KEY};

/// The key license files must be signed with: `license.public_key`, else the compiled-in one.
pub fn license_key(cfg: &LicenseConfig) -> Result<Option<PublicKey>, AccessError> {
    match (&cfg.public_key, PINNED_PUBLIC_KEY) {
        (Some(k), pinned) => {
            if pinned.is_some() {
                tracing::warn!("license.public_key overrides the key this build pins");
            }
            Ok(Some(PublicKey::parse_hex(k, "license.public_key")?))
        }
        (None, Some(k)) => Ok(Some(PublicKey::parse_hex(
            k,
            "FLOWORK_LICENSE_PUBKEY (compiled in)",
        )?)),
        (None, None) => Ok(None),
    }
}

/// The license this process enforces. A configured file that is missing, unsigned, signed by
/// another key, edited or expired is an error (the service refuses to start), never a silent
/// fallback to the default.
pub fn load_license(cfg: &LicenseConfig) -> Result<License, AccessError> {
    let Some(path) = &cfg.file else {
        return Ok(License::open_core());
    };
    let key = license_key(cfg)?.ok_or(AccessError::NoKey)?;
    let license = License::load(path, &key, Timestamp::now()).map_err(|e| match e {
        AccessError::Io { .. } => e,
        other => AccessError::InFile {
            path: path.clone(),
            source: Box::new(other),
        },
    })?;
    tracing::info!(tier = %license.tier, licensee = %license.licensee,
        capabilities = license.capabilities.len(), "license file verified");
    Ok(license)
}
