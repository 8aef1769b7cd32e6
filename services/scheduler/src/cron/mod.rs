//! Cron triggers: every worker runs a [`CronScheduler`], and each tick fires exactly once across
//! all of them (DESIGN §6).
//!
//! Why it is safe with many workers: a worker fires a tick only after winning its claim, a
//! `kv_put(cron, "<workflow>:<version>:<node>:<tick ms>", worker, Expect::Absent)`; the store
//! lets exactly one such write succeed, so the others get `Conflict` and skip. Workers need no
//! coordination beyond the store, and a dead worker's ticks are simply claimed by the others.
//!
//! Which ticks fire (see [`Schedule::due`]): each pass covers `(last pass, now]`. Ticks that are
//! on time (within `grace` of now) all fire; ticks older than that were missed (every worker
//! down, or the store unreachable), and only the most recent of them fires — a catch-up window
//! of one, like Temporal's, so an outage never ends in a burst. At start-up a worker does not know
//! what happened before, so it fires at most the latest tick of the last `catch_up` (when nobody
//! claimed it yet). Ticks at or before a workflow's `updated_at` (activated, or a version saved)
//! are not fired for it: they belong to the version, or the inactive state, before.
//!
//! Claims are only needed while a tick can still be claimed (`catch_up`), but are kept
//! `retention` (7 days) as a record of which worker fired what; every `cleanup_every` a worker
//! deletes older ones so the namespace does not grow forever.
//!
//! Robustness: a version that does not compile, or whose schedule cannot be read, is logged once
//! and skipped; a storage error is logged and the pass is not counted, so the next pass covers
//! its ticks again (claims make that idempotent). A claim won whose execution could not be
//! started is released, so the tick is retried.

mod schedule;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use flowork_model::workflow::{CompiledNode, CompiledWorkflow};
use flowork_model::{Timestamp, WorkflowId};
use flowork_storage::{Expect, Page, StorageError, Workflow};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::schedule::minus;
pub use self::schedule::{Schedule, ScheduleError};
use crate::engine::EngineError;
use crate::runner::{Runner, StartRequest};

/// The key/value namespace holding tick claims.
pub const NAMESPACE: &str = "cron";
/// The node type this module fires.
pub const KIND: &str = "trigger.cron";
/// Workflows listed per store call (the store's maximum).
const PAGE: u32 = 1000;

/// How a worker's cron scheduler behaves; [`Default`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct CronConfig {
    /// How often due ticks are looked for (default 1 s: the finest cron resolution).
    pub every: Duration,
    /// Ticks older than this before now count as missed: only the latest of them fires
    /// (default 5 s, comfortably more than `every` so a slow pass is not a miss).
    pub grace: Duration,
    /// How far back start-up looks for the one missed tick to fire (default 1 h).
    pub catch_up: Duration,
    /// How long claims are kept (default 7 days; never less than `catch_up` + `grace`).
    pub retention: Duration,
    /// How often old claims are deleted (default 10 min).
    pub cleanup_every: Duration,
    /// Written into each claim won, to tell which worker fired a tick.
    pub worker: String,
}

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(1),
            grace: Duration::from_secs(5),
            catch_up: Duration::from_secs(3600),
            retention: Duration::from_secs(7 * 86_400),
            cleanup_every: Duration::from_secs(600),
            worker: default_worker(),
        }
    }
}

/// A process-unique worker name: the pid alone repeats across schedulers in one process.
fn default_worker() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("cron-{}-{n}", std::process::id())
}

/// Fires the `trigger.cron` nodes of active workflows; one per worker.
pub struct CronScheduler {
    runner: Runner,
    config: CronConfig,
    /// Up to when ticks were handled; `None` until the first clean pass.
    last_check: Option<Timestamp>,
    last_cleanup: Option<Timestamp>,
    /// Versions and nodes already reported as unusable (logged once, not every second).
    reported: HashSet<(WorkflowId, u32, String)>,
}

impl CronScheduler {
    /// A scheduler that starts executions on `runner`.
    pub fn new(runner: Runner, mut config: CronConfig) -> Self {
        config.retention = config.retention.max(config.catch_up + config.grace);
        Self {
            runner,
            config,
            last_check: None,
            last_cleanup: None,
            reported: HashSet::new(),
        }
    }

    /// Runs a scheduler with the default settings, checking `every`, until `shutdown`.
    pub fn spawn(runner: Runner, every: Duration, shutdown: CancellationToken) -> JoinHandle<()> {
        let config = CronConfig {
            every,
            ..CronConfig::default()
        };
        Self::new(runner, config).start(shutdown)
    }

    /// Runs this scheduler on a task until `shutdown`.
    pub fn start(mut self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(self.config.every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = interval.tick() => {}
                }
                let now = Timestamp::now();
                if let Err(e) = self.pass(now).await {
                    tracing::warn!(error = %e, "cron pass failed; its ticks are retried next pass");
                }
                if self.cleanup_due(now)
                    && let Err(e) = self.cleanup(now).await
                {
                    tracing::warn!(error = %e, "cron claim cleanup failed");
                }
            }
            tracing::debug!(worker = %self.config.worker, "cron scheduler stopped");
        })
    }

    /// Fires what is due as of `now`; returns how many executions it started. On an error the
    /// pass does not count: the next one covers the same ticks again.
    pub async fn pass(&mut self, now: Timestamp) -> Result<usize, EngineError> {
        // Start-up has no last check: look back `catch_up`, firing only the latest tick.
        let (after, grace) = match self.last_check {
            Some(t) => (t, self.config.grace),
            None => (minus(now, self.config.catch_up), Duration::ZERO),
        };
        let mut fired = 0;
        let mut clean = true;
        for wf in self.active_workflows().await? {
            let compiled = match self.compile(&wf).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    clean = false;
                    tracing::warn!(workflow = %wf.id, error = %e, "could not load workflow version");
                    continue;
                }
            };
            for node in compiled.nodes.iter().filter(|n| n.kind == KIND) {
                let Some(schedule) = self.schedule(&wf, node) else {
                    continue;
                };
                for tick in schedule.due(after.max(wf.updated_at), now, grace) {
                    match self.fire(&wf, &node.id, tick).await {
                        Ok(started) => fired += usize::from(started),
                        Err(e) => {
                            clean = false;
                            tracing::warn!(workflow = %wf.id, node = %node.id, tick = tick.millis(),
                                error = %e, "cron tick not fired; retried next pass");
                        }
                    }
                }
            }
        }
        if clean {
            self.last_check = Some(now);
        }
        Ok(fired)
    }

    /// Deletes claims older than the retention as of `now`; returns how many.
    pub async fn cleanup(&mut self, now: Timestamp) -> Result<usize, StorageError> {
        self.last_cleanup = Some(now);
        let store = self.runner.engine().store();
        let cutoff = minus(now, self.config.retention);
        let mut deleted = 0;
        loop {
            let n = store.kv_delete_before(NAMESPACE, cutoff, 1000).await?;
            deleted += n as usize;
            if n < 1000 {
                break;
            }
        }
        if deleted > 0 {
            tracing::debug!(deleted, "old cron claims deleted");
        }
        Ok(deleted)
    }

    fn cleanup_due(&self, now: Timestamp) -> bool {
        self.last_cleanup
            .is_none_or(|t| minus(now, self.config.cleanup_every) >= t)
    }

    /// Every active workflow with a saved version, page by page.
    async fn active_workflows(&self) -> Result<Vec<Workflow>, StorageError> {
        let store = self.runner.engine().store();
        let mut active = Vec::new();
        let mut after = None;
        loop {
            let page = Page { limit: PAGE, after };
            let batch = store.list_workflows(page).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id.to_string());
            let full = batch.len() >= PAGE as usize;
            active.extend(batch.into_iter().filter(|w| w.active && w.head_version > 0));
            if !full {
                break;
            }
        }
        Ok(active)
    }

    /// The head version compiled; `None` (logged once) when it is invalid, which no retry fixes.
    async fn compile(
        &mut self,
        wf: &Workflow,
    ) -> Result<Option<Arc<CompiledWorkflow>>, EngineError> {
        match self.runner.engine().compiled(wf.id, wf.head_version).await {
            Ok(c) => Ok(Some(c)),
            Err(e @ EngineError::Invalid { .. }) => {
                if self
                    .reported
                    .insert((wf.id, wf.head_version, String::new()))
                {
                    tracing::warn!(workflow = %wf.id, version = wf.head_version, error = %e,
                        "workflow version does not compile; its cron triggers are skipped");
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn schedule(&mut self, wf: &Workflow, node: &CompiledNode) -> Option<Schedule> {
        match Schedule::of_node(node) {
            Ok(s) => Some(s),
            Err(e) => {
                if self
                    .reported
                    .insert((wf.id, wf.head_version, node.id.clone()))
                {
                    tracing::warn!(workflow = %wf.id, node = %node.id, error = %e,
                        "unreadable cron schedule; node skipped");
                }
                None
            }
        }
    }

    /// Claims `tick` and, when this worker won, starts the execution. Returns whether it started.
    async fn fire(&self, wf: &Workflow, node: &str, tick: Timestamp) -> Result<bool, EngineError> {
        let store = self.runner.engine().store();
        let key = format!("{}:{}:{node}:{}", wf.id, wf.head_version, tick.millis());
        let worker = self.config.worker.as_bytes().to_vec();
        match store.kv_put(NAMESPACE, &key, worker, Expect::Absent).await {
            Ok(_) => {}
            Err(StorageError::Conflict(_)) => {
                tracing::debug!(%key, "cron tick claimed by another worker");
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        let req = StartRequest {
            workflow_id: wf.id,
            version: wf.head_version,
            trigger: node.to_owned(),
            input: json!({"scheduled_at": tick.to_rfc3339(), "tick": tick.millis()}),
            parent_id: None,
        };
        match self.runner.start(req).await {
            Ok(exec) => {
                tracing::info!(workflow = %wf.id, node, execution = %exec.id,
                    scheduled_at = %tick.to_rfc3339(), "cron tick fired");
                Ok(true)
            }
            Err(e) => {
                // Release the claim so this or another worker retries the tick.
                if let Err(del) = store.kv_delete(NAMESPACE, &key).await {
                    tracing::warn!(%key, error = %del, "could not release cron claim");
                }
                Err(e)
            }
        }
    }
}
