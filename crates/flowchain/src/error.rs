//! The flow-chain's one error type.

use std::path::PathBuf;

/// What can go wrong parsing, signing, reading or writing flow-chain data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value does not have the shape the format requires (address, hash, signature, key…).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being parsed ("address", "signature", "private key"…).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON value could not be serialized canonically (e.g. a number JCS cannot represent).
    #[error("cannot canonicalize JSON: {0}")]
    Canonical(String),
    /// Signing failed (practically unreachable with a valid key).
    #[error("signing failed: {0}")]
    Sign(String),
    /// A file of an exported chain is unusable; names the file.
    #[error("{}: {reason}", .path.display())]
    File {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file or directory failed.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A keystore could not be opened: wrong passphrase or a damaged file (the MAC does not match).
    #[error("wrong passphrase or corrupt keystore (MAC mismatch)")]
    WrongPassphrase,
}

impl Error {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::File {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
