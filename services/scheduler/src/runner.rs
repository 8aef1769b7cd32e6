//! Starting, awaiting and cancelling executions, through the shared work queue.
//!
//! `start` records the execution and pushes a `run` job; workers (in this process and any other
//! sharing the queue) pull jobs and drive executions with the [`Engine`], renewing their lease
//! while they run. A worker that dies loses nothing: its lease runs out, another worker pulls the
//! job, and the engine resumes the execution from its checkpoints. Shutting down leaves running
//! executions as they are (not cancelled), to be resumed the same way.
//!
//! An execution that parks on `core.wait` gives its job back to the queue with the wait's delay
//! (a nack: one atomic step, so the wake-up is neither lost nor doubled by a crash between two
//! writes). Until then it holds no worker slot and no lease, and the delay survives restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowork_model::{ExecutionId, ExecutionStatus, WorkflowId};
use flowork_queue::{EmbeddedQueue, JobQueue};
use flowork_storage::{Execution, ExecutionUpdate, NodeRun};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, EngineError};

mod children;
mod failure;
mod start;
mod worker;

pub(crate) use children::NAMESPACE as CLAIMS;
pub use children::{MAX_DEPTH, SUBWORKFLOW_TRIGGER};
pub use failure::ERROR_TRIGGER;

/// How many executions one process drives at once by default.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// The embedded queue's name in the store.
const QUEUE: &str = "executions";
/// How long a worker holds a job without renewing it (renewed every third of it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

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

/// An execution this process started or runs: how to cancel it, and when it is done.
struct Local {
    cancel: CancellationToken,
    done: watch::Sender<bool>,
}

struct Inner {
    engine: Engine,
    queue: Arc<dyn JobQueue>,
    worker: String,
    local: Mutex<HashMap<ExecutionId, Local>>,
    /// Wakes the puller when this process pushed a job, so local runs start at once.
    wake: Notify,
    lease: Duration,
    /// One permit per execution this process drives at once (queue pulls and runs started here).
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
}

/// Starts executions and runs queue workers.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl Runner {
    /// A runner on the embedded (store-backed) queue, with [`DEFAULT_CONCURRENCY`] workers.
    /// Must be called inside a tokio runtime; workers stop when `shutdown` is cancelled.
    pub fn new(engine: Engine, shutdown: CancellationToken) -> Self {
        Self::embedded(engine, DEFAULT_CONCURRENCY, DEFAULT_LEASE, shutdown)
    }

    /// A runner on the embedded queue with the given worker count and lease.
    pub fn embedded(
        engine: Engine,
        concurrency: usize,
        lease: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let queue = Arc::new(EmbeddedQueue::new(engine.store().clone(), QUEUE).with_lease(lease));
        Self::with_queue(engine, queue, concurrency, lease, shutdown)
    }

    /// A runner on any queue (Redis for many workers), driving up to `concurrency` executions.
    /// `lease` must be the queue's lease: workers renew every third of it.
    pub fn with_queue(
        engine: Engine,
        queue: Arc<dyn JobQueue>,
        concurrency: usize,
        lease: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let worker = format!(
            "worker-{}-{}",
            std::process::id(),
            ExecutionId::new().uuid().simple()
        );
        let inner = Inner {
            engine,
            queue,
            worker,
            local: Mutex::default(),
            wake: Notify::new(),
            lease,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            shutdown,
        };
        let runner = Self {
            inner: Arc::new(inner),
        };
        let link = children::Link(Arc::downgrade(&runner.inner));
        runner.inner.engine.set_executions(Arc::new(link));
        tokio::spawn(runner.clone().pull_loop());
        runner
    }

    /// The engine executions run on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Records a queued execution and queues it.
    pub async fn start(&self, req: StartRequest) -> Result<Execution, EngineError> {
        self.start_with(req, Vec::new()).await
    }

    /// Like [`Runner::start`], with checkpoints already in place (replay): the engine resumes
    /// after them instead of running those nodes.
    pub async fn start_with(
        &self,
        req: StartRequest,
        checkpoints: Vec<NodeRun>,
    ) -> Result<Execution, EngineError> {
        self.start_as(ExecutionId::new(), req, checkpoints).await
    }

    /// Waits up to `limit` for an execution to finish; returns it as it stands then.
    pub async fn wait(&self, id: ExecutionId, limit: Duration) -> Result<Execution, EngineError> {
        let store = self.inner.engine.store();
        let rx = self
            .inner
            .local
            .lock()
            .ok()
            .and_then(|l| l.get(&id).map(|l| l.done.subscribe()));
        match rx {
            Some(mut rx) => {
                let _ = tokio::time::timeout(limit, rx.wait_for(|done| *done)).await;
            }
            // Running on another worker: poll its record.
            None => {
                let deadline = tokio::time::Instant::now() + limit;
                while tokio::time::Instant::now() < deadline {
                    if store.get_execution(id).await?.status.is_terminal() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        }
        Ok(store.get_execution(id).await?)
    }

    /// Cancels an execution. One running here stops at once; one queued or running elsewhere is
    /// marked cancelled, and its worker finds it finished when it (re)loads it.
    pub async fn cancel(&self, id: ExecutionId) -> Result<Execution, EngineError> {
        let token = self
            .inner
            .local
            .lock()
            .ok()
            .and_then(|l| l.get(&id).map(|l| l.cancel.clone()));
        if let Some(token) = token {
            token.cancel();
            let exec = self.wait(id, Duration::from_secs(10)).await?;
            if exec.status.is_terminal() {
                return Ok(exec);
            }
        }
        let update = ExecutionUpdate {
            status: ExecutionStatus::Cancelled,
            output: None,
            error: Some("cancelled".into()),
        };
        Ok(self
            .inner
            .engine
            .store()
            .update_execution(id, update)
            .await?)
    }

    fn local(&self, id: ExecutionId) -> CancellationToken {
        let Ok(mut local) = self.inner.local.lock() else {
            return CancellationToken::new();
        };
        let entry = local.entry(id).or_insert_with(|| Local {
            cancel: CancellationToken::new(),
            done: watch::channel(false).0,
        });
        entry.cancel.clone()
    }

    fn forget(&self, id: ExecutionId) {
        if let Ok(mut local) = self.inner.local.lock()
            && let Some(l) = local.remove(&id)
        {
            let _ = l.done.send(true);
        }
    }

    /// Pulls jobs while a worker slot is free, until shutdown. A pull is never cancelled
    /// half-way (that could lease a job and drop it until the lease ran out); when the queue is
    /// empty the loop sleeps, backing off to 200 ms, and a local `start` wakes it at once.
    async fn pull_loop(self) {
        const IDLE_MIN: Duration = Duration::from_millis(5);
        const IDLE_MAX: Duration = Duration::from_millis(200);
        let slots = self.inner.slots.clone();
        let shutdown = self.inner.shutdown.clone();
        let mut idle = IDLE_MIN;
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => return,
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            match self
                .inner
                .queue
                .pull(&self.inner.worker, Duration::ZERO)
                .await
            {
                Ok(Some(delivery)) => {
                    idle = IDLE_MIN;
                    let me = self.clone();
                    tokio::spawn(async move {
                        me.handle(delivery).await;
                        drop(permit);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "queue pull failed; retrying");
                    idle = IDLE_MAX;
                }
            }
            drop(permit);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.inner.wake.notified() => idle = IDLE_MIN,
                () = tokio::time::sleep(idle) => idle = (idle * 2).min(IDLE_MAX),
            }
        }
    }
}
