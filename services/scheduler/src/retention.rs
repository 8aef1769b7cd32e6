//! Execution history retention: finished executions are deleted, with their node runs, once they
//! finished more than `scheduler.retention_days` ago. Queued, running and waiting executions are
//! never deleted, however old.
//!
//! Every scheduler runs the loop; deletes are idempotent (and on Postgres skip rows another
//! scheduler is deleting), so running it on many workers only shares the work.

use std::sync::Arc;
use std::time::Duration;

use flowork_model::Timestamp;
use flowork_storage::{Result, Store};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a pass runs.
pub const EVERY: Duration = Duration::from_secs(10 * 60);
/// When the first pass runs after start: soon, but out of start-up's way.
pub const FIRST_PASS_AFTER: Duration = Duration::from_secs(30);
/// Executions deleted per statement; a pass repeats until a batch comes back short.
pub const BATCH: u32 = 1000;

const DAY_MS: i64 = 86_400_000;

/// Runs retention every [`EVERY`] until `shutdown`, deleting executions that finished more than
/// `days` days ago. `days == 0` keeps history forever: no task, `None`.
///
/// A failed pass is logged and the next one tries again; nothing is lost by waiting.
pub fn spawn(
    store: Arc<dyn Store>,
    days: u32,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if days == 0 {
        tracing::info!("execution history kept forever (scheduler.retention_days = 0)");
        return None;
    }
    tracing::info!(days, "execution history retention on");
    Some(tokio::spawn(async move {
        let mut due = Instant::now() + FIRST_PASS_AFTER;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(due) => {}
            }
            due = Instant::now() + EVERY;
            // Stopping mid-pass is safe: every batch is one atomic statement.
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => break,
                outcome = pass(store.as_ref(), Timestamp::now(), days) => outcome,
            };
            match outcome {
                Ok(0) => tracing::debug!(days, "retention: nothing to delete"),
                Ok(deleted) => {
                    tracing::info!(deleted, days, "retention: deleted finished executions");
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "retention pass failed; retrying in {} s",
                    EVERY.as_secs()
                ),
            }
        }
        tracing::debug!("retention loop stopped");
    }))
}

/// One pass as of `now`: deletes, in batches of [`BATCH`], the executions that finished before
/// `now - days`, until a batch comes back short. Returns how many were deleted. `days == 0`
/// deletes nothing (history is kept forever).
pub async fn pass(store: &dyn Store, now: Timestamp, days: u32) -> Result<u64> {
    if days == 0 {
        return Ok(0);
    }
    // u32::MAX days in ms fits an i64 comfortably; a cutoff before 1970 matches nothing.
    let cutoff = now.millis().saturating_sub(i64::from(days) * DAY_MS);
    if cutoff <= 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let deleted = store
            .delete_finished_before(Timestamp(cutoff), BATCH)
            .await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            break;
        }
        tracing::debug!(total, "retention: batch full, continuing");
    }
    // Claims as old as the history they guarded: which child a parent's node started (or which
    // error workflow a failure did), and which webhook deliveries were seen. A parent still
    // inside one node after the whole retention period is the one case this could re-run.
    for namespace in [crate::runner::CLAIMS, crate::deliveries::NAMESPACE] {
        while store
            .kv_delete_before(namespace, Timestamp(cutoff), BATCH)
            .await?
            == u64::from(BATCH)
        {}
    }
    Ok(total)
}
