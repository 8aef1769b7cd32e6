//! The master key file: created once with OS randomness, then read on every start.
//!
//! The file holds the key as standard base64 plus a newline (the same text `FLOWORK_MASTER_KEY`
//! takes, so an operator can move between the two). On Unix it is created with mode 0600, and a
//! file that group or others can access is refused, as ssh refuses such private keys: whoever
//! reads the key reads every credential, so a lax mode is a misconfiguration to fix, not to warn
//! about and carry on.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore as _;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::key::{KEY_LEN, MasterKey};

impl MasterKey {
    /// Reads the key file at `path`, creating it with a fresh random key (mode 0600) if absent.
    ///
    /// Blocking file I/O: call it at start-up or through `spawn_blocking`.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        match read_key_file(path) {
            Err(VaultError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
                create_key_file(path)?;
                read_key_file(path)
            }
            other => other,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> VaultError + '_ {
    move |error| VaultError::Io {
        path: path.display().to_string(),
        error,
    }
}

fn read_key_file(path: &Path) -> Result<MasterKey> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    check_mode(path, &meta)?;
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
    MasterKey::from_base64_in(&path.display().to_string(), &text)
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::MasterKey {
            origin: path.display().to_string(),
            message: format!(
                "key file is accessible by group or others (mode {mode:04o}); \
                 run `chmod 600 {}`",
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    Ok(())
}

/// Writes a new key to a temp file, then links it into place only if `path` is still absent,
/// so a concurrent starter never replaces a key another process has already begun using.
fn create_key_file(path: &Path) -> Result<()> {
    let err = io_err(path);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(&err)?;
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    OsRng
        .try_fill_bytes(bytes.as_mut_slice())
        .map_err(|e| err(io::Error::other(e.to_string())))?;
    let mut text = Zeroizing::new(STANDARD.encode(bytes.as_slice()));
    text.push('\n');

    let tmp = dir.join(format!(
        ".{}.tmp-{}-{:016x}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id(),
        OsRng.next_u64()
    ));
    let written = write_private(&tmp, text.as_bytes()).and_then(|()| publish(&tmp, path));
    let _ = fs::remove_file(&tmp);
    written.map_err(&err)?;
    tracing::info!(path = %path.display(), "created a new master key file");
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

/// Moves `tmp` to `path` without replacing an existing file (losing a race is fine: the
/// caller then reads the winner's key).
fn publish(tmp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        // Filesystems without hard links: a plain rename (last writer wins in a race).
        Err(_) => fs::rename(tmp, path)?,
    }
    // Make the new directory entry durable too.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
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
        write_private(&path, b"AAECAwQFBgcICQoL\n").map_err(io_err(&path))?;
        let e = MasterKey::load_or_create(&path).expect_err("must fail");
        assert_eq!(
            e.to_string(),
            format!("{}: expected 32 bytes base64, got 12 bytes", path.display())
        );
        Ok(())
    }
}
