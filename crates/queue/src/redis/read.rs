//! The Redis queue's `pull`: promote due delayed jobs, reclaim idle ones, then block for new ones.
//!
//! A `pull` cancelled while blocked in `XREADGROUP` may leave a just-delivered entry in this
//! worker's pending list; it is not lost, only reclaimed (by any worker) after the lease.

use std::sync::{Mutex, MutexGuard};

use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingCountReply,
    StreamReadOptions, StreamReadReply,
};
use tokio::time::Instant;

use super::{Envelope, GROUP, RedisQueue, manager_config};
use crate::{Delivery, JobId, QueueError, Result};

/// Delayed jobs moved into the stream per `pull` round; the rest follow on later rounds.
const PROMOTE_BATCH: u32 = 100;

impl RedisQueue {
    pub(super) async fn pull_until(
        &self,
        worker: &str,
        deadline: Instant,
    ) -> Result<Option<Delivery>> {
        loop {
            match self.pull_round(worker, deadline).await {
                // The stream was deleted under us (FLUSHDB, cleanup): recreate it and go on.
                Err(QueueError::Redis(e)) if e.code() == Some("NOGROUP") => {
                    self.ensure_group().await?;
                }
                Ok(None) if Instant::now() < deadline => {}
                done => return done,
            }
        }
    }

    /// Promote, reclaim, then one blocking read of at most `tick`.
    async fn pull_round(&self, worker: &str, deadline: Instant) -> Result<Option<Delivery>> {
        self.promote().await?;
        if let Some(d) = self.reclaim(worker).await? {
            return Ok(Some(d));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        // At least 1 ms when blocking: `BLOCK 0` would mean "forever".
        let block = (!left.is_zero()).then(|| left.min(self.cfg.tick).as_millis().max(1));
        self.read_new(worker, block).await
    }

    async fn promote(&self) -> Result<()> {
        self.scripts
            .promote
            .key(&self.delayed)
            .key(&self.stream)
            .arg(PROMOTE_BATCH)
            .invoke_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Takes over one entry that another (presumably dead) worker left idle past the lease.
    async fn reclaim(&self, worker: &str) -> Result<Option<Delivery>> {
        let start = lock(&self.cursor).clone();
        let mut conn = self.conn.clone();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(worker)
            .arg(self.cfg.lease.as_millis())
            .arg(&start)
            .arg(StreamAutoClaimOptions::default().count(1))
            .query_async(&mut conn)
            .await?;
        *lock(&self.cursor) = reply.next_stream_id;
        let Some(entry) = reply.claimed.into_iter().next() else {
            return Ok(None);
        };
        // The group counts deliveries per entry; XAUTOCLAIM just added one.
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1)
            .query_async(&mut conn)
            .await?;
        let delivered = pending.ids.first().map_or(1, |p| p.times_delivered);
        tracing::warn!(stream = %self.stream, entry = %entry.id, worker,
            "reclaimed a job whose lease ran out");
        self.decode(entry, worker, delivered).await
    }

    /// Reads one new entry, blocking up to `block_ms` if given.
    async fn read_new(&self, worker: &str, block_ms: Option<u128>) -> Result<Option<Delivery>> {
        let mut opts = StreamReadOptions::default().group(GROUP, worker).count(1);
        if let Some(ms) = block_ms {
            opts = opts.block(usize::try_from(ms).unwrap_or(usize::MAX));
        }
        let mut conn = self.reader().await?;
        let reply: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREADGROUP")
            .arg(&opts)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut conn)
            .await;
        lock(&self.readers).push(conn);
        match reply?.and_then(|r| r.keys.into_iter().next()?.ids.into_iter().next()) {
            Some(entry) => self.decode(entry, worker, 1).await,
            None => Ok(None),
        }
    }

    /// A delivery from an entry; an entry that is not a job is dropped with an error log,
    /// because redelivering it could only fail again.
    async fn decode(
        &self,
        entry: StreamId,
        worker: &str,
        delivered: usize,
    ) -> Result<Option<Delivery>> {
        let raw: Option<String> = entry.get("env");
        match raw.as_deref().map(serde_json::from_str::<Envelope>) {
            Some(Ok(env)) => Ok(Some(Delivery {
                id: JobId(env.id),
                job: env.job,
                attempts: env
                    .attempts
                    .saturating_add(u32::try_from(delivered).unwrap_or(u32::MAX)),
                worker: worker.to_owned(),
                receipt: entry.id,
            })),
            bad => {
                tracing::error!(stream = %self.stream, entry = %entry.id, raw = ?raw,
                    error = ?bad.and_then(|r| r.err()).map(|e| e.to_string()),
                    "dropping a stream entry that is not a job");
                let _: ((), ()) = redis::pipe()
                    .atomic()
                    .xack(&self.stream, GROUP, &[&entry.id])
                    .xdel(&self.stream, &[&entry.id])
                    .query_async(&mut self.conn.clone())
                    .await?;
                Ok(None)
            }
        }
    }

    /// A connection for one blocking read: an idle pooled one, or a new one.
    async fn reader(&self) -> Result<ConnectionManager> {
        let pooled = lock(&self.readers).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => Ok(self
                .client
                .get_connection_manager_with_config(manager_config(self.cfg.tick))
                .await?),
        }
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked (plain values, no invariants).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
