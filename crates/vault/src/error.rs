//! The vault's one error type.

use flowork_storage::StorageError;

/// What can go wrong opening the vault or using a credential.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No credential has this name.
    #[error("credential {name:?} not found")]
    NotFound {
        /// The name that was looked up.
        name: String,
    },
    /// A credential with this name already exists; nothing was written.
    #[error("credential {name:?} already exists")]
    Conflict {
        /// The name that is taken.
        name: String,
    },
    /// An argument is invalid; nothing was written.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field ("name", "kind", "secret").
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The master key itself is unusable (bad base64, wrong length, unsafe key file).
    #[error("{origin}: {message}")]
    MasterKey {
        /// Where the key came from: the env var name or the key file path.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// The master key is not the one the stored credentials were sealed with.
    #[error("{}", wrong_key_message(.expected.as_deref(), .got))]
    WrongKey {
        /// Fingerprint of the key the vault was set up with (`None`: no canary was stored).
        expected: Option<String>,
        /// Fingerprint of the key that was given.
        got: String,
    },
    /// A sealed value does not open (tampered, truncated, or moved from another credential).
    #[error("{name}: sealed value is corrupt or does not belong here")]
    Corrupt {
        /// The credential name (or "vault canary").
        name: String,
    },
    /// Reading or writing the key file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(StorageError),
}

fn wrong_key_message(expected: Option<&str>, got: &str) -> String {
    match expected {
        Some(expected) => format!(
            "the master key does not match the one these credentials were sealed with \
             (key fingerprint {expected} expected, got {got}); check FLOWORK_MASTER_KEY or the \
             key file"
        ),
        None => format!(
            "the master key (fingerprint {got}) opens none of the stored credentials and no key \
             canary exists; check FLOWORK_MASTER_KEY or the key file"
        ),
    }
}

impl VaultError {
    /// Shorthand for [`VaultError::Invalid`].
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Maps a store error about credential `name` to the vault's terms.
    pub(crate) fn from_store(name: &str, e: StorageError) -> Self {
        match e {
            StorageError::NotFound { .. } => Self::NotFound {
                name: name.to_owned(),
            },
            StorageError::Conflict(_) => Self::Conflict {
                name: name.to_owned(),
            },
            other => Self::Storage(other),
        }
    }
}

impl From<StorageError> for VaultError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

/// Result alias for vault calls.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
