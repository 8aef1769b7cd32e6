//! Node behaviour: one [`NodeHandler`] per node type, looked up by type name.

mod core;
mod http;
mod subworkflow;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use flowork_expr::Context;
use flowork_model::workflow::{CompiledNode, Param};
use flowork_model::{ExecutionId, WorkflowId};
use flowork_storage::Execution;
use flowork_vault::Vault;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What a node run sees.
pub struct NodeContext {
    /// The node's input: its live parent's output, or an object keyed by parent id.
    pub input: Value,
    /// Live parents' outputs in edge order, for handlers that ask for them
    /// ([`NodeHandler::wants_parents`], as `core.merge` does); empty for the others.
    pub parents: Vec<(String, Value)>,
    /// `{input, nodes, trigger, execution, env}`, converted once for every expression.
    pub scope: Context,
    /// Cancelled when the execution is cancelled or times out.
    pub cancel: CancellationToken,
    /// The credentials vault, when the engine has one (nodes reveal secrets by name from it).
    pub vault: Option<Arc<Vault>>,
    /// The execution this node runs in.
    pub execution: ExecutionId,
    /// This run's attempt number (1 for the first).
    pub attempt: u32,
    /// `<execution>:<node>:<n>` for the n-th try of this node, where a try cut short by a crash
    /// and resumed keeps its number: key side effects by it to do them once per try.
    pub idempotency_key: String,
    /// How to start other executions, when the engine runs under a [`crate::Runner`].
    pub executions: Option<Arc<dyn Executions>>,
}

/// Starting and awaiting other executions from a node (`core.subworkflow`). The runner
/// implements it; the engine hands it to nodes, holding it weakly (the runner owns the engine).
#[async_trait]
pub trait Executions: Send + Sync {
    /// Starts the child execution of one node attempt, or returns the one already started for
    /// it (so resuming after a crash does not start a second).
    async fn start_child(&self, child: ChildRequest) -> Result<Execution, NodeError>;
    /// Waits until an execution has finished (succeeded, failed, cancelled...).
    async fn finished(&self, id: ExecutionId) -> Result<Execution, NodeError>;
    /// Cancels an execution (a child whose parent was cancelled).
    async fn cancel(&self, id: ExecutionId) -> Result<Execution, NodeError>;
}

/// A child execution to start: `workflow_id`'s head version, with `input`.
#[derive(Debug, Clone)]
pub struct ChildRequest {
    pub parent: ExecutionId,
    /// Names this child among all others: the starting node's idempotency key.
    pub key: String,
    pub workflow_id: WorkflowId,
    pub input: Value,
}

/// What a node produced.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeOutput {
    pub value: Value,
    /// The output port taken, for nodes that have several.
    pub port: Option<String>,
}

impl NodeOutput {
    /// An output on the node's only port.
    pub fn main(value: Value) -> Self {
        Self { value, port: None }
    }
}

/// Why a node run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeError {
    /// May succeed on retry (network, timeouts, runtime errors).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (`core.fail`, a missing implementation).
    #[error("{0}")]
    Fatal(String),
}

impl NodeError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// The behaviour of one node type.
#[async_trait]
pub trait NodeHandler: Send + Sync {
    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError>;

    /// Whether a run of this node touches nothing outside the execution (no calls, messages,
    /// child executions or clocks to wait on): it only computes its output from its scope.
    ///
    /// The engine checkpoints the attempt of every other node (a `running` record) before it
    /// starts, so a crash in the middle of one always shows the interrupted attempt. A pure node
    /// is only checkpointed as running if it still is after
    /// [`RUNNING_CHECKPOINT_AFTER`](crate::engine::RUNNING_CHECKPOINT_AFTER): most finish in
    /// microseconds, and one write instead of two is what makes chains of them cheap. The
    /// default is `false` (checkpoint first), right for anything with side effects.
    fn pure(&self) -> bool {
        false
    }

    /// Whether the node reads [`NodeContext::parents`] (each live parent's output apart, as
    /// `core.merge` does). Filled only for those: outputs are deep values, and copying them for
    /// every node cost every execution. Default `false`.
    fn wants_parents(&self) -> bool {
        false
    }
}

/// Handlers by node type.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn NodeHandler>>,
}

impl Registry {
    /// The built-in nodes this engine implements.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        core::register(&mut r);
        http::register(&mut r);
        subworkflow::register(&mut r);
        r
    }

    /// Adds (or replaces) the handler of a node type.
    pub fn register(&mut self, kind: &str, handler: Arc<dyn NodeHandler>) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// The handler of a node type.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn NodeHandler>> {
        self.handlers.get(kind)
    }
}

/// Evaluates a compiled parameter against the node's scope.
pub fn eval(param: &Param, scope: &Context) -> Result<Value, NodeError> {
    let runtime = |e: flowork_expr::ExprError| NodeError::Retryable(e.to_string());
    match param {
        Param::Literal(v) => Ok(v.clone()),
        Param::Expr(p) => p.run_ctx(scope).map_err(runtime),
        Param::Template(t) => t.render_ctx(scope).map_err(runtime),
        Param::TemplateMap(parts) => {
            let mut out = serde_json::Map::new();
            for (k, t) in parts {
                let v = t.render_ctx(scope).map_err(runtime)?;
                out.insert(k.clone(), v);
            }
            Ok(Value::Object(out))
        }
        Param::List(_) => Err(NodeError::Fatal(
            "a list parameter has no single value".into(),
        )),
    }
}

/// jq truthiness: everything but `false` and `null` is true.
pub fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}
