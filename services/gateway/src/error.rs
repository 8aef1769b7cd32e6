//! The gateway's one error type, mapped to problem JSON once, here.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowork_kit::Problem;
use flowork_storage::StorageError;

/// What can go wrong at the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No credentials, or credentials that do not check out. The detail never says which part
    /// was wrong (unknown user and wrong password read the same).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Authenticated and allowed to see the resource, but not to do this (the detail says why:
    /// the role needed, or the capability the license does not grant).
    #[error("{0}")]
    Denied(String),
    /// Well-formed, but it does not check out (a signature that recovers another address).
    #[error("{message}")]
    Unprocessable { field: String, message: String },
    /// The license or the permission service failed.
    #[error(transparent)]
    Access(#[from] flowork_access::AccessError),
    /// Nothing there, or nothing the caller may see (the same answer, so ids do not leak).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The request is malformed or a field is invalid.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The body is larger than the endpoint takes.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Too many attempts; try again after the duration.
    #[error("too many attempts; retry in {}s", retry_secs(*.0))]
    RateLimited(Duration),
    /// The signing key could not be read or created.
    #[error("gateway signing key {origin}: {reason}")]
    Key { origin: String, reason: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The engine is offline and this request cannot wait for it (a waiting-mode webhook, or a
    /// full webhook buffer); retry after the duration.
    #[error("engine {engine} is offline and {why}; retry later")]
    EngineOffline {
        engine: String,
        why: &'static str,
        retry_after: Duration,
    },
    /// Reaching an engine over EngineLink failed (offline, busy, timeout, dropped).
    #[error(transparent)]
    Link(#[from] flowork_link::LinkError),
    /// Several replicas: the one holding the engine's link does not answer (it may have just
    /// died; its record in Redis lapses within seconds).
    #[error("the gateway replica linked to engine {engine} cannot be reached; retry later")]
    ReplicaUnreachable { engine: String },
    /// `gateway.redis_url` cannot be used (at start).
    #[error("gateway.redis_url: {0}")]
    Redis(String),
    /// A bug or a failed background task; details are logged, not answered.
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    /// Shorthand for [`GatewayError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`GatewayError::NotFound`].
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// The problem document for this error.
    pub fn to_problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::Unauthenticated(_) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
            }
            Self::Forbidden(_) | Self::Denied(_) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
            }
            Self::Unprocessable { field, .. } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
                    .with_field(field.clone())
            }
            Self::Access(e) => {
                tracing::error!(error = %e, "permission check failed");
                Problem::unavailable("permissions cannot be checked right now; see the gateway log")
            }
            Self::NotFound { .. } => Problem::not_found(detail),
            Self::Invalid { field, .. } => Problem::bad_request(detail).with_field(field.clone()),
            Self::TooLarge(_) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail).with_field("body")
            }
            Self::RateLimited(_) => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", detail)
            }
            Self::Storage(e) => match e {
                StorageError::NotFound { .. } => Problem::not_found(detail),
                StorageError::Conflict(_) => Problem::conflict(detail),
                StorageError::Invalid(_) => Problem::bad_request(detail),
                // Backend details may hold hosts and SQL: log them, answer generically.
                _ => {
                    tracing::error!(error = %e, "storage failure");
                    Problem::unavailable("the store is unavailable; see the gateway log")
                }
            },
            Self::EngineOffline { .. } => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "engine-offline", detail)
            }
            Self::Link(e) => e.to_problem(),
            Self::ReplicaUnreachable { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "replica-unreachable",
                detail,
            ),
            Self::Key { .. } | Self::Redis(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "gateway failure");
                Problem::internal("the gateway failed; see its log")
            }
        }
    }
}

impl From<GatewayError> for Problem {
    fn from(e: GatewayError) -> Self {
        e.to_problem()
    }
}

/// About a third of how long a dead replica's link records last.
const REPLICA_RETRY_AFTER: Duration = Duration::from_secs(5);

fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut res = self.to_problem().into_response();
        let after = match &self {
            Self::RateLimited(after)
            | Self::EngineOffline {
                retry_after: after, ..
            } => Some(*after),
            Self::Link(e) => e.retry_after(),
            Self::ReplicaUnreachable { .. } => Some(REPLICA_RETRY_AFTER),
            _ => None,
        };
        if let Some(after) = after
            && let Ok(v) = HeaderValue::from_str(&retry_secs(after).max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, Self::Unauthenticated(_)) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"flowork\""),
            );
        }
        res
    }
}

/// Result alias for the gateway.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
