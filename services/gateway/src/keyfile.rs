//! The secret access tokens are signed with: `FLOWORK_GATEWAY_SECRET`, else `<data_dir>/gateway.key`.
//!
//! The file is created once with 32 random bytes (base64), mode 0600, and refused when group or
//! others can read it: whoever holds it can mint an admin's access token. Several gateway
//! replicas must share it, so they set the env var (or share the file).

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
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
    match read(path) {
        Err(GatewayError::Key { reason, .. }) if reason == NOT_FOUND => {
            create(path).map_err(|e| key_err(path.display(), e))?;
            read(path)
        }
        other => other,
    }
}

const NOT_FOUND: &str = "not found";

fn read(path: &Path) -> Result<Secret> {
    let err = |e: &dyn std::fmt::Display| key_err(path.display(), e);
    let meta = match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(err(&NOT_FOUND)),
        other => other.map_err(|e| err(&e))?,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(&format!(
                "accessible by group or others (mode {mode:04o}); run `chmod 600 {}`",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| err(&e))?);
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| err(&format!("not base64: {e}")))?;
    if bytes.len() < MIN_SECRET_LEN {
        return Err(err(&format!("shorter than {MIN_SECRET_LEN} bytes")));
    }
    Ok(Zeroizing::new(bytes))
}

/// Writes a fresh secret to a temp file, then links it into place only if `path` is still
/// absent: two first starts at once end up reading the same key.
fn create(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(bytes.as_mut_slice());
    let text = Zeroizing::new(format!("{}\n", STANDARD.encode(bytes.as_slice())));
    let tmp = dir.join(format!(
        ".{KEY_FILE}.tmp-{}-{:016x}",
        std::process::id(),
        rand::rng().next_u64()
    ));
    let written = write_private(&tmp, text.as_bytes()).and_then(|()| {
        match fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            // Filesystems without hard links: a plain rename.
            Err(_) => fs::rename(&tmp, path),
            ok => ok,
        }
    });
    let _ = fs::remove_file(&tmp);
    written?;
    tracing::info!(path = %path.display(), "created a new gateway signing key");
    Ok(())
}

fn write_private(tmp: &Path, contents: &[u8]) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(tmp)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
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
