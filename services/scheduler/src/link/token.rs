//! The engine token: `FLOWORK_ENGINE_TOKEN`, else `<data_dir>/engine.token`.
//!
//! Whoever holds the token can pose as this engine at the gateway (and receive its webhooks and
//! API calls), so the file must be private: a file group or others can read is refused, and
//! [`write_token_file`] creates it with mode 0600. The token is never logged or printed.

use std::io;
use std::path::Path;

use flowork_kit::{KitError, private_file};
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
    let text = private_file::read(path)
        .map_err(|why| KitError::Config(format!("{}: {why}", path.display())))?;
    let Some(text) = text else {
        return Ok(None);
    };
    check(
        Zeroizing::new(text.trim().to_owned()),
        &path.display().to_string(),
    )
    .map(Some)
}

/// Writes `token` to `path` with mode 0600, replacing the file atomically (a temp file renamed
/// over it), so a crash never leaves a half-written token.
pub fn write_token_file(path: &Path, token: &str) -> io::Result<()> {
    let text = Zeroizing::new(format!("{token}\n"));
    private_file::replace(path, text.as_bytes())
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
