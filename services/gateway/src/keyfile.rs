//! The secret access tokens are signed with: `FLOWORK_GATEWAY_SECRET`, else `<data_dir>/gateway.key`.
//!
//! The file is created once with 32 random bytes (base64), mode 0600, and refused when group or
//! others can read it: whoever holds it can mint an admin's access token. Several gateway
//! replicas must share it, so they set the env var (or share the file).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowork_kit::private_file;
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::error::{GatewayError, Result};

/// The env var holding the signing secret (any string of at least [`MIN_SECRET_LEN`] bytes).
pub const GATEWAY_SECRET_ENV: &str = "FLOWORK_GATEWAY_SECRET";
/// The file under the data dir holding the generated secret.
pub const KEY_FILE: &str = "gateway.key";
/// Shorter secrets make HS256 guessable offline from one token.
pub const MIN_SECRET_LEN: usize = 32;

/// The signing secret's bytes (zeroized on drop).
pub(crate) type Secret = Zeroizing<Vec<u8>>;

/// The secret from the env var, else from (or newly into) `<data_dir>/gateway.key`.
pub(crate) async fn load(data_dir: &Path) -> Result<Secret> {
    if let Ok(s) = std::env::var(GATEWAY_SECRET_ENV)
        && !s.is_empty()
    {
        let s = Zeroizing::new(s);
        if s.len() < MIN_SECRET_LEN {
            return Err(key_err(
                GATEWAY_SECRET_ENV,
                format!("must be at least {MIN_SECRET_LEN} bytes"),
            ));
        }
        return Ok(Zeroizing::new(s.as_bytes().to_vec()));
    }
    let path = data_dir.join(KEY_FILE);
    tokio::task::spawn_blocking(move || load_or_create(&path))
        .await
        .map_err(|e| GatewayError::Internal(format!("key file task failed: {e}")))?
}

fn key_err(origin: impl ToString, reason: impl ToString) -> GatewayError {
    GatewayError::Key {
        origin: origin.to_string(),
        reason: reason.to_string(),
    }
}

fn load_or_create(path: &Path) -> Result<Secret> {
    if let Some(secret) = read(path)? {
        return Ok(secret);
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(bytes.as_mut_slice());
    let text = Zeroizing::new(format!("{}\n", STANDARD.encode(bytes.as_slice())));
    private_file::create_new(path, text.as_bytes()).map_err(|e| key_err(path.display(), e))?;
    tracing::info!(path = %path.display(), "created a new gateway signing key");
    // Another starter may have won the race: read what is there.
    read(path)?.ok_or_else(|| key_err(path.display(), "vanished right after it was created"))
}

fn read(path: &Path) -> Result<Option<Secret>> {
    let err = |e: &dyn std::fmt::Display| key_err(path.display(), e);
    let Some(text) = private_file::read(path).map_err(|e| err(&e))? else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| err(&format!("not base64: {e}")))?;
    if bytes.len() < MIN_SECRET_LEN {
        return Err(err(&format!("shorter than {MIN_SECRET_LEN} bytes")));
    }
    Ok(Some(Zeroizing::new(bytes)))
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn creates_0600_reloads_and_refuses_a_lax_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(KEY_FILE);
        let a = load_or_create(&path).expect("create");
        assert_eq!(a.len(), 32);
        let mode = fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path).expect("reload"), a);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_or_create(&path).expect_err("lax mode").to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
