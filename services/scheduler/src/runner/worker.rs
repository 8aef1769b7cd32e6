//! Driving one leased job: run (or resume) its execution, renew the lease meanwhile, and hand
//! the job back as the outcome says (ack when finished, nack with the wait's delay when parked).

use std::sync::Arc;
use std::time::Duration;

use flowork_model::{ExecutionId, Timestamp};
use flowork_queue::{Delivery, JobQueue, QueueError};
use flowork_storage::{Execution, StorageError};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Runner;
use crate::engine::{EngineError, Outcome};

impl Runner {
    /// Runs one job pulled from the queue to its end.
    pub(super) async fn handle(&self, d: Delivery) {
        let id = d
            .job
            .payload
            .get("execution_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<ExecutionId>().ok());
        let (Some(id), "run") = (id, d.job.kind.as_str()) else {
            tracing::error!(job = %d.id, kind = %d.job.kind, "dropping a job this engine does not understand");
            let _ = self.inner.queue.ack(&d).await;
            return;
        };
        self.process(&d, id, None).await;
    }

    /// Drives execution `id` under the lease of `d`, renewing it meanwhile, then acks or nacks
    /// `d`. `fresh` is the execution when this process just created it (nothing to read back).
    /// Returns the execution as the drive left it, when it finished or parked.
    /// (Boxed, naming `Send`: starting a sub-workflow from a node may come back here.)
    pub(super) fn process<'a>(
        &'a self,
        d: &'a Delivery,
        id: ExecutionId,
        fresh: Option<Execution>,
    ) -> BoxFuture<'a, Option<Execution>> {
        self.process_inner(d, id, fresh).boxed()
    }

    async fn process_inner(
        &self,
        d: &Delivery,
        id: ExecutionId,
        fresh: Option<Execution>,
    ) -> Option<Execution> {
        let queue = &self.inner.queue;
        let cancel = self.local(id);
        let lost = CancellationToken::new();
        let renew = heartbeat(queue.clone(), d.clone(), self.inner.lease, lost.clone());
        let engine = &self.inner.engine;
        let run = match fresh {
            Some(exec) => engine.start_fresh(exec, cancel).boxed(),
            None => engine.resume(id, cancel).boxed(),
        };
        let shutdown = self.inner.shutdown.clone();
        let result = tokio::select! {
            r = run => Some(r),
            // Dropping the run leaves its checkpoints; the job comes back and resumes there.
            () = shutdown.cancelled() => None,
            () = lost.cancelled() => None,
            // Never ends on its own; polled here so renewing costs no task of its own.
            () = renew => None,
        };
        let kept = match result {
            Some(Ok(Outcome::Parked { execution, until })) => {
                let delay = Duration::from_millis(
                    (until.millis() - Timestamp::now().millis()).max(0) as u64,
                );
                tracing::debug!(execution = %id, delay_ms = delay.as_millis() as u64, "parked on a wait");
                if let Err(e) = queue.nack(d, delay).await {
                    tracing::warn!(execution = %id, error = %e, "could not park the job; it runs again when its lease ends");
                }
                Some(execution)
            }
            Some(Ok(Outcome::Finished(_))) | Some(Err(EngineError::Finished(_))) => {
                // Before the ack: a redelivered job retries a start that did not happen.
                let exec = match result {
                    // As the engine's last write left it: no need to read it back.
                    Some(Ok(Outcome::Finished(exec))) => Ok(exec),
                    _ => engine.store().get_execution(id).await,
                };
                let kept = match exec {
                    Ok(exec) => {
                        self.after_failure(&exec).await;
                        Some(exec)
                    }
                    Err(e) => {
                        tracing::warn!(execution = %id, error = %e, "could not reload a finished execution");
                        None
                    }
                };
                // Off the caller's path: the execution is durable already, and a job whose ack
                // is lost comes back, finds it finished, and is acked then.
                let (queue, d) = (queue.clone(), d.clone());
                tokio::spawn(async move {
                    if let Err(e) = queue.ack(&d).await {
                        tracing::warn!(execution = %id, error = %e, "ack failed; the job may run again (idempotent)");
                    }
                });
                kept
            }
            // A job pushed (leased) by a process that died before recording its execution.
            Some(Err(EngineError::Storage(StorageError::NotFound { .. }))) => {
                tracing::warn!(execution = %id, "dropping the job of an execution that was never recorded");
                let _ = queue.ack(d).await;
                None
            }
            Some(Err(e)) => {
                tracing::error!(execution = %id, error = %e, "execution could not run; retrying in 5 s");
                let _ = queue.nack(d, Duration::from_secs(5)).await;
                None
            }
            None if lost.is_cancelled() => {
                tracing::warn!(execution = %id, "lease lost; another worker has it");
                None
            }
            None => {
                let _ = queue.nack(d, Duration::ZERO).await;
                None
            }
        };
        self.forget(id);
        kept
    }
}

/// Renews the lease every third of it; cancels `lost` (and stays pending) if another worker
/// took the job.
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
                return std::future::pending().await;
            }
            Err(QueueError::Unsupported { .. }) => return std::future::pending().await,
            Err(e) => tracing::warn!(job = %d.id, error = %e, "lease renewal failed; retrying"),
        }
    }
}
