//! Engine errors to problem JSON, once, at the edge.

use flowork_kit::Problem;
use flowork_model::workflow::ValidationErrors;
use serde_json::json;

use crate::engine::EngineError;

/// 422 naming the first error's node and field, with every error in `errors`.
pub(crate) fn invalid(errors: &ValidationErrors) -> Problem {
    let mut p = Problem::unprocessable(errors.first().map(ToString::to_string).unwrap_or_default());
    if let Some(first) = errors.first() {
        p.field = first.field.clone();
        p.node = first.node.clone();
    }
    p.errors = errors.0.iter().map(|e| json!(e)).collect();
    p
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Storage(s) => s.into(),
            EngineError::Invalid { errors, .. } => invalid(&errors),
            EngineError::Finished(id) => {
                Problem::conflict(format!("execution {id} already finished"))
            }
            EngineError::Queue(e) => {
                tracing::error!(error = %e, "queue failure");
                Problem::unavailable("the work queue is unavailable; see the engine log")
            }
            e @ EngineError::Task(..) => {
                tracing::error!(error = %e, "run task failed");
                Problem::internal(e.to_string())
            }
        }
    }
}

impl From<crate::versions::VersionError> for Problem {
    fn from(e: crate::versions::VersionError) -> Self {
        use axum::http::StatusCode;

        use crate::versions::VersionError as E;
        let detail = e.to_string();
        match e {
            E::Engine(e) => e.into(),
            E::SignatureRequired => {
                Problem::new(StatusCode::FORBIDDEN, "signature-required", detail)
                    .with_field("signature")
            }
            E::AuthorNotAllowed(_) => {
                Problem::new(StatusCode::FORBIDDEN, "author-not-allowed", detail)
                    .with_field("author_id")
            }
            E::NotHead { .. } => Problem::conflict(detail).with_field("previous_hash"),
            // The flow-chain problem code (bad_signature, wrong_author, …) as the problem type.
            E::BadRecord { field, code, .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                &code.replace('_', "-"),
                detail,
            )
            .with_field(field),
        }
    }
}
