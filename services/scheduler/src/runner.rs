//! Starting, awaiting and cancelling executions in this process.
//!
//! Each execution runs on its own task; its checkpoints make it resumable by
//! [`Runner::resume_unfinished`] after a restart. The shared queue (many workers, Redis) plugs in
//! here next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowork_model::{ExecutionId, WorkflowId};
use flowork_storage::{Execution, ExecutionFilter, ExecutionUpdate, NewExecution, Page};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, EngineError};

/// What is needed to start an execution.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub workflow_id: WorkflowId,
    pub version: u32,
    /// The trigger node that fired, or what started it (`manual`, `api`, ...).
    pub trigger: String,
    pub input: Value,
    pub parent_id: Option<ExecutionId>,
}

struct Running {
    cancel: CancellationToken,
    done: watch::Receiver<Option<Execution>>,
}

/// Runs executions on tasks of this process.
#[derive(Clone)]
pub struct Runner {
    engine: Engine,
    running: Arc<Mutex<HashMap<ExecutionId, Running>>>,
    shutdown: CancellationToken,
}

impl Runner {
    /// A runner whose executions stop (resumably) when `shutdown` is cancelled.
    pub fn new(engine: Engine, shutdown: CancellationToken) -> Self {
        Self {
            engine,
            running: Arc::default(),
            shutdown,
        }
    }

    /// The engine executions run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Records a queued execution and starts it.
    pub async fn start(&self, req: StartRequest) -> Result<Execution, EngineError> {
        self.start_with(req, Vec::new()).await
    }

    /// Like [`Runner::start`], with checkpoints already in place (replay): the engine resumes
    /// after them instead of running those nodes.
    pub async fn start_with(
        &self,
        req: StartRequest,
        checkpoints: Vec<flowork_storage::NodeRun>,
    ) -> Result<Execution, EngineError> {
        // Compile first: an invalid version must not leave a queued execution behind.
        self.engine.compiled(req.workflow_id, req.version).await?;
        let new = NewExecution {
            id: ExecutionId::new(),
            workflow_id: req.workflow_id,
            version: req.version,
            trigger: req.trigger,
            input: req.input,
            parent_id: req.parent_id,
        };
        let exec = self.engine.store().create_execution(new).await?;
        for mut run in checkpoints {
            run.execution_id = exec.id;
            self.engine.store().put_node_run(run).await?;
        }
        self.spawn(exec.id);
        Ok(exec)
    }

    fn spawn(&self, id: ExecutionId) {
        let cancel = self.shutdown.child_token();
        let (tx, rx) = watch::channel(None);
        if let Ok(mut running) = self.running.lock() {
            running.insert(
                id,
                Running {
                    cancel: cancel.clone(),
                    done: rx,
                },
            );
        }
        let (engine, running) = (self.engine.clone(), self.running.clone());
        tokio::spawn(async move {
            let result = engine.run(id, cancel).await;
            match &result {
                Ok(exec) => {
                    tracing::debug!(execution = %id, status = %exec.status, "execution finished")
                }
                Err(e) => tracing::error!(execution = %id, error = %e, "execution could not run"),
            }
            let _ = tx.send(result.ok());
            if let Ok(mut running) = running.lock() {
                running.remove(&id);
            }
        });
    }

    /// Waits up to `limit` for an execution to finish; returns it as it stands then.
    pub async fn wait(&self, id: ExecutionId, limit: Duration) -> Result<Execution, EngineError> {
        let rx = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&id).map(|r| r.done.clone()));
        if let Some(mut rx) = rx {
            let _ = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        }
        Ok(self.engine.store().get_execution(id).await?)
    }

    /// Cancels an execution running here; one that is not running here is marked cancelled.
    pub async fn cancel(&self, id: ExecutionId) -> Result<Execution, EngineError> {
        let token = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&id).map(|r| r.cancel.clone()));
        match token {
            Some(token) => {
                token.cancel();
                self.wait(id, Duration::from_secs(10)).await
            }
            None => {
                let update = ExecutionUpdate {
                    status: flowork_model::ExecutionStatus::Cancelled,
                    output: None,
                    error: Some("cancelled".into()),
                };
                Ok(self.engine.store().update_execution(id, update).await?)
            }
        }
    }

    /// Restarts every execution left queued or running (by a crash or a restart) from its
    /// checkpoints. Returns how many were resumed.
    pub async fn resume_unfinished(&self) -> Result<usize, EngineError> {
        let mut resumed = 0;
        for status in [
            flowork_model::ExecutionStatus::Queued,
            flowork_model::ExecutionStatus::Running,
        ] {
            let filter = ExecutionFilter {
                workflow_id: None,
                status: Some(status),
            };
            let page = Page {
                limit: 1000,
                after: None,
            };
            for exec in self.engine.store().list_executions(filter, page).await? {
                self.spawn(exec.id);
                resumed += 1;
            }
        }
        Ok(resumed)
    }
}
