//! Executions started by other executions (sub-workflows, error workflows), each exactly once.
//!
//! Jobs are delivered at least once and executions resume after crashes, so "start a child" can
//! run more than once for the same cause. The child's id is therefore claimed first in the kv
//! store under a key naming the cause (`sub:<exec>:<node>:<attempt>`, `err:<exec>`) with
//! `Expect::Absent`, then created with that id: a second try finds the claim and reuses the
//! child, or creates it if the first try died between the two writes.

use std::sync::Weak;
use std::time::Duration;

use async_trait::async_trait;
use flowork_model::ExecutionId;
use flowork_storage::{Execution, Expect, StorageError};

use super::{Inner, Runner, StartRequest};
use crate::engine::EngineError;
use crate::nodes::{ChildRequest, Executions, NodeError};

/// The kv namespace of child claims.
pub const NAMESPACE: &str = "executions";
/// How deep sub-workflows may nest (a workflow calling itself stops here).
pub const MAX_DEPTH: usize = 16;
/// The trigger name of sub-workflow executions.
pub const SUBWORKFLOW_TRIGGER: &str = "subworkflow";

impl Runner {
    /// Starts `req` once per `key`: later calls with the same key return the same execution.
    pub(crate) async fn start_once(
        &self,
        key: &str,
        req: StartRequest,
    ) -> Result<Execution, EngineError> {
        let store = self.engine().store().clone();
        let id = match store.kv_get(NAMESPACE, key).await? {
            Some(entry) => parse(&entry.value)?,
            None => {
                let id = ExecutionId::new();
                let value = id.to_string().into_bytes();
                match store.kv_put(NAMESPACE, key, value, Expect::Absent).await {
                    Ok(_) => return self.start_as(id, req, Vec::new()).await,
                    Err(StorageError::Conflict(_)) => match store.kv_get(NAMESPACE, key).await? {
                        Some(entry) => parse(&entry.value)?,
                        None => return Err(StorageError::Conflict(key.to_owned()).into()),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
        };
        match store.get_execution(id).await {
            Ok(exec) => Ok(exec),
            // Claimed but never created: the process died between the two writes.
            Err(StorageError::NotFound { .. }) => self.start_as(id, req, Vec::new()).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until an execution is terminal: woken by its local run when it runs here, else
    /// polling its record, slowly (up to every second) since a child may wait for days.
    async fn settled(&self, id: ExecutionId) -> Result<Execution, EngineError> {
        let mut idle = Duration::from_millis(25);
        loop {
            let exec = self.engine().store().get_execution(id).await?;
            if exec.status.is_terminal() {
                return Ok(exec);
            }
            let local = self
                .inner
                .local
                .lock()
                .ok()
                .and_then(|l| l.get(&id).map(|l| l.done.subscribe()));
            match local {
                Some(mut rx) => {
                    let _ = tokio::time::timeout(idle, rx.wait_for(|done| *done)).await;
                }
                None => tokio::time::sleep(idle).await,
            }
            idle = (idle * 2).min(Duration::from_secs(1));
        }
    }

    /// How many sub-workflow levels `exec` sits under (0 for a top-level execution).
    async fn depth(&self, exec: ExecutionId) -> Result<usize, EngineError> {
        let store = self.engine().store();
        let mut current = store.get_execution(exec).await?;
        let mut depth = 0;
        while current.trigger == SUBWORKFLOW_TRIGGER && depth <= MAX_DEPTH {
            depth += 1;
            match current.parent_id {
                Some(parent) => current = store.get_execution(parent).await?,
                None => break,
            }
        }
        Ok(depth)
    }
}

fn parse(value: &[u8]) -> Result<ExecutionId, EngineError> {
    let text = String::from_utf8_lossy(value);
    text.parse()
        .map_err(|_| StorageError::Invalid(format!("bad child execution id {text:?}")).into())
}

/// The runner as nodes see it: weak, since the runner owns the engine that holds this.
pub(super) struct Link(pub(super) Weak<Inner>);

impl Link {
    fn runner(&self) -> Result<Runner, NodeError> {
        self.0
            .upgrade()
            .map(|inner| Runner { inner })
            .ok_or_else(|| NodeError::Retryable("the runner is shutting down".into()))
    }
}

fn node_error(e: EngineError) -> NodeError {
    match e {
        EngineError::Storage(StorageError::NotFound { .. }) | EngineError::Invalid { .. } => {
            NodeError::Fatal(format!("sub-workflow: {e}"))
        }
        other => NodeError::Retryable(format!("sub-workflow: {other}")),
    }
}

#[async_trait]
impl Executions for Link {
    async fn start_child(&self, child: ChildRequest) -> Result<Execution, NodeError> {
        let runner = self.runner()?;
        let key = format!("sub:{}", child.key);
        let store = runner.engine().store().clone();
        if store
            .kv_get(NAMESPACE, &key)
            .await
            .map_err(|e| node_error(e.into()))?
            .is_none()
        {
            let depth = runner.depth(child.parent).await.map_err(node_error)?;
            if depth >= MAX_DEPTH {
                return Err(NodeError::Fatal(format!(
                    "sub-workflows nest deeper than {MAX_DEPTH} levels (does workflow {} call itself?)",
                    child.workflow_id
                )));
            }
        }
        let target = store
            .get_workflow(child.workflow_id)
            .await
            .map_err(|e| node_error(e.into()))?;
        let req = StartRequest {
            workflow_id: child.workflow_id,
            version: target.head_version,
            trigger: SUBWORKFLOW_TRIGGER.into(),
            input: child.input,
            parent_id: Some(child.parent),
        };
        runner.start_once(&key, req).await.map_err(node_error)
    }

    async fn finished(&self, id: ExecutionId) -> Result<Execution, NodeError> {
        self.runner()?.settled(id).await.map_err(node_error)
    }

    async fn cancel(&self, id: ExecutionId) -> Result<Execution, NodeError> {
        self.runner()?.cancel(id).await.map_err(node_error)
    }
}
