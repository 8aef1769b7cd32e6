//! The crate's one error type, mapped to `tonic::Status` once, here.

use std::path::PathBuf;

use flowork_storage::StorageError;

/// What can go wrong reading a license or answering a permission question.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    #[error("unknown tier {0:?}")]
    UnknownTier(String),
    #[error("unknown action {0:?}: expected read, write, run, manage_members or delete")]
    UnknownAction(String),
    /// A principal or resource that is not what the API takes.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The document is not a license file of the supported shape.
    #[error("not a valid license file: {0}")]
    Malformed(String),
    /// A key or signature in hex is unusable.
    #[error("{0}")]
    InvalidKey(String),
    /// Signed, but not by the pinned key.
    #[error(
        "signed by another key: the license's public_key is {found}, the pinned key is {pinned}"
    )]
    WrongKey { found: String, pinned: String },
    /// The signature does not match the document's bytes.
    #[error("the signature does not verify: the license was edited after signing, or forged")]
    BadSignature,
    /// Past its `expires_at`.
    #[error("the license expired at {0}")]
    Expired(String),
    /// A license file is configured but there is no key to check it against.
    #[error(
        "no public key to verify the license file: set license.public_key (or build with \
         FLOWORK_LICENSE_PUBKEY=<hex>)"
    )]
    NoKey,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configured license file is not usable; `source` says why.
    #[error("license.file {}: {source}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<AccessError>,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The license service could not be asked (gRPC client).
    #[error("license service: {0}")]
    Unavailable(String),
}

impl AccessError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<flowork_manifest::ManifestError> for AccessError {
    fn from(e: flowork_manifest::ManifestError) -> Self {
        Self::InvalidKey(e.to_string())
    }
}

impl From<AccessError> for tonic::Status {
    fn from(e: AccessError) -> Self {
        match &e {
            AccessError::UnknownCapability(_)
            | AccessError::UnknownTier(_)
            | AccessError::UnknownAction(_)
            | AccessError::Invalid { .. } => tonic::Status::invalid_argument(e.to_string()),
            AccessError::Storage(StorageError::NotFound { .. }) => {
                tonic::Status::not_found(e.to_string())
            }
            AccessError::Storage(_) | AccessError::Unavailable(_) => {
                // Backend details may hold hosts and SQL: log them, answer generically.
                tracing::error!(error = %e, "permission check failed");
                tonic::Status::unavailable("the permission store is unavailable")
            }
            _ => tonic::Status::failed_precondition(e.to_string()),
        }
    }
}
