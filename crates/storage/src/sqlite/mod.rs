//! The SQLite backend: one file in WAL mode, the embedded default.
//!
//! One writer connection behind a mutex serializes writes (SQLite allows one writer anyway, and
//! queuing in-process beats spinning on `SQLITE_BUSY`); a few reader connections serve reads
//! concurrently thanks to WAL. Every call runs on the blocking pool, never on the runtime.

mod executions;
mod queue;
mod records;
mod rows;
mod workflows;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use flowork_model::Timestamp;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::api::Store;
use crate::error::{Result, StorageError};
use crate::migrate;
use crate::types::Backend;

/// How long a connection waits for another process' lock before giving up with "busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    writer: Mutex<Connection>,
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

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic mid-call drops its transaction (rolled back), so the connection is sound.
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("sqlite task failed: {e}")))?
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction on the writer; commits if it returns Ok.
    pub(crate) async fn transact<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
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
        Ok(Inner {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
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
