//! The crate's one error type; every variant names the file, key or field at fault.

use std::path::PathBuf;

/// Why a manifest could not be built, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A path in (or for) a manifest is not a plain relative path.
    #[error("path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// The document does not have the DESIGN §5 shape.
    #[error("not a valid integrity manifest: {0}")]
    Malformed(String),
    /// A key or signature in hex is unusable.
    #[error("{what}: {reason}")]
    InvalidKey { what: &'static str, reason: String },
    /// The manifest names a key other than the pinned one.
    #[error(
        "signed by another key: the manifest's public_key is {found}, the pinned key is {pinned}"
    )]
    WrongKey { found: String, pinned: String },
    /// The signature does not match the document's bytes.
    #[error("the signature does not verify: the manifest was edited after signing, or forged")]
    BadSignature,
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Building was given something that is not a regular file or directory.
    #[error("{}: {reason}", path.display())]
    Refused { path: PathBuf, reason: &'static str },
    /// The JCS serializer failed (it only fails on values JSON cannot hold).
    #[error("canonical JSON: {0}")]
    Canonical(String),
}

impl ManifestError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
