//! The Redis queue: a stream read through one consumer group, plus a sorted set of delayed jobs.
//!
//! Keys (`prefix` defaults to `flowork:queue`; the braces keep both keys in one Redis Cluster
//! slot, which the scripts need):
//! - `<prefix>:{<queue>}:stream`: ready and leased jobs, one entry each (`env` = JSON envelope).
//! - `<prefix>:{<queue>}:delayed`: jobs not yet due, scored by due time in ms (server clock).
//!
//! Why streams: `XREADGROUP` gives each entry to exactly one consumer and records it in the
//! group's pending list (PEL) until `XACK`, so a leased job survives its worker. A dead worker
//! never acks, so its entries sit idle in the PEL; every `pull` first runs `XAUTOCLAIM` with
//! min-idle = the lease, which moves such entries to the caller. That is the reclaim: no sweeper,
//! no heartbeat table, and nothing is lost when a worker dies mid-job. A live worker with a long
//! job calls `extend` (`XCLAIM` to itself, `JUSTID`), which resets the idle clock.
//!
//! Delayed jobs (`push_delayed`, `nack`) go into the sorted set; `pull` runs a script that moves
//! the due ones into the stream atomically (see `scripts`). A job is therefore only due-checked
//! while some worker is pulling, which every worker does in a loop.
//!
//! `pull` blocks in slices of `tick` (default 100 ms) so delayed and reclaimable jobs are noticed
//! while it waits. Blocking reads use their own connections (a small pool, one per concurrent
//! `pull`), because a blocked command would stall every other command multiplexed on the shared
//! connection. All connections are `ConnectionManager`s and reconnect by themselves.
//!
//! Acked entries are deleted (`XDEL`), so `XLEN` counts exactly the ready and leased jobs.

mod gas;
mod read;
mod scripts;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

pub use self::gas::RedisGasLedger;
use self::scripts::Scripts;
use crate::{DEFAULT_LEASE, Delivery, JobId, JobQueue, QueueError, QueueJob, Result};

const BACKEND: &str = "redis";
const GROUP: &str = "workers";
/// Longest delay accepted (ten years); keeps the scores exact in the scripts' doubles.
const MAX_DELAY_MS: u64 = 10 * 365 * 24 * 3600 * 1000;
/// How long a command may take beyond its own blocking time before the connection is dropped.
const RESPONSE_SLACK: Duration = Duration::from_secs(10);

/// Where and how to run a [`RedisQueue`].
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db` (or `rediss://`).
    pub url: String,
    /// The queue's name; workers sharing it share the jobs.
    pub queue: String,
    /// Key prefix, `flowork:queue` by default; tests use a random one.
    pub prefix: String,
    /// Idle time after which a leased job is reclaimed from its worker (default 60 s).
    pub lease: Duration,
    /// Longest single blocking read inside `pull` (default 100 ms).
    pub tick: Duration,
}

impl RedisConfig {
    /// The defaults for queue `queue` at `url`.
    pub fn new(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            queue: queue.into(),
            prefix: "flowork:queue".to_owned(),
            lease: DEFAULT_LEASE,
            tick: Duration::from_millis(100),
        }
    }
}

/// What a stream entry or delayed member holds.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The job's stable id (entry ids change when a job is delayed again).
    id: String,
    /// Deliveries before this entry was written.
    attempts: u32,
    job: QueueJob,
}

/// A [`JobQueue`] over Redis Streams.
pub struct RedisQueue {
    client: redis::Client,
    conn: ConnectionManager,
    /// Idle connections for blocking reads.
    readers: Mutex<Vec<ConnectionManager>>,
    stream: String,
    delayed: String,
    cfg: RedisConfig,
    /// Where the next `XAUTOCLAIM` scan of the pending list starts.
    cursor: Mutex<String>,
    scripts: Scripts,
}

impl RedisQueue {
    /// Connects and creates the stream and consumer group if they do not exist.
    pub async fn connect(cfg: RedisConfig) -> Result<Self> {
        let client = redis::Client::open(cfg.url.as_str())?;
        let conn = client
            .get_connection_manager_with_config(manager_config(cfg.tick))
            .await?;
        let base = format!("{}:{{{}}}", cfg.prefix, cfg.queue);
        let q = Self {
            client,
            conn,
            readers: Mutex::new(Vec::new()),
            stream: format!("{base}:stream"),
            delayed: format!("{base}:delayed"),
            cfg,
            cursor: Mutex::new("0-0".to_owned()),
            scripts: Scripts::new(),
        };
        q.ensure_group().await?;
        Ok(q)
    }

    /// Creates the group (from the stream's start, so jobs pushed before it are not skipped).
    async fn ensure_group(&self) -> Result<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn.clone())
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Writes `env` to the delayed set, due after `delay`.
    async fn schedule(&self, env: &Envelope, delay: Duration) -> Result<()> {
        self.scripts
            .delay
            .key(&self.delayed)
            .arg(delay_ms(delay))
            .arg(serde_json::to_string(env)?)
            .invoke_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Runs an ownership-checked script (ack, extend) on `d`'s entry.
    async fn owned(&self, d: &Delivery, script: &redis::Script) -> Result<()> {
        let done: i64 = script
            .key(&self.stream)
            .arg(GROUP)
            .arg(&d.receipt)
            .arg(&d.worker)
            .invoke_async(&mut self.conn.clone())
            .await?;
        lease_kept(done, d)
    }
}

#[async_trait]
impl JobQueue for RedisQueue {
    async fn push(&self, job: &QueueJob) -> Result<JobId> {
        let env = Envelope::new(job);
        let _: String = redis::cmd("XADD")
            .arg(&self.stream)
            .arg("*")
            .arg("env")
            .arg(serde_json::to_string(&env)?)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(JobId(env.id))
    }

    async fn push_delayed(&self, job: &QueueJob, delay: Duration) -> Result<JobId> {
        let env = Envelope::new(job);
        self.schedule(&env, delay).await?;
        Ok(JobId(env.id))
    }

    async fn pull(&self, worker: &str, wait: Duration) -> Result<Option<Delivery>> {
        self.pull_until(worker, tokio::time::Instant::now() + wait)
            .await
    }

    async fn ack(&self, d: &Delivery) -> Result<()> {
        self.owned(d, &self.scripts.ack).await
    }

    async fn nack(&self, d: &Delivery, delay: Duration) -> Result<()> {
        let env = Envelope {
            id: d.id.0.clone(),
            attempts: d.attempts,
            job: d.job.clone(),
        };
        let done: i64 = self
            .scripts
            .nack
            .key(&self.stream)
            .key(&self.delayed)
            .arg(GROUP)
            .arg(&d.receipt)
            .arg(&d.worker)
            .arg(delay_ms(delay))
            .arg(serde_json::to_string(&env)?)
            .invoke_async(&mut self.conn.clone())
            .await?;
        lease_kept(done, d)
    }

    async fn extend(&self, d: &Delivery) -> Result<()> {
        self.owned(d, &self.scripts.extend).await
    }

    async fn len(&self) -> Result<u64> {
        let (ready, delayed): (u64, u64) = redis::pipe()
            .xlen(&self.stream)
            .zcard(&self.delayed)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(ready + delayed)
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

impl Envelope {
    fn new(job: &QueueJob) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            attempts: 0,
            job: job.clone(),
        }
    }
}

/// Connection settings: give up connecting after 5 s, and on a reply after the longest block
/// plus slack, so a half-dead connection is replaced instead of hanging a worker.
fn manager_config(tick: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(5))
        .set_response_timeout(tick + RESPONSE_SLACK)
}

fn delay_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).map_or(MAX_DELAY_MS, |ms| ms.min(MAX_DELAY_MS))
}

/// A script's 1 (done) or 0 (the worker no longer owns the entry).
fn lease_kept(done: i64, d: &Delivery) -> Result<()> {
    if done == 1 {
        Ok(())
    } else {
        Err(QueueError::LeaseLost {
            id: d.id.0.clone(),
            worker: d.worker.clone(),
        })
    }
}
