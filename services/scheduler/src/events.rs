//! Live progress of executions, for views that follow one as it runs (the gateway streams it as
//! Server-Sent Events).
//!
//! Best effort by design: a broadcast channel, so nobody listening costs one atomic load, and a
//! listener that falls behind misses events (it sees `Lagged`) instead of slowing executions.
//! The execution's history in the store stays the record; events carry small summaries, not node
//! outputs (those can be 16 MiB; read them from the execution).

use flowork_model::{ExecutionId, Timestamp, WorkflowId};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// How many events a listener may fall behind before it misses some.
const CAPACITY: usize = 4096;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A node's first attempt started (`data`: `{"attempt"}`).
    NodeStarted,
    /// A node succeeded (`data`: `{"port"}`).
    NodeFinished,
    /// A node failed for good (`data`: `{"error"}`).
    NodeFailed,
    /// The execution ended or parked (`data`: `{"status", "error"}`).
    ExecutionFinished,
}

impl EventKind {
    /// The wire name (`node_started`, ...), as SSE `event:` and EngineLink `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodeStarted => "node_started",
            Self::NodeFinished => "node_finished",
            Self::NodeFailed => "node_failed",
            Self::ExecutionFinished => "execution_finished",
        }
    }
}

/// One step of one execution.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub execution_id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub kind: EventKind,
    pub node_id: Option<String>,
    pub data: Value,
    pub at: Timestamp,
}

/// The engine's event channel. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl Events {
    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }

    /// Sends the event `make` builds, building it only if someone listens.
    pub(crate) fn emit(&self, make: impl FnOnce() -> Event) {
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(make());
        }
    }
}
