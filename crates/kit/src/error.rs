//! The kit's error type. Every variant names the setting at fault, because these errors are what a
//! user sees when Flowork refuses to start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a service could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The configuration is invalid; the message names the key and the source.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not be bound.
    #[error("{setting} = {addr}: cannot listen: {reason}")]
    Bind {
        /// The config key that holds the address (`gateway.listen`, ...).
        setting: String,
        addr: SocketAddr,
        reason: String,
    },
    /// The data dir can't be created or written.
    #[error("data_dir = {}: {reason}", path.display())]
    DataDir { path: PathBuf, reason: String },
    /// The integrity check refused to start (strict mode) or could not run.
    #[error("integrity: {detail}")]
    Integrity { detail: String },
    /// Serving failed after start.
    #[error("{service}: {reason}")]
    Serve {
        service: &'static str,
        reason: String,
    },
}
