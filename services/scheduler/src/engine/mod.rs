//! The executor: runs (or resumes) one execution of a workflow version.
//!
//! Each node run is checkpointed through the store before its dependants start, so a worker that
//! dies leaves a record another worker resumes from; nodes that succeeded never run again.
//! `core.wait` is the engine's own node ([`wait`]): it parks the execution instead of sleeping.

mod attempt;
pub use attempt::RUNNING_CHECKPOINT_AFTER;
mod restore;
mod run;
mod scope;
mod state;
mod unsaved;
pub use unsaved::FLUSH_AFTER;
mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use flowork_model::workflow::{Catalog, CompiledWorkflow, ValidationErrors, WorkflowDoc, compile};
use flowork_model::{ExecutionId, Timestamp, WorkflowId};
use flowork_storage::{Execution, StorageError, Store};
use flowork_vault::Vault;
use tokio_util::sync::CancellationToken;

use crate::events::Events;
use crate::nodes::{Executions, Registry};

/// Why the engine could not run an execution (a node failing is not one: that is a result).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored version does not hold a valid workflow.
    #[error("workflow {workflow} version {version} is invalid: {errors}")]
    Invalid {
        workflow: WorkflowId,
        version: u32,
        errors: ValidationErrors,
    },
    /// The execution already finished.
    #[error("execution {0} already finished")]
    Finished(ExecutionId),
    /// The work queue refused the job.
    #[error("queue: {0}")]
    Queue(String),
    /// The task driving the execution died (a panic outside any node).
    #[error("the task running execution {0} failed: {1}")]
    Task(ExecutionId, String),
}

/// How far one drive of an execution got.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It finished (succeeded, failed or was cancelled).
    Finished(Execution),
    /// It is `waiting` on `core.wait` nodes; run it again at `until` (not before: it would just
    /// park again).
    Parked {
        execution: Execution,
        until: Timestamp,
    },
}

impl Outcome {
    /// The execution as the drive left it.
    pub fn into_execution(self) -> Execution {
        match self {
            Self::Finished(e) | Self::Parked { execution: e, .. } => e,
        }
    }
}

/// Runs executions against a store. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    catalog: Catalog,
    nodes: Registry,
    vault: Option<Arc<Vault>>,
    /// Set once by the runner built over this engine (a weak link back to it).
    executions: OnceLock<Arc<dyn Executions>>,
    // Versions are immutable, so a compiled version never goes stale.
    compiled: Mutex<HashMap<(WorkflowId, u32), Arc<CompiledWorkflow>>>,
    events: Events,
}

impl Engine {
    /// An engine with the built-in nodes.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_nodes(store, Catalog::builtin(), Registry::builtin())
    }

    /// An engine with extra node types (their specs in `catalog`, their behaviour in `nodes`).
    pub fn with_nodes(store: Arc<dyn Store>, catalog: Catalog, nodes: Registry) -> Self {
        let compiled = Mutex::new(HashMap::new());
        let inner = Inner {
            store,
            catalog,
            nodes,
            vault: None,
            executions: OnceLock::new(),
            compiled,
            events: Events::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same engine, with a vault for nodes that use credentials.
    pub fn with_vault(self, vault: Arc<Vault>) -> Self {
        let inner = Inner {
            store: self.inner.store.clone(),
            catalog: self.inner.catalog.clone(),
            nodes: self.inner.nodes.clone(),
            vault: Some(vault),
            executions: OnceLock::new(),
            compiled: Mutex::new(HashMap::new()),
            events: self.inner.events.clone(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The store executions are checkpointed in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The credentials vault, when the engine has one.
    pub fn vault(&self) -> Option<&Arc<Vault>> {
        self.inner.vault.as_ref()
    }

    /// Lets nodes start executions through `executions` (the runner calls this once; later
    /// calls are ignored).
    pub fn set_executions(&self, executions: Arc<dyn Executions>) {
        let _ = self.inner.executions.set(executions);
    }

    /// How nodes start executions, once a runner is built over this engine.
    pub fn executions(&self) -> Option<Arc<dyn Executions>> {
        self.inner.executions.get().cloned()
    }

    /// Live progress of the executions this engine drives (best effort; see [`Events`]).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<crate::events::Event> {
        self.inner.events.subscribe()
    }

    /// The node catalog workflows are validated against.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// A version of a workflow, compiled once and cached.
    pub async fn compiled(
        &self,
        workflow: WorkflowId,
        version: u32,
    ) -> Result<Arc<CompiledWorkflow>, EngineError> {
        if let Some(wf) = self.cached(workflow, version) {
            return Ok(wf);
        }
        let record = self
            .inner
            .store
            .get_version(workflow, version)
            .await?
            .record;
        let invalid = |errors| EngineError::Invalid {
            workflow,
            version,
            errors,
        };
        let body = record.get("workflow").cloned().unwrap_or(record);
        let doc = WorkflowDoc::from_value(body).map_err(|e| invalid(e.into()))?;
        let wf = Arc::new(compile(doc, &self.inner.catalog).map_err(invalid)?);
        if let Ok(mut cache) = self.inner.compiled.lock() {
            cache.insert((workflow, version), wf.clone());
        }
        Ok(wf)
    }

    fn cached(&self, workflow: WorkflowId, version: u32) -> Option<Arc<CompiledWorkflow>> {
        self.inner
            .compiled
            .lock()
            .ok()?
            .get(&(workflow, version))
            .cloned()
    }

    /// Runs an execution (or resumes it from its checkpoints) until it finishes or parks on a
    /// wait, and returns it as it stands then. Cancelling `cancel` stops it with `cancelled`.
    pub async fn run(
        &self,
        id: ExecutionId,
        cancel: CancellationToken,
    ) -> Result<Execution, EngineError> {
        self.resume(id, cancel).await.map(Outcome::into_execution)
    }

    /// Like [`Engine::run`], saying when a parked execution wants to run again.
    pub async fn resume(
        &self,
        id: ExecutionId,
        cancel: CancellationToken,
    ) -> Result<Outcome, EngineError> {
        let exec = self.inner.store.get_execution(id).await?;
        if exec.status.is_terminal() {
            return Err(EngineError::Finished(id));
        }
        let wf = self.compiled(exec.workflow_id, exec.version).await?;
        run::Run::new(self.clone(), wf, exec, cancel, false)
            .await?
            .drive()
            .await
    }

    /// Like [`Engine::resume`] for an execution this process just created, with no checkpoints
    /// yet: nothing is read back from the store.
    pub async fn start_fresh(
        &self,
        exec: Execution,
        cancel: CancellationToken,
    ) -> Result<Outcome, EngineError> {
        let wf = self.compiled(exec.workflow_id, exec.version).await?;
        run::Run::new(self.clone(), wf, exec, cancel, true)
            .await?
            .drive()
            .await
    }
}
