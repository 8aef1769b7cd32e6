//! Validation errors: each names the node and the field at fault.

use std::fmt;

use serde::Serialize;

/// One thing wrong with a workflow document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The node at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The field at fault (`params.url`, `edges[2].to`, `retry.max_attempts`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl ValidationError {
    /// The document is not even well-formed JSON/YAML.
    pub fn syntax(message: String) -> Self {
        Self {
            node: None,
            field: None,
            message,
        }
    }

    /// A problem with a workflow-level field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            node: None,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A problem with a node's field.
    pub fn node(node: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            node: Some(node.to_owned()),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.node, &self.field) {
            (Some(n), Some(fl)) => write!(f, "node {n:?}, {fl}: {}", self.message),
            (Some(n), None) => write!(f, "node {n:?}: {}", self.message),
            (None, Some(fl)) => write!(f, "{fl}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ValidationError {}

/// Every error found in one document (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The first error (there is always at least one).
    pub fn first(&self) -> Option<&ValidationError> {
        self.0.first()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        Self(vec![e])
    }
}
