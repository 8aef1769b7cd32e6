//! Files only their owner may read: the master key, the gateway's signing key, the engine token.
//!
//! One rule for all of them, as ssh has for private keys: a file group or others can access is
//! refused (whoever reads it holds the secret), and every file written here is created with mode
//! 0600 through a temp file, so a crash never leaves half a secret behind. Blocking I/O: call at
//! start-up or through `spawn_blocking`.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

/// Why a private file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("accessible by group or others (mode {mode:04o}); run `chmod 600 {path}`")]
    TooOpen { mode: u32, path: String },
}

/// The file's text, `None` if it does not exist; refused if group or others can access it.
pub fn read(path: &Path) -> Result<Option<Zeroizing<String>>, PrivateFileError> {
    let meta = match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PrivateFileError::TooOpen {
                mode,
                path: path.display().to_string(),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(Some(Zeroizing::new(fs::read_to_string(path)?)))
}

/// Creates `path` (mode 0600) holding `contents` unless it exists: a concurrent creator that
/// got there first wins, and both then read the same secret. Creates the parent directory.
pub fn create_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, contents)?;
    let published = match fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        // Filesystems without hard links: a plain rename (last writer wins in a race).
        Err(_) => fs::rename(&tmp, path),
        ok => ok,
    };
    let _ = fs::remove_file(&tmp);
    published?;
    sync_dir(path);
    Ok(())
}

/// Writes `contents` to `path` (mode 0600), replacing it atomically.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, contents)?;
    let renamed = fs::rename(&tmp, path);
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed?;
    sync_dir(path);
    Ok(())
}

/// A new temp file (mode 0600, synced) beside `path`.
fn write_temp(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}-{nanos}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
    ));
    let mut opts = fs::OpenOptions::new();
    // create_new: never reuse a stale file, whose mode could be anything.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(contents)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Makes the new directory entry durable too (best effort).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = fs::File::open(dir).and_then(|d| d.sync_all());
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn created_0600_kept_on_create_replaced_on_replace_refused_when_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/secret");
        assert!(read(&path).expect("missing is fine").is_none());
        create_new(&path, b"one").expect("create");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        create_new(&path, b"two").expect("exists: kept");
        assert_eq!(read(&path).expect("read").expect("some").as_str(), "one");
        replace(&path, b"three").expect("replace");
        assert_eq!(read(&path).expect("read").expect("some").as_str(), "three");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = read(&path).expect_err("too open").to_string();
        assert!(
            err.contains("mode 0640") && err.contains("chmod 600"),
            "{err}"
        );
        let leftovers = fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .count();
        assert_eq!(leftovers, 1, "no temp files left");
    }
}
