//! One node of one execution: its attempts, each checkpointed when it ends (and while it runs,
//! if it runs long enough to matter).

use std::sync::Arc;
use std::time::Duration;

use flowork_model::workflow::CompiledNode;
use flowork_model::{ExecutionId, NodeRunStatus, Timestamp};
use flowork_storage::{NodeRun, StorageError, Store};
use serde_json::Value;

use crate::nodes::{NodeContext, NodeError, NodeHandler, NodeOutput};

/// How a node ended when it did not produce an output.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The node failed for good (retries used up, or not retryable).
    Node(NodeError),
    /// The execution was cancelled while the node ran.
    Cancelled,
    /// A checkpoint could not be written; the execution can't go on durably.
    Storage(StorageError),
}

/// Where a node's attempts start: past 1 when resuming an execution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    /// The number of the next node run record.
    pub(crate) attempt: u32,
    /// How many earlier attempts failed. An attempt cut short by a crash is not one: the next
    /// run continues it, with the same idempotency key, so its side effects are not redone.
    pub(crate) failures: u32,
}

/// A node that succeeded.
pub(crate) struct Ran {
    pub(crate) out: NodeOutput,
    /// Its `succeeded` record, when the node is [pure](NodeHandler::pure) and the caller writes
    /// it later (see `Run::defer`); `None` when it is written already.
    pub(crate) unsaved: Option<NodeRun>,
}

/// Runs `node` until it succeeds or has no attempts left, starting at `start`.
pub(crate) async fn run_node(
    store: Arc<dyn Store>,
    handler: Option<Arc<dyn NodeHandler>>,
    exec: ExecutionId,
    node: &CompiledNode,
    mut cx: NodeContext,
    start: Start,
) -> Result<Ran, Failure> {
    let first = start.attempt;
    let mut failures = start.failures;
    // A resumed node gets at least one attempt: a crash mid-run is not the node's failure.
    let last = node.retry.max_attempts.max(first);
    let mut attempt = first;
    // No handler: the attempt fails at once, touching nothing.
    let pure = handler.as_ref().is_none_or(|h| h.pure());
    loop {
        cx.attempt = attempt;
        cx.idempotency_key = format!("{exec}:{}:{}", node.id, failures + 1);
        let started_at = Timestamp::now();
        let mut run = NodeRun {
            execution_id: exec,
            node_id: node.id.clone(),
            attempt,
            status: NodeRunStatus::Running,
            input: cx.input.clone(),
            output: None,
            port: None,
            error: None,
            gas: 0,
            started_at,
            finished_at: None,
        };
        // A node with side effects is recorded as running before it starts, so a crash shows
        // the attempt it interrupted; a pure one only if it runs long (see NodeHandler::pure).
        if !pure {
            store
                .put_node_run(run.clone())
                .await
                .map_err(Failure::Storage)?;
        }
        let running = call(handler.as_deref(), node, &cx);
        let result = tokio::select! {
            () = cx.cancel.cancelled() => return Err(Failure::Cancelled),
            r = checkpointed(&store, &run, running, pure) => r.map_err(Failure::Storage)?,
        };
        run.finished_at = Some(Timestamp::now());
        match result {
            Ok(out) => {
                run.status = NodeRunStatus::Succeeded;
                run.output = Some(out.value.clone());
                run.port = out.port.clone();
                if pure {
                    // Nothing outside the execution saw it: its record may ride with a later write.
                    return Ok(Ran {
                        out,
                        unsaved: Some(run),
                    });
                }
                store.put_node_run(run).await.map_err(Failure::Storage)?;
                return Ok(Ran { out, unsaved: None });
            }
            Err(e) => {
                run.status = NodeRunStatus::Failed;
                run.error = Some(e.to_string());
                store.put_node_run(run).await.map_err(Failure::Storage)?;
                if !e.is_retryable() || attempt >= last {
                    return Err(Failure::Node(e));
                }
                tracing::debug!(node = %node.id, attempt, error = %e, "node failed; retrying");
                tokio::select! {
                    () = cx.cancel.cancelled() => return Err(Failure::Cancelled),
                    () = tokio::time::sleep(backoff(node, attempt - first + 1)) => {}
                }
                attempt += 1;
                failures += 1;
            }
        }
    }
}

/// How long an attempt of a [pure](NodeHandler::pure) node runs before its `running` record is
/// checkpointed.
///
/// Pure nodes (`core.set`, `core.if`, ...) finish in microseconds and touch nothing outside the
/// execution: writing a `running` record before them and a `succeeded` one after doubled the
/// writes of a fast workflow. One that runs this long (a heavy expression) is still recorded as
/// running. A crash inside this window leaves no record of the attempt; the node then runs again
/// under the same attempt number, which is harmless since it had no effect to redo. Nodes with
/// side effects (HTTP calls, sub-workflows, anything not pure) are always recorded first.
pub const RUNNING_CHECKPOINT_AFTER: Duration = Duration::from_millis(20);

/// Drives `attempt`. If `defer`, and it is still running after [`RUNNING_CHECKPOINT_AFTER`],
/// writes the `running` record `run` meanwhile (the attempt goes on while it is written); returns
/// only once that write is done, so a later record of the same attempt can never be overtaken by
/// it.
async fn checkpointed<F, T>(
    store: &Arc<dyn Store>,
    run: &NodeRun,
    attempt: F,
    defer: bool,
) -> Result<T, StorageError>
where
    F: Future<Output = T>,
{
    if !defer {
        return Ok(attempt.await);
    }
    tokio::pin!(attempt);
    tokio::select! {
        biased;
        out = &mut attempt => return Ok(out),
        () = tokio::time::sleep(RUNNING_CHECKPOINT_AFTER) => {}
    }
    let (written, out) = tokio::join!(store.put_node_run(run.clone()), attempt);
    written?;
    Ok(out)
}

async fn call(
    handler: Option<&dyn NodeHandler>,
    node: &CompiledNode,
    cx: &NodeContext,
) -> Result<NodeOutput, NodeError> {
    let Some(handler) = handler else {
        return Err(NodeError::Fatal(format!(
            "{} is not implemented in this engine yet",
            node.kind
        )));
    };
    let out = match node.timeout {
        Some(limit) => tokio::time::timeout(limit, handler.run(node, cx))
            .await
            .unwrap_or_else(|_| {
                Err(NodeError::Retryable(format!(
                    "timed out after {} ms",
                    limit.as_millis()
                )))
            }),
        None => handler.run(node, cx).await,
    }?;
    check_size(&out.value)?;
    Ok(out)
}

/// The largest output a node may produce. It is checkpointed whole, fed to the next node and kept
/// in history, so a bigger one fails the node loudly instead of being truncated.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

fn check_size(value: &serde_json::Value) -> Result<(), NodeError> {
    // Counting through a writer that keeps nothing: no second copy of a big output.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_OUTPUT_BYTES {
                return Err(std::io::Error::other("too big"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => Ok(()),
        Err(_) => Err(NodeError::Fatal(format!(
            "the node's output is larger than {MAX_OUTPUT_BYTES} bytes (the limit for one node \
             output); reduce it, e.g. with a core.set that keeps only what later nodes need"
        ))),
    }
}

/// Exponential: `backoff_ms * 2^(n-1)`, capped at `max_backoff_ms`.
fn backoff(node: &CompiledNode, failures: u32) -> Duration {
    let factor = 2u64.saturating_pow(failures.saturating_sub(1));
    let ms = node
        .retry
        .backoff_ms
        .saturating_mul(factor)
        .min(node.retry.max_backoff_ms);
    Duration::from_millis(ms)
}

/// The record of a node skipped on a branch not taken.
pub(crate) fn skipped(exec: ExecutionId, node: &CompiledNode) -> NodeRun {
    let now = Timestamp::now();
    NodeRun {
        execution_id: exec,
        node_id: node.id.clone(),
        attempt: 1,
        status: NodeRunStatus::Skipped,
        input: Value::Null,
        output: None,
        port: None,
        error: None,
        gas: 0,
        started_at: now,
        finished_at: Some(now),
    }
}
