//! The FAC crate's one error type.

/// Why a token or a node was refused: maps to the execution status `forbidden`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    /// Not a compact JWS, or its header or claims do not parse.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm other than EdDSA (`none`, HS256, RS256, ...).
    #[error("algorithm {0} is not accepted (EdDSA only)")]
    Algorithm(String),
    #[error("bad signature")]
    BadSignature,
    #[error("token expired at {exp} (now {now})")]
    Expired { exp: u64, now: u64 },
    #[error("token not yet valid (valid from {from}, now {now})")]
    NotYetValid { from: u64, now: u64 },
    #[error("wrong issuer {0:?}")]
    WrongIssuer(String),
    #[error("wrong audience {0:?}")]
    WrongAudience(String),
    #[error("node type {0:?} is not allowed by the token")]
    NodeNotAllowed(String),
    #[error("workflow {0} is not allowed by the token")]
    WorkflowNotAllowed(String),
}

/// What can go wrong issuing or verifying FAC tokens.
#[derive(Debug, thiserror::Error)]
pub enum FacError {
    /// The token or the node is refused (status `forbidden`).
    #[error("forbidden: {0}")]
    Forbidden(#[from] Forbidden),
    /// The request to issue a token is invalid (bad flag value).
    #[error("{0}")]
    Invalid(String),
    /// The issuer key file cannot be read, created or parsed.
    #[error("FAC issuer key {path}: {reason}")]
    Key { path: String, reason: String },
    /// Signing failed (should not happen with a valid key).
    #[error("signing: {0}")]
    Sign(String),
}
