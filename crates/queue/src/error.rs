//! The queue crate's one error type.

use flowork_storage::StorageError;

/// What can go wrong talking to a queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The worker's lease ran out and the job was (or may be) delivered to someone else; the
    /// caller must not commit the job's result as if it still owned it.
    #[error("job {id}: lease lost by worker {worker}")]
    LeaseLost {
        /// The job's id.
        id: String,
        /// The worker that had the lease.
        worker: String,
    },
    /// The backend cannot do this operation.
    #[error("{backend} queue: {what} is not supported")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation and why.
        what: &'static str,
    },
    /// The delivery came from a different queue or backend.
    #[error("invalid delivery: {0}")]
    InvalidDelivery(String),
    /// A job could not be encoded.
    #[error("job encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// The store under the embedded queue failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Redis failed (connection, script, unexpected reply).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Result alias for queue calls.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;
