//! The writer thread and its checkpointer.
//!
//! The writer runs every write of the process in batches (group commit, see the module above).
//! The checkpointer copies the WAL back into the database file on a thread and connection of its
//! own (`PRAGMA wal_checkpoint(PASSIVE)`, which never blocks the writer): left to SQLite's
//! automatic checkpoint, that copy and its fsync ran inside the writer's commits, an eighth of
//! the writer's time, and the writer is the one thing that cannot use the second core.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{MAX_BATCH, db_err};
use crate::error::{Result, StorageError};

/// How often the checkpointer looks for new commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL pages past which the writer checkpoints itself after all (`wal_autocheckpoint`): should
/// the checkpointer fall behind (a slow disk), the WAL still stays bounded. SQLite's default is
/// 1000; the checkpointer keeps the WAL far below this.
pub(super) const WAL_LIMIT: u32 = 16_000;

/// A write waiting for the writer thread.
pub(super) trait WriteJob: Send {
    /// Runs the write; says whether it succeeded (else its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Hands the result to the caller, once the batch's commit is known.
    fn finish(self: Box<Self>, commit: &Result<()>);
}

pub(super) struct Pending<T, F> {
    f: F,
    out: Option<Result<T>>,
    tx: oneshot::Sender<Result<T>>,
}

impl<T, F> Pending<T, F> {
    pub(super) fn new(f: F, tx: oneshot::Sender<Result<T>>) -> Self {
        Self { f, out: None, tx }
    }
}

impl<T, F> WriteJob for Pending<T, F>
where
    F: Fn(&Connection) -> Result<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        // A panicking write fails alone: its savepoint is rolled back, the thread goes on.
        let out = catch_unwind(AssertUnwindSafe(|| (self.f)(conn)))
            .unwrap_or_else(|_| Err(StorageError::Backend("sqlite write panicked".into())));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn finish(self: Box<Self>, commit: &Result<()>) {
        let out = match (self.out, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => Err(StorageError::Backend(format!("commit failed: {e}"))),
            (None, Err(e)) => Err(StorageError::Backend(format!("not run: {e}"))),
            (None, Ok(())) => Err(StorageError::Backend("sqlite write not run".into())),
        };
        // The caller may have gone (its future dropped): the write stands all the same.
        let _ = self.tx.send(out);
    }
}

/// The writer thread: runs what is queued in batches until every sender is gone.
/// `commits` counts the batches committed, for the checkpointer.
pub(super) fn write_loop(
    conn: &Mutex<Connection>,
    queued: &mpsc::Receiver<Box<dyn WriteJob>>,
    commits: &AtomicU64,
) {
    while let Ok(first) = queued.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            run_batch(&conn, &mut batch)
        };
        commits.fetch_add(1, Ordering::Release);
        for job in batch {
            job.finish(&commit);
        }
    }
}

/// Runs `batch` in one `BEGIN IMMEDIATE` transaction and commits it if any job succeeded. An
/// error here (not a job's own) fails the whole batch, rolled back.
///
/// Jobs run back to back first, without savepoints: a savepoint copies every page it touches to
/// the statement journal before changing it, which cost a sixth of the writer's time. Should a
/// job fail, that transaction is rolled back and the batch runs again, each job in a savepoint of
/// its own, so that only the failing ones are rolled back. (Jobs are `Fn` and touch nothing but
/// the connection, so running one twice is running it once.)
fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<()> {
    let exec = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map_err(db_err)
    };
    let end = |done: Result<usize>| {
        // Some errors (a full disk, I/O) end the transaction themselves; never leave one open.
        if done.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        done.map(|_| ())
    };
    exec("BEGIN IMMEDIATE")?;
    if batch.iter_mut().all(|job| job.run(conn)) {
        return end(exec("COMMIT"));
    }
    end(exec("ROLLBACK"))?;
    if batch.len() == 1 {
        // Alone in its transaction: its failure is rolled back already.
        return Ok(());
    }
    exec("BEGIN IMMEDIATE")?;
    let ran = (|| {
        let mut any = false;
        for job in batch.iter_mut() {
            exec("SAVEPOINT job")?;
            if job.run(conn) {
                any = true;
            } else {
                exec("ROLLBACK TO job")?;
            }
            exec("RELEASE job")?;
        }
        Ok(any)
    })();
    end(match ran {
        Ok(true) => exec("COMMIT"),
        Ok(false) => exec("ROLLBACK"),
        Err(e) => Err(e),
    })
}

/// The checkpointer thread: every [`CHECKPOINT_EVERY`], if anything was committed since the last
/// look, copies what it can of the WAL into the database file. Stops when `stop` is dropped.
pub(super) fn checkpoint_loop(conn: Connection, commits: Arc<AtomicU64>, stop: mpsc::Receiver<()>) {
    let mut seen = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let now = commits.load(Ordering::Acquire);
        if now == seen {
            continue;
        }
        seen = now;
        // PASSIVE: copies the frames no reader still needs, waits for no one; what is left is
        // copied next time (and the writer restarts the WAL once all of it was).
        let done = conn
            .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
            .and_then(|mut st| st.query_row([], |_| Ok(())))
            .map_err(db_err);
        if let Err(e) = done {
            tracing::warn!(error = %e, "sqlite checkpoint failed; the writer checkpoints past the WAL limit");
        }
    }
}
