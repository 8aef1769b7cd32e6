//! The embedded queue: one named queue in the store's `queue` table (SQLite or Postgres).
//!
//! The store does the hard part: `lease` hands the oldest visible row to exactly one worker and
//! hides it until the lease runs out, after which any worker's `lease` takes it again, so a dead
//! worker's job is reclaimed without a separate sweeper. Delays are rows whose `available_at` is
//! in the future, so they are as durable as the database.
//!
//! The store has no notification, so `pull` polls with a doubling backoff (5 ms up to 50 ms): a
//! new job waits at most ~50 ms on an idle worker, and an idle worker costs ~20 small writes a
//! second.
//!
//! `extend` renews the lease in place (`QueueStore::extend_lease`): the row stays hidden for
//! another full lease from now, keeping its id and attempt count. Once the lease has run out it
//! fails with [`QueueError::LeaseLost`], even if no other worker has taken the job yet (Redis
//! would still renew it then), so renew well within the lease.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowork_storage::{Job, StorageError, Store};
use tokio::time::Instant;

use crate::{DEFAULT_LEASE, Delivery, JobId, JobQueue, QueueError, QueueJob, Result};

const BACKEND: &str = "embedded";
const MIN_STEP: Duration = Duration::from_millis(5);
const MAX_STEP: Duration = Duration::from_millis(50);

/// A [`JobQueue`] over the store's `QueueStore`.
#[derive(Clone)]
pub struct EmbeddedQueue {
    store: Arc<dyn Store>,
    name: String,
    lease: Duration,
}

impl EmbeddedQueue {
    /// The queue called `name` in `store`, with the default lease (60 s).
    pub fn new(store: Arc<dyn Store>, name: impl Into<String>) -> Self {
        Self {
            store,
            name: name.into(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Sets how long a pulled job stays leased before another worker may take it, and how far
    /// each [`JobQueue::extend`] pushes that out.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The row id behind a delivery; rejects deliveries from other backends.
    fn row(d: &Delivery) -> Result<i64> {
        d.receipt.parse().map_err(|_| {
            QueueError::InvalidDelivery(format!("{:?} is not an embedded job id", d.receipt))
        })
    }

    /// Maps the store's "you no longer hold it" to [`QueueError::LeaseLost`].
    fn lost(d: &Delivery) -> impl FnOnce(StorageError) -> QueueError + '_ {
        move |e| match e {
            StorageError::Conflict(_) => QueueError::LeaseLost {
                id: d.id.0.clone(),
                worker: d.worker.clone(),
            },
            e => e.into(),
        }
    }

    /// Turns a leased row into a delivery; a row that is not a job is dropped with an error log,
    /// because redelivering it could only fail again.
    async fn decode(&self, job: Job, worker: &str) -> Result<Option<Delivery>> {
        match serde_json::from_value::<QueueJob>(job.payload.clone()) {
            Ok(q) => Ok(Some(Delivery {
                id: JobId(job.id.to_string()),
                job: q,
                attempts: job.attempts,
                worker: worker.to_owned(),
                receipt: job.id.to_string(),
            })),
            Err(e) => {
                tracing::error!(queue = %self.name, job = job.id, payload = %job.payload,
                    error = %e, "dropping a queue row that is not a job");
                self.store.ack(job.id, worker).await?;
                Ok(None)
            }
        }
    }

    async fn enqueue(&self, job: &QueueJob, delay: Duration) -> Result<JobId> {
        let payload = serde_json::to_value(job)?;
        let id = self.store.enqueue(&self.name, payload, delay).await?;
        Ok(JobId(id.to_string()))
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn push(&self, job: &QueueJob) -> Result<JobId> {
        self.enqueue(job, Duration::ZERO).await
    }

    async fn push_delayed(&self, job: &QueueJob, delay: Duration) -> Result<JobId> {
        self.enqueue(job, delay).await
    }

    async fn push_leased(&self, job: &QueueJob, worker: &str) -> Result<Option<Delivery>> {
        let payload = serde_json::to_value(job)?;
        let row = (self.store)
            .enqueue_leased(&self.name, payload, worker, self.lease)
            .await?;
        Ok(Some(Delivery {
            id: JobId(row.id.to_string()),
            job: job.clone(),
            attempts: row.attempts,
            worker: worker.to_owned(),
            receipt: row.id.to_string(),
        }))
    }

    async fn pull(&self, worker: &str, wait: Duration) -> Result<Option<Delivery>> {
        let deadline = Instant::now() + wait;
        let mut step = MIN_STEP;
        loop {
            if let Some(job) = self.store.lease(&self.name, worker, self.lease).await? {
                match self.decode(job, worker).await? {
                    Some(d) => return Ok(Some(d)),
                    None => continue,
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::time::sleep(step.min(left)).await;
            step = (step * 2).min(MAX_STEP);
        }
    }

    async fn ack(&self, d: &Delivery) -> Result<()> {
        let row = Self::row(d)?;
        self.store.ack(row, &d.worker).await.map_err(Self::lost(d))
    }

    async fn nack(&self, d: &Delivery, delay: Duration) -> Result<()> {
        let row = Self::row(d)?;
        (self.store.nack(row, &d.worker, delay).await).map_err(Self::lost(d))
    }

    async fn extend(&self, d: &Delivery) -> Result<()> {
        let row = Self::row(d)?;
        (self.store.extend_lease(row, &d.worker, self.lease).await).map_err(Self::lost(d))
    }

    async fn len(&self) -> Result<u64> {
        Ok(self.store.queue_len(&self.name).await?)
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}
