//! Replay ("time-travel"): run an execution again from any node, with the recorded inputs.
//!
//! The new execution gets copies of the old one's checkpoints for every node that is not
//! downstream of the chosen node, so the engine resumes right there: the chosen node and its
//! descendants run again, fed by the recorded outputs of their parents. Edited parameters are
//! saved as a new workflow version first, so the history stays provable; an engine that
//! requires signed versions refuses such a replay (it cannot sign for the author), and a replay
//! without edits runs the recorded version.

use std::collections::{BTreeMap, HashMap};

use flowork_model::workflow::CompiledWorkflow;
use flowork_model::{ExecutionId, NodeRunStatus};
use flowork_storage::{Execution, NodeRun, StorageError};
use serde_json::Value;

use crate::runner::{Runner, StartRequest};
use crate::versions::{VersionError, VersionPolicy};

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayRequest {
    /// The node to run again (with everything downstream of it).
    pub from: String,
    /// New parameters by node id, merged over the recorded version's.
    pub params: BTreeMap<String, serde_json::Map<String, Value>>,
}

/// Starts the replay; the new execution's `parent_id` is the old one.
pub async fn replay(
    runner: &Runner,
    policy: &VersionPolicy,
    old: ExecutionId,
    req: ReplayRequest,
) -> Result<Execution, VersionError> {
    let engine = runner.engine();
    let store = engine.store();
    let prev = store.get_execution(old).await?;
    let mut version = prev.version;
    let wf = engine.compiled(prev.workflow_id, version).await?;
    let Some(from) = wf.index_of(&req.from) else {
        return Err(StorageError::Invalid(format!(
            "from: no node {:?} in this workflow",
            req.from
        ))
        .into());
    };
    if !req.params.is_empty() {
        let mut doc = wf.doc.clone();
        for (node, params) in &req.params {
            let Some(n) = doc.nodes.iter_mut().find(|n| &n.id == node) else {
                return Err(StorageError::Invalid(format!(
                    "params: no node {node:?} in this workflow"
                ))
                .into());
            };
            n.params.extend(params.clone());
        }
        version = crate::versions::update(engine, policy, prev.workflow_id, doc, None)
            .await?
            .0
            .head_version;
    }
    let rerun = downstream(&wf, from);
    let mut latest: HashMap<String, NodeRun> = HashMap::new();
    for run in store.list_node_runs(old).await? {
        let settled = matches!(
            run.status,
            NodeRunStatus::Succeeded | NodeRunStatus::Skipped
        );
        let node_ok = wf.index_of(&run.node_id).is_some_and(|i| !rerun[i]);
        if settled && node_ok {
            latest.insert(run.node_id.clone(), run);
        }
    }
    let req = StartRequest {
        workflow_id: prev.workflow_id,
        version,
        trigger: prev.trigger.clone(),
        input: prev.input.clone(),
        parent_id: Some(old),
    };
    let checkpoints: Vec<NodeRun> = latest
        .into_values()
        .map(|r| NodeRun { attempt: 1, ..r })
        .collect();
    Ok(runner.start_with(req, checkpoints).await?)
}

/// Marks `from` and every node reachable from it.
fn downstream(wf: &CompiledWorkflow, from: usize) -> Vec<bool> {
    let mut mark = vec![false; wf.nodes.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut mark[i], true) {
            stack.extend(wf.graph.children[i].iter().map(|l| l.node));
        }
    }
    mark
}
