//! The engine token: `FLOWORK_ENGINE_TOKEN`, else `<data_dir>/engine.token`.
//!
//! Whoever holds the token can pose as this engine at the gateway (and receive its webhooks and
//! API calls), so the file must be private: a file group or others can read is refused, and
//! [`write_token_file`] creates it with mode 0600. The token is never logged or printed.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use flowork_kit::KitError;
use zeroize::Zeroizing;

/// The env var holding the engine token (takes precedence over the file).
pub const ENGINE_TOKEN_ENV: &str = "FLOWORK_ENGINE_TOKEN";
/// The file under the data dir holding the engine token.
pub const TOKEN_FILE: &str = "engine.token";

/// A secret that zeroizes its memory when dropped.
pub type Secret = Zeroizing<String>;

/// The token from the env var, else from `<data_dir>/engine.token` (which must exist).
pub async fn load_token(data_dir: &Path) -> Result<Secret, KitError> {
    if let Ok(t) = std::env::var(ENGINE_TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return check(Zeroizing::new(t.trim().to_owned()), ENGINE_TOKEN_ENV);
    }
    let path = data_dir.join(TOKEN_FILE);
    let shown = path.display().to_string();
    let read = tokio::task::spawn_blocking(move || read_token_file(&path))
        .await
        .map_err(|e| KitError::Config(format!("{shown}: {e}")))??;
    read.ok_or_else(|| {
        KitError::Config(format!(
            "scheduler.gateway_url is set but there is no engine token: set {ENGINE_TOKEN_ENV} \
             or write it to {shown} (mode 0600)"
        ))
    })
}

/// Reads a token file: `None` if it does not exist; an error if it is readable by group or
/// others, or empty.
pub fn read_token_file(path: &Path) -> Result<Option<Secret>, KitError> {
    let err = |why: &dyn std::fmt::Display| KitError::Config(format!("{}: {why}", path.display()));
    let meta = match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
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
    check(
        Zeroizing::new(text.trim().to_owned()),
        &path.display().to_string(),
    )
    .map(Some)
}

/// Writes `token` to `path` with mode 0600, replacing the file atomically (a temp file renamed
/// over it), so a crash never leaves a half-written token.
pub fn write_token_file(path: &Path, token: &str) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    // A stale temp file may have any mode; only a file we create gets 0600.
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(token.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// A token travels as gRPC metadata: it must be visible ASCII.
fn check(token: Secret, origin: &str) -> Result<Secret, KitError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KitError::Config(format!(
            "{origin}: the engine token is empty or has characters a token cannot have"
        )));
    }
    Ok(token)
}
