//! The workflow document (DESIGN §4), as users write it in JSON or YAML.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ValidationError;
use crate::WorkflowId;

/// A workflow: nodes, the edges between them, and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    #[serde(default, skip_serializing_if = "Settings::is_default")]
    pub settings: Settings,
    /// How to save it, not part of the saved document: `false` saves the workflow inactive (its
    /// webhook and cron triggers do not fire until it is activated); absent on create means
    /// active, and on update leaves it as it is. Taken out before the version is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique within the workflow; `[A-Za-z0-9_-]`, at most 64 characters.
    pub id: String,
    /// The node type, e.g. `core.http` (see the catalog).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Per-attempt time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Retry on failure with exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time after.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    /// Upper bound for one wait.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
}

fn default_backoff() -> u64 {
    1_000
}

fn default_max_backoff() -> u64 {
    60_000
}

/// A connection from one node's output (or one of its ports) to another node's input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// The output port, for nodes that have several (`core.if`: `true`/`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

/// Workflow-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Time limit for a whole execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// A workflow to run, given the failed execution, when this one fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_workflow: Option<WorkflowId>,
}

impl Settings {
    fn is_default(&self) -> bool {
        self == &Settings::default()
    }
}

impl WorkflowDoc {
    /// Parses a JSON document; errors give the line and column.
    pub fn from_json(text: &str) -> Result<Self, ValidationError> {
        serde_json::from_str(text)
            .map_err(|e| ValidationError::syntax(format!("invalid workflow JSON: {e}")))
    }

    /// Parses a YAML document; errors give the line and column.
    pub fn from_yaml(text: &str) -> Result<Self, ValidationError> {
        serde_yaml::from_str(text)
            .map_err(|e| ValidationError::syntax(format!("invalid workflow YAML: {e}")))
    }

    /// Parses a JSON value (e.g. the `workflow` of a flow-chain record).
    pub fn from_value(value: Value) -> Result<Self, ValidationError> {
        serde_json::from_value(value)
            .map_err(|e| ValidationError::syntax(format!("invalid workflow: {e}")))
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }
}
