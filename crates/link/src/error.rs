//! The crate's one error enum, and its RFC 7807 form for the gateway's HTTP edge.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowork_kit::Problem;

use crate::EngineId;

/// How long a client is told to wait before retrying an offline or saturated engine.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Everything that can go wrong on either end of the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No session for this engine at this gateway.
    #[error("engine {0} is offline")]
    Offline(EngineId),
    /// The engine already serves as many requests as it accepts at once.
    #[error("engine {0} is busy: too many requests in flight")]
    Saturated(EngineId),
    /// The engine did not answer before the request's deadline.
    #[error("the engine did not answer in time")]
    Timeout,
    /// The link dropped while the request was in flight.
    #[error("the link to the engine dropped mid-request")]
    Disconnected,
    /// The engine could not serve the request (it said why).
    #[error("the engine could not serve the request: {0}")]
    Engine(String),
    /// A frame or head that does not make sense (bad method, header, sequence).
    #[error("invalid tunneled message: {0}")]
    Protocol(String),
    /// Gateway side: the engine's id or token was refused (what [`crate::EngineAuth`] answers).
    #[error("engine id or token refused")]
    Unauthenticated,
    /// Reading the body to forward failed (typically the client went away).
    #[error("request body: {0}")]
    Body(String),
    /// Engine side: the gateway could not be reached.
    #[error("gateway unreachable: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Engine side: the gateway refused or ended the stream.
    #[error("gateway refused the link: {0}")]
    Refused(#[from] tonic::Status),
}

impl LinkError {
    /// How long a client should wait before retrying, when retrying makes sense.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Offline(_) | Self::Saturated(_) | Self::Disconnected => Some(RETRY_AFTER),
            _ => None,
        }
    }

    /// The problem document the gateway answers with. Details name no internals.
    pub fn to_problem(&self) -> Problem {
        match self {
            Self::Offline(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "engine-offline",
                self.to_string(),
            ),
            Self::Saturated(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "engine-busy",
                self.to_string(),
            ),
            Self::Disconnected => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "engine-disconnected",
                self.to_string(),
            ),
            Self::Timeout => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "engine-timeout",
                self.to_string(),
            ),
            Self::Body(_) => Problem::bad_request(self.to_string()),
            Self::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                self.to_string(),
            ),
            Self::Engine(_) | Self::Protocol(_) | Self::Transport(_) | Self::Refused(_) => {
                Problem::new(StatusCode::BAD_GATEWAY, "engine-error", self.to_string())
            }
        }
    }
}

impl From<LinkError> for Problem {
    fn from(e: LinkError) -> Self {
        e.to_problem()
    }
}

impl IntoResponse for LinkError {
    /// Problem JSON, plus `Retry-After` (seconds) when retrying makes sense.
    fn into_response(self) -> Response {
        let retry = self.retry_after();
        let mut res = self.to_problem().into_response();
        if let Some(after) = retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_and_busy_are_503_with_retry_after() {
        for e in [
            LinkError::Offline(EngineId::new("e1")),
            LinkError::Saturated(EngineId::new("e1")),
        ] {
            assert_eq!(e.to_problem().status, 503);
            let res = e.into_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        }
    }

    #[test]
    fn timeout_is_504_without_retry_after() {
        let res = LinkError::Timeout.into_response();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }
}
