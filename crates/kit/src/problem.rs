//! The one error shape at every edge: RFC 7807 problem JSON over HTTP, `tonic::Status` over gRPC.
//!
//! Each crate maps its own error enum into a [`Problem`] once; the HTTP and gRPC forms follow from
//! it. A `Problem` sent over gRPC travels whole in the `flowork-problem-bin` metadata entry, so a
//! gateway forwarding an engine's error loses nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic::metadata::MetadataValue;

const METADATA_KEY: &str = "flowork-problem-bin";
const TYPE_BASE: &str = "https://flowork.dev/problems/";

/// An RFC 7807 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, the same for every problem of this kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The workflow node at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Every error, when there are several (validation reports them all at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<serde_json::Value>,
}

impl Problem {
    /// A problem of kind `slug` (e.g. `not-found`) with the given status.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            node: None,
            errors: Vec::new(),
        }
    }

    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }
    /// 500. The detail must not leak internals; log them instead.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    /// 503.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 422: the request is well-formed but its content is invalid.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
    }

    /// Names the workflow node at fault.
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Rebuilds the problem a peer sent, or derives one from the status code.
    pub fn from_status(status: &tonic::Status) -> Self {
        let sent = status
            .metadata()
            .get_bin(METADATA_KEY)
            .and_then(|v| v.to_bytes().ok())
            .and_then(|b| serde_json::from_slice::<Problem>(&b).ok());
        sent.unwrap_or_else(|| {
            let (http, slug) = http_of(status.code());
            Problem::new(http, slug, status.message())
        })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.title, self.detail),
            None => write!(f, "{}: {}", self.title, self.detail),
        }
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut res = (status, axum::Json(self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl From<Problem> for tonic::Status {
    fn from(p: Problem) -> Self {
        let mut status = tonic::Status::new(grpc_code_of(p.status_code()), p.detail.clone());
        if let Ok(json) = serde_json::to_vec(&p) {
            status
                .metadata_mut()
                .insert_bin(METADATA_KEY, MetadataValue::from_bytes(&json));
        }
        status
    }
}

fn grpc_code_of(status: StatusCode) -> Code {
    match status.as_u16() {
        400 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        412 => Code::FailedPrecondition,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

fn http_of(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "bad-request"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "forbidden"),
        Code::NotFound => (StatusCode::NOT_FOUND, "not-found"),
        Code::Aborted | Code::AlreadyExists => (StatusCode::CONFLICT, "conflict"),
        Code::FailedPrecondition => (StatusCode::PRECONDITION_FAILED, "precondition-failed"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "not-implemented"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_grpc_round_trip_whole() {
        let p = Problem::conflict("version 3 was saved first").with_field("previous_hash");
        let status = tonic::Status::from(p.clone());
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(Problem::from_status(&status), p);
    }

    #[test]
    fn a_plain_status_maps_to_a_problem() {
        let p = Problem::from_status(&tonic::Status::not_found("workflow wf_1 not found"));
        assert_eq!(p.status, 404);
        assert_eq!(p.detail, "workflow wf_1 not found");
        assert!(p.kind.ends_with("/not-found"));
    }

    #[tokio::test]
    async fn renders_problem_json() {
        let res = Problem::bad_request("name is empty")
            .with_field("name")
            .into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["field"], "name");
        assert_eq!(v["status"], 400);
        assert_eq!(v["title"], "Bad Request");
    }
}
