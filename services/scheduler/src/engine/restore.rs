//! Where a resumed execution stands, from its checkpoints (the node runs in the store).
//!
//! The latest record of each node decides: succeeded and skipped nodes are settled and never
//! run again; a parked wait stays parked; a node that failed or was cut short by a crash runs
//! again as a new attempt. Only failed attempts count as failures (for retries and idempotency
//! keys): a crash is not the node's fault, and the next try continues the interrupted one.

use std::collections::HashMap;

use flowork_model::NodeRunStatus;
use flowork_model::workflow::CompiledWorkflow;
use flowork_storage::NodeRun;
use serde_json::Value;

use super::state::NodeState;
use super::wait;

/// The per-node state rebuilt from checkpoints, indexed like the workflow's nodes.
pub(super) struct Restored {
    pub(super) states: Vec<NodeState>,
    /// The attempt number each node starts at.
    pub(super) next_attempt: Vec<u32>,
    /// How many attempts of each node failed.
    pub(super) failures: Vec<u32>,
    /// The checkpoints of parked waits, by node index.
    pub(super) parked: HashMap<usize, NodeRun>,
    /// Attempts a stopped worker left `running`: to be recorded as interrupted.
    pub(super) interrupted: Vec<NodeRun>,
}

/// Rebuilds the state of `wf`'s nodes from an execution's node runs.
pub(super) fn restore(wf: &CompiledWorkflow, runs: Vec<NodeRun>) -> Restored {
    let n = wf.nodes.len();
    let mut out = Restored {
        states: vec![NodeState::Pending; n],
        next_attempt: vec![1; n],
        failures: vec![0; n],
        parked: HashMap::new(),
        interrupted: Vec::new(),
    };
    let mut latest: HashMap<usize, NodeRun> = HashMap::new();
    for run in runs {
        // Records of nodes a later version removed are history, not state.
        let Some(i) = wf.index_of(&run.node_id) else {
            continue;
        };
        if run.status == NodeRunStatus::Failed {
            out.failures[i] += 1;
        }
        if latest.get(&i).is_none_or(|r| r.attempt <= run.attempt) {
            latest.insert(i, run);
        }
    }
    for (i, run) in latest {
        match run.status {
            NodeRunStatus::Succeeded => {
                out.states[i] = NodeState::Done {
                    output: run.output.unwrap_or(Value::Null),
                    port: run.port,
                }
            }
            NodeRunStatus::Skipped => out.states[i] = NodeState::Skipped,
            NodeRunStatus::Waiting => match wait::due_of(&run) {
                Some(until) => {
                    out.states[i] = NodeState::Parked { until };
                    out.parked.insert(i, run);
                }
                None => out.next_attempt[i] = run.attempt + 1,
            },
            NodeRunStatus::Running => {
                out.next_attempt[i] = run.attempt + 1;
                out.interrupted.push(run);
            }
            NodeRunStatus::Interrupted | NodeRunStatus::Failed => {
                out.next_attempt[i] = run.attempt + 1
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use flowork_model::workflow::{Catalog, WorkflowDoc, compile};
    use flowork_model::{ExecutionId, Timestamp};
    use serde_json::json;

    use super::*;

    fn run(node: &str, attempt: u32, status: NodeRunStatus, output: Option<Value>) -> NodeRun {
        NodeRun {
            execution_id: ExecutionId::new(),
            node_id: node.into(),
            attempt,
            status,
            input: json!({}),
            output,
            port: None,
            error: None,
            gas: 0,
            started_at: Timestamp(1),
            finished_at: None,
        }
    }

    #[test]
    fn crashes_are_new_attempts_but_not_failures_and_waits_stay_parked() {
        let doc = json!({"name": "r", "nodes": [
            {"id": "a", "type": "core.set", "params": {"value": "1"}},
            {"id": "b", "type": "core.set", "params": {"value": "2"}},
            {"id": "w", "type": "core.wait", "params": {"duration_ms": 10}}],
          "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "w"}]});
        let doc = WorkflowDoc::from_value(doc).expect("doc");
        let wf = compile(doc, &Catalog::builtin()).expect("valid");
        let r = restore(
            &wf,
            vec![
                run("a", 1, NodeRunStatus::Succeeded, Some(json!(1))),
                run("b", 1, NodeRunStatus::Failed, None),
                run("b", 2, NodeRunStatus::Running, None),
                run("w", 1, NodeRunStatus::Waiting, Some(json!({"until": 99}))),
                run("gone", 1, NodeRunStatus::Failed, None),
            ],
        );
        assert_eq!(
            r.states[0],
            NodeState::Done {
                output: json!(1),
                port: None
            }
        );
        assert_eq!(
            (r.states[1].clone(), r.next_attempt[1], r.failures[1]),
            (NodeState::Pending, 3, 1)
        );
        assert_eq!(
            r.states[2],
            NodeState::Parked {
                until: Timestamp(99)
            }
        );
        assert!(r.parked.contains_key(&2));
    }
}
