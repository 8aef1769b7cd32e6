//! The master key file: created once with OS randomness, then read on every start.
//!
//! The file holds the key as standard base64 plus a newline (the same text `FLOWORK_MASTER_KEY`
//! takes, so an operator can move between the two). On Unix it is created with mode 0600, and a
//! file that group or others can access is refused, as ssh refuses such private keys: whoever
//! reads the key reads every credential, so a lax mode is a misconfiguration to fix, not to warn
//! about and carry on.

use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;
use flowork_kit::private_file::{self, PrivateFileError};
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::key::{KEY_LEN, MasterKey};

impl MasterKey {
    /// Reads the key file at `path`, creating it with a fresh random key (mode 0600) if absent.
    ///
    /// Blocking file I/O: call it at start-up or through `spawn_blocking`.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        if let Some(key) = read_key_file(path)? {
            return Ok(key);
        }
        create_key_file(path)?;
        // A concurrent starter may have won the race: read whichever key is there.
        read_key_file(path)?.ok_or_else(|| {
            io_err(path)(io::Error::new(
                io::ErrorKind::NotFound,
                "vanished right after it was created",
            ))
        })
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> VaultError + '_ {
    move |error| VaultError::Io {
        path: path.display().to_string(),
        error,
    }
}

fn read_key_file(path: &Path) -> Result<Option<MasterKey>> {
    let text = match private_file::read(path) {
        Ok(text) => text,
        Err(PrivateFileError::Io(e)) => return Err(io_err(path)(e)),
        Err(e @ PrivateFileError::TooOpen { .. }) => {
            return Err(VaultError::MasterKey {
                origin: path.display().to_string(),
                message: format!("key file is {e}"),
            });
        }
    };
    text.map(|t| MasterKey::from_base64_in(&path.display().to_string(), &t))
        .transpose()
}

/// A new random key, written so that a concurrent starter never replaces a key another process
/// has already begun using ([`private_file::create_new`]).
fn create_key_file(path: &Path) -> Result<()> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    OsRng
        .try_fill_bytes(bytes.as_mut_slice())
        .map_err(|e| io_err(path)(io::Error::other(e.to_string())))?;
    let mut text = Zeroizing::new(STANDARD.encode(bytes.as_slice()));
    text.push('\n');
    private_file::create_new(path, text.as_bytes()).map_err(io_err(path))?;
    tracing::info!(path = %path.display(), "created a new master key file");
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn creates_0600_and_reloads_the_same_key() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err(Path::new("tempdir")))?;
        let path = dir.path().join("sub").join("master.key");
        let first = MasterKey::load_or_create(&path)?;
        let mode = fs::metadata(&path)
            .map_err(io_err(&path))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = MasterKey::load_or_create(&path)?;
        assert_eq!(first.fingerprint(), again.fingerprint());
        // Only the key file is left behind, no temp files.
        let entries = fs::read_dir(path.parent().unwrap_or(dir.path()))
            .map_err(io_err(&path))?
            .count();
        assert_eq!(entries, 1);
        Ok(())
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err(Path::new("tempdir")))?;
        let path = dir.path().join("master.key");
        let prints: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| MasterKey::load_or_create(&path)))
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(Ok(key)) => key.fingerprint().to_owned(),
                    other => panic!("load_or_create failed: {other:?}"),
                })
                .collect()
        });
        assert!(prints.iter().all(|p| *p == prints[0]), "{prints:?}");
        Ok(())
    }

    #[test]
    fn refuses_a_group_readable_file() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err(Path::new("tempdir")))?;
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).map_err(io_err(&path))?;
        let e = MasterKey::load_or_create(&path).expect_err("must fail");
        assert!(e.to_string().contains("mode 0640"), "{e}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        Ok(())
    }

    #[test]
    fn a_bad_key_file_names_its_path() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err(Path::new("tempdir")))?;
        let path = dir.path().join("master.key");
        private_file::create_new(&path, b"AAECAwQFBgcICQoL\n").map_err(io_err(&path))?;
        let e = MasterKey::load_or_create(&path).expect_err("must fail");
        assert_eq!(
            e.to_string(),
            format!("{}: expected 32 bytes base64, got 12 bytes", path.display())
        );
        Ok(())
    }
}
