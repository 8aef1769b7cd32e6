//! `core.wait`, handled by the engine itself: a durable pause that holds no worker while it lasts.
//!
//! A wait cannot be a handler that sleeps: the sleep would die with its process and hold a worker
//! slot and a queue lease for as long as it lasts. Instead, when a wait node's turn comes the
//! engine checkpoints a `waiting` node run whose output records when it is due
//! (`{"until": <ms>, "until_rfc3339": ...}`). Once nothing else can run, the execution parks
//! (status `waiting`) and the runner hands the job back to the queue with the remaining delay.
//! Whoever pulls it later (this process or another, after a restart) reloads the checkpoints: a
//! wait that is due completes with its input as output, one that is not parks again.
//!
//! Branches still running when a wait parks are let finish and checkpoint first (cancelling them
//! would redo their work); the execution parks once nothing but waits is left. A workflow's
//! `timeout_ms` counts time spent running, not time parked.

use std::time::Duration;

use flowork_model::workflow::{CompiledNode, Param};
use flowork_model::{ExecutionId, NodeRunStatus, Timestamp};
use flowork_storage::NodeRun;
use serde_json::{Value, json};

use super::attempt::Failure;
use super::run::Run;
use super::state::NodeState;
use crate::nodes::{NodeError, NodeOutput};

/// The node type the engine runs itself.
pub(crate) const KIND: &str = "core.wait";

/// When a wait starting `now` is due.
pub(crate) fn due(node: &CompiledNode, now: Timestamp) -> Result<Timestamp, NodeError> {
    match node.params.get("duration_ms") {
        Some(Param::Literal(v)) => v
            .as_u64()
            .map(|ms| now.after(Duration::from_millis(ms)))
            .ok_or_else(|| NodeError::Fatal(format!("core.wait: duration_ms {v} is not a count"))),
        _ => Err(NodeError::Fatal(
            "core.wait: duration_ms must be a number of milliseconds".into(),
        )),
    }
}

/// The checkpoint of a wait that is parked until `until`.
pub(crate) fn parked(
    exec: ExecutionId,
    node: &CompiledNode,
    attempt: u32,
    input: Value,
    until: Timestamp,
) -> NodeRun {
    NodeRun {
        execution_id: exec,
        node_id: node.id.clone(),
        attempt,
        status: NodeRunStatus::Waiting,
        input,
        output: Some(json!({"until": until.millis(), "until_rfc3339": until.to_rfc3339()})),
        port: None,
        error: None,
        gas: 0,
        started_at: Timestamp::now(),
        finished_at: None,
    }
}

/// When a parked checkpoint is due; `None` if it does not say (a record this engine did not write).
pub(crate) fn due_of(run: &NodeRun) -> Option<Timestamp> {
    let until = run.output.as_ref()?.get("until")?.as_i64()?;
    Some(Timestamp(until))
}

/// The checkpoint of a wait that is over: the same attempt, its input passed on as its output.
pub(crate) fn completed(mut run: NodeRun) -> NodeRun {
    run.status = NodeRunStatus::Succeeded;
    run.output = Some(run.input.clone());
    run.finished_at = Some(Timestamp::now());
    run
}

impl Run {
    /// Checkpoints a wait node whose parents are settled as parked (or done, if already due).
    pub(super) async fn start_wait(
        &mut self,
        i: usize,
        live: Vec<(usize, Value)>,
    ) -> Result<(), Failure> {
        let node = &self.wf.nodes[i];
        let until = due(node, Timestamp::now()).map_err(|e| {
            Failure::Node(NodeError::Fatal(format!("node {:?} failed: {e}", node.id)))
        })?;
        let run = parked(
            self.exec.id,
            node,
            self.next_attempt[i],
            self.input(live),
            until,
        );
        // Parked is durable with everything before it: a restart finds the wait and its inputs.
        self.unsaved.push(run.clone());
        self.flush().await?;
        self.states[i] = NodeState::Parked { until };
        self.parked.insert(i, run);
        if until <= Timestamp::now() {
            self.complete_wait(i).await?;
        }
        Ok(())
    }

    /// Checkpoints a due wait as succeeded, passing its input on.
    pub(super) async fn complete_wait(&mut self, i: usize) -> Result<(), Failure> {
        let Some(run) = self.parked.remove(&i) else {
            return Err(Failure::Node(NodeError::Fatal(format!(
                "node {:?} is parked without a checkpoint",
                self.wf.nodes[i].id
            ))));
        };
        let done = completed(run);
        let output = done.output.clone().unwrap_or(Value::Null);
        // Done is as pure as the nodes that follow: it rides with the next write.
        self.unsaved.push(done);
        self.finish(i, NodeOutput::main(output));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_wait_records_when_it_is_due_and_completes_with_its_input() {
        let node = CompiledNode {
            id: "w".into(),
            kind: KIND.into(),
            trigger: false,
            params: [("duration_ms".to_owned(), Param::Literal(json!(250)))].into(),
            retry: flowork_model::workflow::Retry {
                max_attempts: 1,
                backoff_ms: 0,
                max_backoff_ms: 0,
            },
            timeout: None,
        };
        assert_eq!(due(&node, Timestamp(1_000)).ok(), Some(Timestamp(1_250)));
        let run = parked(
            ExecutionId::new(),
            &node,
            1,
            json!({"a": 1}),
            Timestamp(5_000),
        );
        assert_eq!(run.status, NodeRunStatus::Waiting);
        assert_eq!(due_of(&run), Some(Timestamp(5_000)));
        let done = completed(run);
        assert_eq!(done.status, NodeRunStatus::Succeeded);
        assert_eq!(done.output, Some(json!({"a": 1})));
        assert_eq!(done.attempt, 1);
    }
}
