//! Where each node of a running execution stands, and which nodes can start next.

use flowork_model::Timestamp;
use flowork_model::workflow::CompiledWorkflow;
use serde_json::{Map, Value};

/// One node's state in a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeState {
    /// Not yet decided.
    Pending,
    /// Started, not finished.
    Running,
    /// A `core.wait` checkpointed as waiting until this time.
    Parked { until: Timestamp },
    /// Finished with an output (and the port it took).
    Done { output: Value, port: Option<String> },
    /// On a branch not taken.
    Skipped,
}

impl NodeState {
    /// When a parked wait is due.
    pub(crate) fn parked_until(&self) -> Option<Timestamp> {
        match self {
            Self::Parked { until } => Some(*until),
            _ => None,
        }
    }
}

/// What the parents of a node decide for it.
pub(crate) enum Readiness {
    /// Some parent has not finished.
    Waiting,
    /// Run it with these live parents (index, output), in edge order.
    Run(Vec<(usize, Value)>),
    /// No live parent: the branch was not taken.
    Skip,
}

/// Decides a pending node from its parents' states.
pub(crate) fn readiness(wf: &CompiledWorkflow, states: &[NodeState], node: usize) -> Readiness {
    let mut live = Vec::new();
    for link in &wf.graph.parents[node] {
        match &states[link.node] {
            NodeState::Pending | NodeState::Running | NodeState::Parked { .. } => {
                return Readiness::Waiting;
            }
            NodeState::Skipped => {}
            NodeState::Done { output, port } => {
                if link.port.is_none() || link.port == *port {
                    live.push((link.node, output.clone()));
                }
            }
        }
    }
    if live.is_empty() {
        Readiness::Skip
    } else {
        Readiness::Run(live)
    }
}

/// A node's input: its one live parent's output, or an object keyed by parent id.
pub(crate) fn input_of(wf: &CompiledWorkflow, mut live: Vec<(usize, Value)>) -> Value {
    if live.len() == 1 {
        return live.pop().map(|(_, v)| v).unwrap_or(Value::Null);
    }
    Value::Object(
        live.into_iter()
            .map(|(i, v)| (wf.nodes[i].id.clone(), v))
            .collect::<Map<_, _>>(),
    )
}
