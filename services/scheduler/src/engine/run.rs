//! Driving one execution: start ready nodes concurrently, checkpoint, move on, finish.
//!
//! An execution's nodes are futures polled by the task driving it, not tasks of their own: a
//! task per node cost two thread hand-offs per node (spawn, then join), which dominated a chain
//! of fast nodes. Nodes of one execution still run concurrently (they wait on I/O, timers and
//! checkpoints together); executions run in parallel on the runtime's workers.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use flowork_model::workflow::CompiledWorkflow;
use flowork_model::{ExecutionStatus, Timestamp};
use flowork_storage::{Execution, ExecutionUpdate, NodeRun};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::attempt::{Failure, Ran, Start, run_node, skipped};
use super::restore::{Restored, restore};
use super::state::{NodeState, Readiness, input_of, readiness};
use super::unsaved::Unsaved;
use super::{Engine, EngineError, Outcome, scope, wait};
use crate::events::{Event, EventKind};
use crate::nodes::{NodeContext, NodeOutput};

type Finished = (usize, Result<Ran, Failure>);
/// The nodes in flight; a node that panics is caught and fails like a crashed task did.
type Tasks = FuturesUnordered<BoxFuture<'static, std::thread::Result<Finished>>>;

/// The state of one execution being driven by this worker.
pub(crate) struct Run {
    pub(super) engine: Engine,
    pub(super) wf: Arc<CompiledWorkflow>,
    pub(super) exec: Execution,
    cancel: CancellationToken,
    pub(super) states: Vec<NodeState>,
    /// The attempt number each node starts at (past 1 when resuming).
    pub(super) next_attempt: Vec<u32>,
    /// How many attempts of each node failed already (interrupted ones are not failures).
    failures: Vec<u32>,
    /// The checkpoints of parked `core.wait` nodes, by node index.
    pub(super) parked: HashMap<usize, NodeRun>,
    /// The root node that receives the execution's input; other trigger roots are skipped.
    start: Vec<bool>,
    /// The node that finished last, and the `core.respond` node that did (their outputs are the
    /// execution's; kept as indices into `states`, not as copies of the outputs).
    last_output: Option<usize>,
    response: Option<usize>,
    /// Records of pure nodes not written yet (see `engine::unsaved`).
    pub(super) unsaved: Unsaved,
}

impl Run {
    /// Prepares a run, restoring whatever checkpoints the execution already has (`fresh`: it
    /// was just created here and has none, so there is nothing to read).
    pub(crate) async fn new(
        engine: Engine,
        wf: Arc<CompiledWorkflow>,
        exec: Execution,
        cancel: CancellationToken,
        fresh: bool,
    ) -> Result<Self, EngineError> {
        let runs = if fresh {
            Vec::new()
        } else {
            engine.store().list_node_runs(exec.id).await?
        };
        let Restored {
            states,
            next_attempt,
            failures,
            parked,
            interrupted,
        } = restore(&wf, runs);
        // History should say what happened to an attempt a stopped worker left `running`.
        for mut run in interrupted {
            run.status = flowork_model::NodeRunStatus::Interrupted;
            run.finished_at = Some(flowork_model::Timestamp::now());
            run.error = Some(format!(
                "interrupted: the worker stopped during this attempt; it runs again as attempt {}",
                run.attempt + 1
            ));
            engine.store().put_node_run(run).await?;
        }
        let start = start_nodes(&wf, &exec.trigger);
        Ok(Self {
            engine,
            wf,
            exec,
            cancel,
            states,
            next_attempt,
            failures,
            parked,
            start,
            last_output: None,
            response: None,
            unsaved: Unsaved::default(),
        })
    }

    /// Runs to the end, or until only parked waits are left, and records that on the execution.
    pub(crate) async fn drive(mut self) -> Result<Outcome, EngineError> {
        let store = self.engine.store().clone();
        // Created running when this process started it at once (NewExecution::started).
        if self.exec.status != ExecutionStatus::Running {
            let running = ExecutionUpdate {
                status: ExecutionStatus::Running,
                output: None,
                error: None,
            };
            self.exec = store.update_execution(self.exec.id, running).await?;
        }
        let outcome = match self.wf.timeout() {
            Some(limit) => match tokio::time::timeout(limit, self.advance()).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Node(crate::nodes::NodeError::Fatal(format!(
                    "the workflow timed out after {} ms",
                    limit.as_millis()
                )))),
            },
            None => self.advance().await,
        };
        let update = match outcome {
            Ok(Some(until)) => {
                let waiting = ExecutionUpdate {
                    status: ExecutionStatus::Waiting,
                    output: None,
                    error: None,
                };
                let execution = self.settle(waiting).await?;
                self.emit_finished(&execution);
                return Ok(Outcome::Parked { execution, until });
            }
            Ok(None) => ExecutionUpdate {
                status: ExecutionStatus::Succeeded,
                output: self.output(),
                error: None,
            },
            Err(Failure::Cancelled) => ExecutionUpdate {
                status: ExecutionStatus::Cancelled,
                output: None,
                error: Some("cancelled".into()),
            },
            Err(Failure::Node(e)) => ExecutionUpdate {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(e.to_string()),
            },
            Err(Failure::Storage(e)) => return Err(e.into()),
        };
        let finished = self.settle(update).await?;
        self.emit_finished(&finished);
        Ok(Outcome::Finished(finished))
    }

    /// Records `update` on the execution, with the records still unsaved, in one write. If the
    /// execution was ended elsewhere meanwhile (cancelled from another process), the records are
    /// kept all the same, for history.
    async fn settle(&mut self, update: ExecutionUpdate) -> Result<Execution, EngineError> {
        let store = self.engine.store();
        let runs = self.unsaved.take();
        let kept = runs.clone();
        match store
            .update_execution_with(self.exec.id, update, runs)
            .await
        {
            Err(e @ flowork_storage::StorageError::Conflict(_)) => {
                if let Err(e) = store.put_node_runs(kept).await {
                    tracing::warn!(execution = %self.exec.id, error = %e, "could not keep the last node records");
                }
                Err(e.into())
            }
            r => Ok(r?),
        }
    }

    /// Writes the records still unsaved, if any.
    pub(super) async fn flush(&mut self) -> Result<(), Failure> {
        let runs = self.unsaved.take();
        if runs.is_empty() {
            return Ok(());
        }
        self.engine
            .store()
            .put_node_runs(runs)
            .await
            .map_err(Failure::Storage)
    }

    fn emit(&self, kind: EventKind, node: Option<usize>, data: Value) {
        self.engine.inner.events.emit(|| Event {
            execution_id: self.exec.id,
            workflow_id: self.exec.workflow_id,
            kind,
            node_id: node.map(|i| self.wf.nodes[i].id.clone()),
            data,
            at: Timestamp::now(),
        });
    }

    fn emit_finished(&self, exec: &Execution) {
        let data = json!({ "status": exec.status, "error": exec.error });
        self.emit(EventKind::ExecutionFinished, None, data);
    }

    /// Starts every node whose parents are settled, until none is left. Branches still running
    /// when a wait parks are let finish (and checkpoint) first; then, if waits are still parked,
    /// returns the earliest time one is due.
    async fn advance(&mut self) -> Result<Option<Timestamp>, Failure> {
        let mut tasks = Tasks::new();
        let inflight = self.cancel.child_token();
        self.schedule(&mut tasks, &inflight).await?;
        while let Some(joined) = tasks.next().await {
            let (i, result) = joined.map_err(|e| {
                let why = e
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Failure::Node(crate::nodes::NodeError::Fatal(format!(
                    "node task failed: panicked: {why}"
                )))
            })?;
            match result {
                Ok(Ran { out, unsaved }) => {
                    self.emit(
                        EventKind::NodeFinished,
                        Some(i),
                        json!({ "port": out.port }),
                    );
                    if let Some(run) = unsaved {
                        self.unsaved.push(run);
                    }
                    self.finish(i, out);
                }
                Err(failure) => {
                    if let Failure::Node(e) = &failure {
                        let data = json!({ "error": e.to_string() });
                        self.emit(EventKind::NodeFailed, Some(i), data);
                    }
                    // Stop the other branches; their checkpoints stay for a later replay.
                    inflight.cancel();
                    while tasks.next().await.is_some() {}
                    return Err(match failure {
                        Failure::Node(e) => Failure::Node(crate::nodes::NodeError::Fatal(format!(
                            "node {:?} failed: {e}",
                            self.wf.nodes[i].id
                        ))),
                        other => other,
                    });
                }
            }
            if self.unsaved.due() {
                self.flush().await?;
            }
            self.schedule(&mut tasks, &inflight).await?;
        }
        Ok(self.states.iter().filter_map(NodeState::parked_until).min())
    }

    pub(super) fn finish(&mut self, i: usize, out: NodeOutput) {
        if self.wf.nodes[i].kind == "core.respond" {
            self.response = Some(i);
        }
        self.last_output = Some(i);
        self.states[i] = NodeState::Done {
            output: out.value,
            port: out.port,
        };
    }

    /// The execution's output: the `core.respond` node's, else the last finished node's.
    fn output(&self) -> Option<Value> {
        let i = self.response.or(self.last_output)?;
        match &self.states[i] {
            NodeState::Done { output, .. } => Some(output.clone()),
            _ => None,
        }
    }

    /// One pass in topological order settles every skip cascade, since parents come first.
    async fn schedule(
        &mut self,
        tasks: &mut Tasks,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        let wf = self.wf.clone();
        for &i in &wf.graph.order {
            if let NodeState::Parked { until } = self.states[i] {
                if until <= Timestamp::now() {
                    self.complete_wait(i).await?;
                }
                continue;
            }
            if self.states[i] != NodeState::Pending {
                continue;
            }
            let live = if wf.graph.parents[i].is_empty() {
                if self.start[i] {
                    Readiness::Run(Vec::new())
                } else {
                    Readiness::Skip
                }
            } else {
                readiness(&wf, &self.states, i)
            };
            match live {
                Readiness::Waiting => {}
                Readiness::Skip => {
                    // A skip is bookkeeping with no effect: it rides like a pure node's record.
                    self.unsaved.push(skipped(self.exec.id, &wf.nodes[i]));
                    self.states[i] = NodeState::Skipped;
                }
                Readiness::Run(live) if wf.nodes[i].kind == wait::KIND => {
                    self.start_wait(i, live).await?;
                }
                Readiness::Run(live) => {
                    if !self.is_pure(i) {
                        // What it was built on is durable before it can touch the world.
                        self.flush().await?;
                    }
                    self.spawn(tasks, cancel, i, live);
                }
            }
        }
        Ok(())
    }

    fn spawn(
        &mut self,
        tasks: &mut Tasks,
        cancel: &CancellationToken,
        i: usize,
        live: Vec<(usize, Value)>,
    ) {
        let wf = &self.wf;
        let handler = self.engine.inner.nodes.get(&wf.nodes[i].kind).cloned();
        // Copied only for the nodes that read them (core.merge): outputs are deep values.
        let parents = match &handler {
            Some(h) if h.wants_parents() => live
                .iter()
                .map(|(p, v)| (wf.nodes[*p].id.clone(), v.clone()))
                .collect(),
            _ => Vec::new(),
        };
        let input = self.input(live);
        let node = &wf.nodes[i];
        let cx = NodeContext {
            scope: scope::build(
                wf,
                node,
                &self.states,
                &input,
                self.trigger_output(),
                &self.exec,
            ),
            parents,
            input,
            cancel: cancel.clone(),
            vault: self.engine.inner.vault.clone(),
            execution: self.exec.id,
            attempt: self.next_attempt[i],
            idempotency_key: String::new(),
            executions: self.engine.executions(),
        };
        let first = Start {
            attempt: self.next_attempt[i],
            failures: self.failures[i],
        };
        let (store, wf, exec) = (self.engine.store().clone(), wf.clone(), self.exec.id);
        self.states[i] = NodeState::Running;
        self.emit(
            EventKind::NodeStarted,
            Some(i),
            json!({ "attempt": first.attempt }),
        );
        let node = async move {
            (
                i,
                run_node(store, handler, exec, &wf.nodes[i], cx, first).await,
            )
        };
        tasks.push(AssertUnwindSafe(node).catch_unwind().boxed());
    }

    /// Whether node `i` has no effect outside the execution (see `NodeHandler::pure`).
    fn is_pure(&self, i: usize) -> bool {
        let handler = self.engine.inner.nodes.get(&self.wf.nodes[i].kind);
        handler.is_none_or(|h| h.pure())
    }

    /// A node's input from its live parents (the execution's input for a root).
    pub(super) fn input(&self, live: Vec<(usize, Value)>) -> Value {
        if live.is_empty() {
            self.exec.input.clone()
        } else {
            input_of(&self.wf, live)
        }
    }

    /// The output of the trigger that started the execution (its input, when none ran yet).
    fn trigger_output(&self) -> &Value {
        self.wf
            .nodes
            .iter()
            .zip(&self.states)
            .find_map(|(n, s)| match s {
                NodeState::Done { output, .. } if n.trigger => Some(output),
                _ => None,
            })
            .unwrap_or(&self.exec.input)
    }
}

/// Which roots receive the input: the root named by the execution's `trigger`, if it names one;
/// else every `trigger.manual` and every non-trigger root (a run from the API).
fn start_nodes(wf: &CompiledWorkflow, trigger: &str) -> Vec<bool> {
    let named = wf
        .index_of(trigger)
        .filter(|i| wf.graph.parents[*i].is_empty());
    (0..wf.nodes.len())
        .map(|i| match named {
            Some(n) => i == n,
            None => {
                let node = &wf.nodes[i];
                wf.graph.parents[i].is_empty() && (!node.trigger || node.kind == "trigger.manual")
            }
        })
        .collect()
}
