//! Storage errors at the edge: to a [`Problem`] (HTTP and gRPC) and back from a peer's status.

use flowork_kit::Problem;

use crate::error::StorageError;

impl From<StorageError> for Problem {
    fn from(e: StorageError) -> Self {
        match &e {
            StorageError::NotFound { .. } => Problem::not_found(e.to_string()),
            StorageError::Conflict(_) => Problem::conflict(e.to_string()),
            StorageError::Invalid(_) => Problem::bad_request(e.to_string()),
            // Backend and config details may hold hosts and SQL: log them, answer generically.
            StorageError::Config(_) | StorageError::Migration { .. } | StorageError::Backend(_) => {
                tracing::error!(error = %e, "storage failure");
                Problem::unavailable("the store is unavailable; see the service log")
            }
        }
    }
}

impl From<StorageError> for tonic::Status {
    fn from(e: StorageError) -> Self {
        Problem::from(e).into()
    }
}

impl StorageError {
    /// Rebuilds the error a remote store (the store service) answered with.
    pub fn from_status(status: &tonic::Status) -> Self {
        let p = Problem::from_status(status);
        // The detail already reads "<entity> <id> not found" / "conflict: ..."; keep it whole.
        match p.status {
            404 => not_found(&p.detail),
            409 => StorageError::Conflict(strip(&p.detail, "conflict: ")),
            400 | 422 => StorageError::Invalid(strip(&p.detail, "invalid: ")),
            _ => StorageError::Backend(format!("store service: {}", p.detail)),
        }
    }
}

/// Parses "<entity> <id> not found" back into its parts.
fn not_found(detail: &str) -> StorageError {
    const ENTITIES: [&str; 8] = [
        "workflow",
        "version",
        "execution",
        "node run",
        "credential",
        "user",
        "job",
        "key",
    ];
    let body = detail.strip_suffix(" not found").unwrap_or(detail);
    for entity in ENTITIES {
        if let Some(id) = body.strip_prefix(entity).and_then(|r| r.strip_prefix(' ')) {
            return StorageError::NotFound {
                entity,
                id: id.to_owned(),
            };
        }
    }
    StorageError::NotFound {
        entity: "item",
        id: body.to_owned(),
    }
}

fn strip(s: &str, prefix: &str) -> String {
    s.strip_prefix(prefix).unwrap_or(s).to_owned()
}
