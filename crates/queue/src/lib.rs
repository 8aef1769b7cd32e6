//! The engine's work queue: what to run next, shared by every scheduler worker.
//!
//! Two backends sit behind one [`JobQueue`] trait so the engine never knows which it runs on:
//! - [`EmbeddedQueue`]: rows in the store (SQLite or Postgres) through `QueueStore`. The default:
//!   durable with no extra service, good for one node or a few workers sharing a database.
//! - [`RedisQueue`]: Redis Streams with a consumer group, for many workers. See its module docs
//!   for how delayed jobs and dead workers are handled.
//!
//! # Delivery semantics: at least once
//!
//! A pulled job is *leased* to a worker for the queue's lease time. If the worker acks, the job is
//! gone; if it nacks, the job comes back after the given delay with `attempts + 1`; if it dies or
//! stalls past the lease without [`JobQueue::extend`], another worker gets the job again. So a job
//! can run more than once (a crash after the work but before the ack), never zero times once
//! pushed. Callers must make handlers idempotent: key side effects by execution id and node run,
//! and check the stored checkpoint before redoing work. An ack after the lease was lost fails with
//! [`QueueError::LeaseLost`]: someone else owns the job now, so the result must not be committed
//! twice.
//!
//! Delays are durable: `push_delayed` is how `core.wait`, retry backoff and cron ticks survive a
//! restart, so never replace it with an in-process sleep.

mod embedded;
mod error;
mod redis;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::embedded::EmbeddedQueue;
pub use crate::error::{QueueError, Result};
pub use crate::redis::{RedisConfig, RedisGasLedger, RedisQueue};

/// Lease time used when none is configured: long enough for most node runs, short enough that a
/// dead worker's job is picked up within a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// A unit of work for the engine. Kept generic so the queue does not depend on the engine's types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueJob {
    /// What to do: `"run"`, `"resume"`, `"cron"`, ...
    pub kind: String,
    /// The kind's arguments (execution id, node, cron tick, ...).
    pub payload: serde_json::Value,
}

impl QueueJob {
    /// A job of `kind` carrying `payload`.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
        }
    }
}

/// A job's id, stable across redeliveries of the same job (nack, reclaim).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job leased to a worker; hand it back with ack, nack or keep it with extend.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The job's id.
    pub id: JobId,
    /// The job itself.
    pub job: QueueJob,
    /// How many times the job was delivered, this delivery included (1 on the first run).
    pub attempts: u32,
    /// The worker holding the lease.
    pub worker: String,
    /// The backend's handle for this delivery (store row id, stream entry id).
    pub(crate) receipt: String,
}

/// The work queue. See the crate docs for the at-least-once contract.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Adds a job, visible now.
    async fn push(&self, job: &QueueJob) -> Result<JobId>;
    /// Adds a job that becomes visible after `delay`; durable (survives restarts).
    async fn push_delayed(&self, job: &QueueJob, delay: Duration) -> Result<JobId>;
    /// Adds a job already leased to `worker`, who runs it at once itself (skipping a round trip
    /// through the queue); if the worker dies, the job is reclaimed like any leased job. `None`
    /// when the backend cannot create a job and its lease in one step: push it instead.
    async fn push_leased(&self, job: &QueueJob, worker: &str) -> Result<Option<Delivery>> {
        let _ = (job, worker);
        Ok(None)
    }
    /// Waits up to `wait` for a job and leases it to `worker`; `None` if none came.
    async fn pull(&self, worker: &str, wait: Duration) -> Result<Option<Delivery>>;
    /// Removes a delivered job. [`QueueError::LeaseLost`] if the worker no longer holds it.
    async fn ack(&self, d: &Delivery) -> Result<()>;
    /// Gives a job back to be delivered again after `delay`, with one more attempt counted.
    async fn nack(&self, d: &Delivery, delay: Duration) -> Result<()>;
    /// Renews the lease so a long execution is not taken for dead; call well within the lease.
    async fn extend(&self, d: &Delivery) -> Result<()>;
    /// Jobs in the queue: ready, delayed and leased.
    async fn len(&self) -> Result<u64>;
    /// Whether [`JobQueue::len`] is zero.
    async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }
    /// The backend's name, for logs and `/metrics` labels.
    fn backend(&self) -> &'static str;
}
