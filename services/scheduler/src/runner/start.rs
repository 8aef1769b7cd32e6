//! Starting executions: record, queue, and, when this process has a free worker slot, run at
//! once instead of waiting for a worker's pull.
//!
//! When the queue can ([`JobQueue::push_leased`], the embedded queue), the job is pushed *before*
//! the execution is recorded, already leased to this process. No crash can then leave an
//! execution recorded but never queued: if the process dies, the lease runs out and another
//! worker resumes the execution from its checkpoints, or drops the job if the execution was
//! never recorded. Holding the job, this process runs the execution itself from the record it
//! just wrote (no pull, no lease write, nothing read back); with no free slot it releases the job
//! to the queue. Redis cannot push leased jobs: there the execution is recorded, then pushed.

use std::time::Duration;

use flowork_model::{ExecutionId, ExecutionStatus};
use flowork_queue::{Delivery, QueueJob};
use flowork_storage::{Execution, ExecutionUpdate, NewExecution, NodeRun};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use super::{Runner, StartRequest};
use crate::engine::EngineError;

fn queue_error(e: flowork_queue::QueueError) -> EngineError {
    EngineError::Queue(e.to_string())
}

impl Runner {
    /// Starts `req` as execution `id`, with `checkpoints` already in place (replay).
    pub(super) async fn start_as(
        &self,
        id: ExecutionId,
        req: StartRequest,
        checkpoints: Vec<NodeRun>,
    ) -> Result<Execution, EngineError> {
        // Taken first, so that an execution this process runs at once is recorded as running.
        let permit = self.inner.slots.clone().try_acquire_owned().ok();
        let fresh = checkpoints.is_empty();
        let (exec, held) = self
            .record(id, req, fresh, checkpoints, permit.is_some())
            .await?;
        match (held, permit) {
            (Some((d, fresh_run)), Some(permit)) => {
                let me = self.clone();
                let started = exec.clone();
                tokio::spawn(async move {
                    me.process(&d, started.id, fresh_run.then_some(started))
                        .await;
                    drop(permit);
                });
            }
            (Some((d, _)), None) => {
                if let Err(e) = self.inner.queue.nack(&d, Duration::ZERO).await {
                    tracing::warn!(execution = %exec.id, error = %e, "could not release the job; it runs when its lease ends");
                }
                self.inner.wake.notify_one();
            }
            (None, _) => self.push(&exec).await?,
        }
        Ok(exec)
    }

    /// Starts an execution and waits up to `limit` for it to finish (or park); returns it as it
    /// stands then. The execution goes on if the caller stops waiting. This is `?wait=true`.
    pub async fn run_now(
        &self,
        req: StartRequest,
        limit: Duration,
    ) -> Result<Execution, EngineError> {
        let Ok(permit) = self.inner.slots.clone().try_acquire_owned() else {
            let exec = self.start(req).await?;
            return self.wait(exec.id, limit).await;
        };
        let id = ExecutionId::new();
        // Its own task, so that a caller who stops waiting (or hangs up) stops nothing.
        let me = self.clone();
        let task = tokio::spawn(async move { me.run_held(id, req, permit, limit).await });
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => Err(EngineError::Task(id, e.to_string())),
            Err(_) => Ok(self.inner.engine.store().get_execution(id).await?),
        }
    }

    /// Records `req` and drives it here, holding `permit` meanwhile.
    async fn run_held(
        &self,
        id: ExecutionId,
        req: StartRequest,
        permit: OwnedSemaphorePermit,
        limit: Duration,
    ) -> Result<Execution, EngineError> {
        let (exec, held) = self.record(id, req, true, Vec::new(), true).await?;
        let Some((d, _)) = held else {
            drop(permit);
            self.push(&exec).await?;
            return self.wait(id, limit).await;
        };
        let done = self.process(&d, id, Some(exec)).await;
        drop(permit);
        match done {
            Some(exec) => Ok(exec),
            // Shut down or lease lost half-way: report it as it stands.
            None => Ok(self.inner.engine.store().get_execution(id).await?),
        }
    }

    /// Pushes the job leased to this process (when the queue can), then records the execution
    /// and its checkpoints; as running already if `run_here` (this process holds a worker slot
    /// for it) and the job is held. Returns the held job, and whether the execution is fresh
    /// (nothing to read back before running it).
    async fn record(
        &self,
        id: ExecutionId,
        req: StartRequest,
        fresh: bool,
        checkpoints: Vec<NodeRun>,
        run_here: bool,
    ) -> Result<(Execution, Option<(Delivery, bool)>), EngineError> {
        let engine = &self.inner.engine;
        // Compile first: an invalid version must not leave anything queued behind.
        engine.compiled(req.workflow_id, req.version).await?;
        let queue = &self.inner.queue;
        let held = (queue.push_leased(&job(id), &self.inner.worker).await).map_err(queue_error)?;
        let new = NewExecution {
            id,
            workflow_id: req.workflow_id,
            version: req.version,
            trigger: req.trigger,
            input: req.input,
            parent_id: req.parent_id,
            started: run_here && held.is_some(),
        };
        let recorded = async {
            let exec = engine.store().create_execution(new).await?;
            let runs = checkpoints.into_iter().map(|run| NodeRun {
                execution_id: exec.id,
                ..run
            });
            engine.store().put_node_runs(runs.collect()).await?;
            Ok::<_, EngineError>(exec)
        };
        match recorded.await {
            Ok(exec) => {
                self.local(exec.id);
                Ok((exec, held.map(|d| (d, fresh))))
            }
            Err(e) => {
                // Nothing (or half a replay) to run: let the job go instead of having it back.
                if let Some(d) = held {
                    let _ = queue.ack(&d).await;
                }
                Err(e)
            }
        }
    }

    /// Queues a recorded execution for any worker (when the queue cannot push leased jobs).
    async fn push(&self, exec: &Execution) -> Result<(), EngineError> {
        if let Err(e) = self.inner.queue.push(&job(exec.id)).await {
            // The execution row exists but nobody will run it: say so on the row itself.
            let update = ExecutionUpdate {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(format!("could not queue: {e}")),
            };
            let _ = self
                .inner
                .engine
                .store()
                .update_execution(exec.id, update)
                .await;
            self.forget(exec.id);
            return Err(queue_error(e));
        }
        self.inner.wake.notify_one();
        Ok(())
    }
}

fn job(id: ExecutionId) -> QueueJob {
    QueueJob::new("run", json!({ "execution_id": id.to_string() }))
}
