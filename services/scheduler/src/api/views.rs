//! What the API returns: stable, documented shapes (the storage rows stay internal).

use flowork_model::Timestamp;
use flowork_storage::{Execution, NodeRun, Workflow};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// A workflow with its head version.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub id: String,
    pub name: String,
    pub active: bool,
    /// The head version; 0 before the first save.
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
    /// The head version's document (omitted in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Value>,
}

impl WorkflowView {
    pub(crate) fn new(w: &Workflow, doc: Option<Value>) -> Self {
        Self {
            id: w.id.to_string(),
            name: w.name.clone(),
            active: w.active,
            version: w.head_version,
            created_at: time(w.created_at),
            updated_at: time(w.updated_at),
            workflow: doc,
        }
    }
}

/// One attempt of one node.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeRunView {
    pub node_id: String,
    pub attempt: u32,
    /// running, waiting, succeeded, failed, interrupted or skipped.
    pub status: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub gas: u64,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

impl From<NodeRun> for NodeRunView {
    fn from(r: NodeRun) -> Self {
        Self {
            node_id: r.node_id,
            attempt: r.attempt,
            status: r.status.to_string(),
            input: r.input,
            output: r.output,
            port: r.port,
            error: r.error,
            gas: r.gas,
            started_at: time(r.started_at),
            duration_ms: r.finished_at.map(|f| f.millis() - r.started_at.millis()),
        }
    }
}

/// An execution, with its node runs when asked for one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    pub id: String,
    pub workflow_id: String,
    pub version: u32,
    /// queued, running, waiting, succeeded, failed, cancelled, out_of_gas or forbidden.
    pub status: String,
    pub trigger: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_runs: Option<Vec<NodeRunView>>,
}

impl ExecutionView {
    pub(crate) fn new(e: Execution, runs: Option<Vec<NodeRun>>) -> Self {
        Self {
            id: e.id.to_string(),
            workflow_id: e.workflow_id.to_string(),
            version: e.version,
            status: e.status.to_string(),
            trigger: e.trigger,
            input: e.input,
            output: e.output,
            error: e.error,
            parent_id: e.parent_id.map(|p| p.to_string()),
            created_at: time(e.created_at),
            started_at: e.started_at.map(time),
            finished_at: e.finished_at.map(time),
            node_runs: runs.map(|r| r.into_iter().map(Into::into).collect()),
        }
    }
}
