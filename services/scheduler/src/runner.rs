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

use flowork_model::{ExecutionId, ExecutionStatus, Timestamp, WorkflowId};
use flowork_queue::{Delivery, EmbeddedQueue, JobQueue, QueueError, QueueJob};
use flowork_storage::{Execution, ExecutionUpdate, NewExecution, NodeRun};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, EngineError, Outcome};

mod children;
mod failure;

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
            shutdown,
        };
        let runner = Self {
            inner: Arc::new(inner),
        };
        let link = children::Link(Arc::downgrade(&runner.inner));
        runner.inner.engine.set_executions(Arc::new(link));
        tokio::spawn(runner.clone().pull_loop(concurrency.max(1)));
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

    /// Starts `req` as execution `id`.
    async fn start_as(
        &self,
        id: ExecutionId,
        req: StartRequest,
        checkpoints: Vec<NodeRun>,
    ) -> Result<Execution, EngineError> {
        // Compile first: an invalid version must not leave a queued execution behind.
        let engine = &self.inner.engine;
        engine.compiled(req.workflow_id, req.version).await?;
        let new = NewExecution {
            id,
            workflow_id: req.workflow_id,
            version: req.version,
            trigger: req.trigger,
            input: req.input,
            parent_id: req.parent_id,
        };
        let exec = engine.store().create_execution(new).await?;
        for mut run in checkpoints {
            run.execution_id = exec.id;
            engine.store().put_node_run(run).await?;
        }
        self.local(exec.id);
        let job = QueueJob::new("run", json!({ "execution_id": exec.id.to_string() }));
        if let Err(e) = self.inner.queue.push(&job).await {
            // The execution row exists but nobody will run it: say so on the row itself.
            let update = ExecutionUpdate {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(format!("could not queue: {e}")),
            };
            let _ = engine.store().update_execution(exec.id, update).await;
            self.forget(exec.id);
            return Err(EngineError::Queue(e.to_string()));
        }
        self.inner.wake.notify_one();
        Ok(exec)
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
    async fn pull_loop(self, concurrency: usize) {
        const IDLE_MIN: Duration = Duration::from_millis(5);
        const IDLE_MAX: Duration = Duration::from_millis(200);
        let slots = Arc::new(Semaphore::new(concurrency));
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

    /// Runs one delivered job to its end, renewing the lease meanwhile.
    async fn handle(&self, d: Delivery) {
        let queue = &self.inner.queue;
        let id = d
            .job
            .payload
            .get("execution_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<ExecutionId>().ok());
        let (Some(id), "run") = (id, d.job.kind.as_str()) else {
            tracing::error!(job = %d.id, kind = %d.job.kind, "dropping a job this engine does not understand");
            let _ = queue.ack(&d).await;
            return;
        };
        let cancel = self.local(id);
        let lost = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat(
            queue.clone(),
            d.clone(),
            self.inner.lease,
            lost.clone(),
        ));
        let shutdown = self.inner.shutdown.clone();
        let result = tokio::select! {
            r = self.inner.engine.resume(id, cancel) => Some(r),
            // Dropping the run leaves its checkpoints; the job comes back and resumes there.
            () = shutdown.cancelled() => None,
            () = lost.cancelled() => None,
        };
        heartbeat.abort();
        match result {
            Some(Ok(Outcome::Parked { until, .. })) => {
                let delay = Duration::from_millis(
                    (until.millis() - Timestamp::now().millis()).max(0) as u64,
                );
                tracing::debug!(execution = %id, delay_ms = delay.as_millis() as u64, "parked on a wait");
                if let Err(e) = queue.nack(&d, delay).await {
                    tracing::warn!(execution = %id, error = %e, "could not park the job; it runs again when its lease ends");
                }
            }
            Some(Ok(Outcome::Finished(_))) | Some(Err(EngineError::Finished(_))) => {
                // Before the ack: a redelivered job retries a start that did not happen.
                let exec = match result {
                    // As the engine's last write left it: no need to read it back.
                    Some(Ok(Outcome::Finished(exec))) => Ok(exec),
                    _ => self.inner.engine.store().get_execution(id).await,
                };
                match exec {
                    Ok(exec) => self.after_failure(&exec).await,
                    Err(e) => {
                        tracing::warn!(execution = %id, error = %e, "could not reload a finished execution")
                    }
                }
                if let Err(e) = queue.ack(&d).await {
                    tracing::warn!(execution = %id, error = %e, "ack failed; the job may run again (idempotent)");
                }
            }
            Some(Err(e)) => {
                tracing::error!(execution = %id, error = %e, "execution could not run; retrying in 5 s");
                let _ = queue.nack(&d, Duration::from_secs(5)).await;
            }
            None if lost.is_cancelled() => {
                tracing::warn!(execution = %id, "lease lost; another worker has it")
            }
            None => {
                let _ = queue.nack(&d, Duration::ZERO).await;
            }
        }
        self.forget(id);
    }
}

/// Renews the lease every third of it; cancels `lost` if another worker took the job.
async fn heartbeat(
    queue: Arc<dyn JobQueue>,
    d: Delivery,
    lease: Duration,
    lost: CancellationToken,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match queue.extend(&d).await {
            Ok(()) => {}
            Err(QueueError::LeaseLost { .. }) => {
                lost.cancel();
                return;
            }
            Err(QueueError::Unsupported { .. }) => return,
            Err(e) => tracing::warn!(job = %d.id, error = %e, "lease renewal failed; retrying"),
        }
    }
}
