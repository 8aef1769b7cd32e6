//! The SQLite backend: one file in WAL mode, the embedded default.
//!
//! One writer connection, owned by a dedicated writer thread, serializes writes (SQLite allows one
//! writer anyway, and queuing in-process beats spinning on `SQLITE_BUSY`); a few reader
//! connections serve reads concurrently thanks to WAL, on the blocking pool. No call runs on the
//! async runtime.
//!
//! Group commit: the writer thread takes every write queued when it wakes (up to
//! [`MAX_BATCH`]) and runs them in one transaction, each inside its own savepoint, so a write that
//! fails is rolled back alone. Every caller gets its result only after that transaction commits:
//! a write that returned `Ok` is in the database, exactly as with one transaction per write. Under
//! load this saves a commit (and the thread hand-offs) per write; alone, a write costs what it did.

mod accounts;
mod executions;
mod gas;
mod members;
mod queue;
mod records;
mod rows;
mod webhook_buffer;
mod workflows;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use flowork_model::Timestamp;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::api::Store;
use crate::error::{Result, StorageError};
use crate::migrate;
use crate::types::Backend;
use writer::{Pending, WriteJob};

/// How long a connection waits for another process' lock before giving up with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most writes the writer thread commits in one transaction.
const MAX_BATCH: usize = 256;

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    /// Feeds the writer thread; `None` only while dropping (which stops the thread).
    writes: Option<mpsc::Sender<Box<dyn WriteJob>>>,
    writer_thread: Option<JoinHandle<()>>,
    /// Stops the checkpointer when dropped (none for `:memory:`).
    checkpointer: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    /// Owned by the writer thread while it runs a batch; `:memory:` reads use it too.
    writer: Arc<Mutex<Connection>>,
    /// Empty for `:memory:` databases, whose readers would each see a different database.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directory if needed) and migrates the database at
    /// `path`, with up to `max_connections` reader connections.
    pub async fn open(path: &str, max_connections: usize) -> Result<SqliteStore> {
        let path = path.to_owned();
        let inner = tokio::task::spawn_blocking(move || Inner::open(path, max_connections))
            .await
            .map_err(|e| StorageError::Backend(format!("sqlite open task failed: {e}")))??;
        Ok(SqliteStore {
            inner: Arc::new(inner),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Runs `f` on the writer thread, inside the transaction of its batch (in a savepoint of its
    /// own: if `f` fails, whatever it wrote is rolled back). Returns once that transaction has
    /// committed, or with the commit's error if it did not.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: Fn(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(Pending::new(f, tx));
        let stopped = || StorageError::Backend("the sqlite writer thread stopped".into());
        self.inner
            .writes
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Runs `f` atomically on the writer: all of its writes commit, or none if it fails. (Every
    /// write is: this is [`SqliteStore::write`], named for the calls that make several.)
    pub(crate) async fn transact<T, F>(&self, f: F) -> Result<T>
    where
        F: Fn(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write(f).await
    }

    /// Runs `f` with a reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            if inner.readers.is_empty() {
                let conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                return f(&conn);
            }
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed) % n;
            // Prefer an idle reader; wait on the round-robin one only if all are busy.
            for i in 0..n {
                if let Ok(conn) = inner.readers[(start + i) % n].try_lock() {
                    return f(&conn);
                }
            }
            let conn = inner.readers[start]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("sqlite task failed: {e}")))?
    }
}

impl Inner {
    fn open(path: String, max_connections: usize) -> Result<Inner> {
        let memory = path == ":memory:";
        let cannot = |what: &str, e: &dyn std::fmt::Display| {
            StorageError::Config(format!("cannot {what} sqlite file {path}: {e}"))
        };
        if path.is_empty() {
            return Err(StorageError::Config(
                "empty sqlite path (sqlite://<path>)".into(),
            ));
        }
        let parent = Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = parent.filter(|_| !memory) {
            std::fs::create_dir_all(dir).map_err(|e| cannot("create the directory of", &e))?;
        }
        let mut writer = open_conn(&path, false).map_err(|e| cannot("open", &e))?;
        if writer
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|e| cannot("open", &e))?
        {
            return Err(cannot("write", &"the file is read-only"));
        }
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| cannot("open", &e))?;
        if !memory && !mode.eq_ignore_ascii_case("wal") {
            return Err(cannot(
                "use WAL mode on",
                &format!("journal_mode is {mode}"),
            ));
        }
        migrate::run_sqlite(&mut writer, Timestamp::now().millis()).map_err(|e| match &e {
            StorageError::Migration { reason, .. } if is_io_reason(reason) => {
                cannot("write", reason)
            }
            _ => e,
        })?;
        crate::legacy::sqlite(&mut writer)?;
        let readers = if memory {
            Vec::new()
        } else {
            (0..max_connections.max(1))
                .map(|_| {
                    open_conn(&path, true)
                        .map(Mutex::new)
                        .map_err(|e| cannot("open", &e))
                })
                .collect::<Result<_>>()?
        };
        let commits = Arc::new(AtomicU64::new(0));
        let checkpointer = if memory {
            None
        } else {
            // The checkpointer does the WAL's copying; the writer only past writer::WAL_LIMIT.
            writer
                .pragma_update(None, "wal_autocheckpoint", writer::WAL_LIMIT)
                .map_err(|e| cannot("open", &e))?;
            let conn = open_conn(&path, false).map_err(|e| cannot("open", &e))?;
            let (stop, stopped) = mpsc::channel();
            let commits = Arc::clone(&commits);
            let thread = std::thread::Builder::new()
                .name("sqlite-checkpt".into())
                .spawn(move || writer::checkpoint_loop(conn, commits, stopped))
                .map_err(|e| cannot("start the checkpoint thread for", &e))?;
            Some((stop, thread))
        };
        let writer = Arc::new(Mutex::new(writer));
        let (writes, queued) = mpsc::channel();
        let conn = Arc::clone(&writer);
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::write_loop(&conn, &queued, &commits))
            .map_err(|e| cannot("start the writer thread for", &e))?;
        Ok(Inner {
            path,
            writes: Some(writes),
            writer_thread: Some(writer_thread),
            checkpointer,
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish what is queued, then stop.
        self.writes = None;
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
        if let Some((stop, t)) = self.checkpointer.take() {
            drop(stop);
            let _ = t.join();
        }
    }
}

fn open_conn(path: &str, reader: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    if reader {
        // A guard: reads must never write behind the writer's back.
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

fn is_io_reason(reason: &str) -> bool {
    ["readonly", "unable to open", "disk I/O", "permission"]
        .iter()
        .any(|s| reason.contains(s))
}

/// Maps a SQLite error: uniqueness violations are conflicts, the rest backend failures.
pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let detail = msg.clone().unwrap_or_else(|| f.to_string());
        match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return StorageError::Conflict(detail);
            }
            _ => {}
        }
    }
    StorageError::Backend(e.to_string())
}

/// Whether `e` is a foreign key violation (the referenced row does not exist).
pub(crate) fn is_fk_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// The current time in the stores' unit.
pub(crate) fn now() -> i64 {
    Timestamp::now().millis()
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }
}

#[cfg(test)]
mod tests {
    use flowork_model::{Timestamp, WorkflowId};
    use serde_json::json;

    use super::SqliteStore;
    use crate::api::WorkflowStore;
    use crate::error::StorageError;
    use crate::types::{NewWorkflow, WorkflowVersion};

    /// Writes that share a batch stay independent: one that fails half-way is rolled back alone,
    /// the others commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_batch_is_rolled_back_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("batch.db");
        let store = SqliteStore::open(path.to_str().expect("utf8"), 2)
            .await
            .expect("open");
        let ids: Vec<WorkflowId> = (0..64).map(|_| WorkflowId::new()).collect();
        let writes = ids.iter().enumerate().map(|(i, &id)| {
            let store = store.clone();
            async move {
                let new = NewWorkflow {
                    id,
                    name: format!("w{i}"),
                    active: false,
                };
                if i % 2 == 0 {
                    store.create_workflow(new).await.map(|_| ())
                } else {
                    // Inserts the workflow, then fails on the version: all of it must go.
                    let bad = WorkflowVersion {
                        workflow_id: id,
                        version: 2,
                        hash: "00".repeat(32),
                        previous_hash: None,
                        author_id: None,
                        signed: false,
                        record: json!({}),
                        created_at: Timestamp::now(),
                    };
                    store.import_workflow(new, vec![bad]).await.map(|_| ())
                }
            }
        });
        let results = futures::future::join_all(writes).await;
        for (i, (r, id)) in results.into_iter().zip(&ids).enumerate() {
            let stored = store.get_workflow(*id).await;
            if i % 2 == 0 {
                r.expect("a good write commits");
                stored.expect("and is stored");
            } else {
                assert!(matches!(r, Err(StorageError::Conflict(_))), "{r:?}");
                assert!(
                    matches!(stored, Err(StorageError::NotFound { .. })),
                    "{stored:?}"
                );
            }
        }
    }
}
