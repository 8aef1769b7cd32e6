//! The storage crate's one error type.

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The named entity does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing was looked up ("workflow", "execution", ...).
        entity: &'static str,
        /// The id or name that was looked up.
        id: String,
    },
    /// The write lost a race or breaks a uniqueness rule; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is invalid (bad argument); nothing was written.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database URL or store settings are wrong.
    #[error("database.url: {0}")]
    Config(String),
    /// A migration could not be applied.
    #[error("migration {version} ({name}) failed: {reason}")]
    Migration {
        /// The migration's version number.
        version: u32,
        /// The migration's file name.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// The backend failed (connection lost, disk full, corrupt row, ...).
    #[error("storage backend: {0}")]
    Backend(String),
}

impl StorageError {
    /// Shorthand for [`StorageError::NotFound`].
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

/// Result alias for storage calls.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
