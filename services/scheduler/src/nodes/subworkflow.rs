//! `core.subworkflow`: runs another workflow's head version as a child execution.
//!
//! The child is started through [`Executions::start_child`], which records it under the node's
//! idempotency key (execution, node, try; a try cut short by a crash keeps its number) so a
//! resumed or redelivered parent finds the child it already started instead of starting another. With `wait: true` the node outputs the child's output (a failed child
//! fails the node retryably, so the node's retry policy decides; a retry is a new attempt and
//! so a new child); with `wait: false` it outputs `{"execution_id": ...}` at once.
//!
//! An awaited child is cancelled when its parent's run is (cancelled, timed out, or stopped by
//! a failing sibling branch), but not when the parent's worker merely shuts down: the resumed
//! parent picks the same child up again.

use std::sync::Arc;

use async_trait::async_trait;
use flowork_model::workflow::{CompiledNode, Param};
use flowork_model::{ExecutionId, ExecutionStatus, WorkflowId};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{
    ChildRequest, Executions, NodeContext, NodeError, NodeHandler, NodeOutput, Registry, eval,
    truthy,
};

pub(super) fn register(r: &mut Registry) {
    r.register("core.subworkflow", Arc::new(Subworkflow));
}

struct Subworkflow;

#[async_trait]
impl NodeHandler for Subworkflow {
    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let Some(executions) = cx.executions.as_ref() else {
            return Err(NodeError::Fatal(
                "core.subworkflow needs an engine running under a runner".into(),
            ));
        };
        let workflow_id = workflow_id(node, cx)?;
        let input = match node.params.get("input") {
            Some(p) => eval(p, &cx.scope)?,
            None => cx.input.clone(),
        };
        let wait = match node.params.get("wait") {
            Some(p) => truthy(&eval(p, &cx.scope)?),
            None => true,
        };
        let child = ChildRequest {
            parent: cx.execution,
            key: cx.idempotency_key.clone(),
            workflow_id,
            input,
        };
        let child = executions.start_child(child).await?;
        if !wait {
            return Ok(NodeOutput::main(
                json!({"execution_id": child.id.to_string()}),
            ));
        }
        let mut guard = CancelChild {
            executions: executions.clone(),
            child: child.id,
            parent: cx.cancel.clone(),
            armed: true,
        };
        let done = executions.finished(child.id).await;
        guard.armed = false;
        let done = done?;
        let error = || {
            done.error
                .clone()
                .unwrap_or_else(|| done.status.to_string())
        };
        match done.status {
            ExecutionStatus::Succeeded => Ok(NodeOutput::main(done.output.unwrap_or(Value::Null))),
            ExecutionStatus::Cancelled => Err(NodeError::Fatal(format!(
                "sub-workflow execution {} was cancelled",
                done.id
            ))),
            _ => Err(NodeError::Retryable(format!(
                "sub-workflow execution {} failed: {}",
                done.id,
                error()
            ))),
        }
    }
}

/// Cancels the awaited child if the node is dropped because its execution was cancelled.
struct CancelChild {
    executions: Arc<dyn Executions>,
    child: ExecutionId,
    parent: CancellationToken,
    /// Cleared once the child finished: dropping the guard then does nothing.
    armed: bool,
}

impl Drop for CancelChild {
    fn drop(&mut self) {
        if !self.armed || !self.parent.is_cancelled() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (executions, child) = (self.executions.clone(), self.child);
        rt.spawn(async move {
            if let Err(e) = executions.cancel(child).await {
                tracing::warn!(execution = %child, error = %e, "could not cancel a sub-workflow");
            }
        });
    }
}

fn workflow_id(node: &CompiledNode, cx: &NodeContext) -> Result<WorkflowId, NodeError> {
    let param = node.params.get("workflow_id").ok_or_else(|| {
        NodeError::Fatal("core.subworkflow: parameter workflow_id missing".into())
    })?;
    let value = match param {
        Param::Literal(v) => v.clone(),
        other => eval(other, &cx.scope)?,
    };
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NodeError::Fatal(format!("core.subworkflow: {value} is not a workflow id")))
}
