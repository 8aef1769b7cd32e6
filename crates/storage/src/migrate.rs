//! The migrations runner, shared by both backends.
//!
//! Migrations are the SQL files in `migrations/<backend>/NNNN_name.sql`, embedded at build time.
//! Each is applied in its own transaction together with its `schema_migrations` row, so a failed
//! migration leaves nothing behind and a re-run is a no-op. An applied migration whose file has
//! changed since (checksum mismatch) is an error: edit the schema with a new migration instead.

use crate::error::{Result, StorageError};

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The `NNNN` prefix of the file name.
    pub version: u32,
    /// The file name without `.sql`.
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($backend:literal: $($version:literal => $name:literal),+ $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../migrations/", $backend, "/", $name, ".sql")),
        }),+]
    };
}

/// The SQLite migrations, in order.
pub(crate) const SQLITE: &[Migration] = migrations!("sqlite":
    1 => "0001_init",
    2 => "0002_node_run_port",
    3 => "0003_executions_by_finished",
    4 => "0004_accounts",
    5 => "0005_webhook_buffer",
    6 => "0006_blobs",
    7 => "0007_drop_executions_by_created",
    8 => "0008_gas_ledger",
    9 => "0009_flowchain_relink",
    10 => "0010_engine_members",
);

/// The Postgres migrations, in order.
pub(crate) const POSTGRES: &[Migration] = migrations!("postgres":
    1 => "0001_init",
    2 => "0002_node_run_port",
    3 => "0003_executions_by_finished",
    4 => "0004_accounts",
    5 => "0005_webhook_buffer",
    6 => "0006_blobs",
    7 => "0007_drop_executions_by_created",
    8 => "0008_gas_ledger",
    9 => "0009_flowchain_relink",
    10 => "0010_engine_members",
);

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL)";

const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL)";

/// Serializes concurrent starters on one schema (the key is scoped to the current schema, so
/// stores in different schemas do not wait for each other).
const POSTGRES_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('flowork.migrate.' || COALESCE(current_schema(), '')))";

impl Migration {
    /// A stable fingerprint of the file (FNV-1a 64 over the text with `\r\n` folded to `\n`, so
    /// a Windows checkout does not look like an edit). It detects edits; it is not a MAC.
    pub(crate) fn checksum(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.sql.replace("\r\n", "\n").bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("fnv1a64:{hash:016x}")
    }

    fn error(&self, reason: impl ToString) -> StorageError {
        StorageError::Migration {
            version: self.version,
            name: self.name.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// Whether the migration still has to be applied, given the checksum stored for it (if any).
    fn pending(&self, stored: Option<String>) -> Result<bool> {
        match stored {
            None => Ok(true),
            Some(c) if c == self.checksum() => Ok(false),
            Some(c) => Err(self.error(format!(
                "checksum mismatch: the database has {c}, this build has {}; \
                 applied migrations must not be edited, add a new one",
                self.checksum()
            ))),
        }
    }
}

/// Applies the pending SQLite migrations; returns how many were applied.
pub(crate) fn run_sqlite(conn: &mut rusqlite::Connection, now_ms: i64) -> Result<usize> {
    let mut applied = 0;
    for m in SQLITE {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| m.error(e))?;
        tx.execute_batch(SQLITE_TABLE).map_err(|e| m.error(e))?;
        let stored = tx
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [i64::from(m.version)],
                |r| r.get::<_, String>(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(m.error(e)),
            })?;
        if !m.pending(stored)? {
            continue;
        }
        tx.execute_batch(m.sql).map_err(|e| m.error(e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)
             VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![i64::from(m.version), m.name, m.checksum(), now_ms],
        )
        .map_err(|e| m.error(e))?;
        tx.commit().map_err(|e| m.error(e))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied sqlite migration"
        );
        applied += 1;
    }
    Ok(applied)
}

/// Applies the pending Postgres migrations; returns how many were applied.
///
/// Every migration's transaction first takes an advisory lock and re-reads its row, so two
/// processes starting together apply each migration exactly once.
pub(crate) async fn run_postgres(
    client: &mut tokio_postgres::Client,
    now_ms: i64,
) -> Result<usize> {
    let mut applied = 0;
    for m in POSTGRES {
        let tx = client.transaction().await.map_err(|e| m.error(e))?;
        tx.batch_execute(POSTGRES_LOCK)
            .await
            .map_err(|e| m.error(e))?;
        tx.batch_execute(POSTGRES_TABLE)
            .await
            .map_err(|e| m.error(e))?;
        let stored = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&i64::from(m.version)],
            )
            .await
            .map_err(|e| m.error(e))?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()
            .map_err(|e| m.error(e))?;
        if !m.pending(stored)? {
            tx.commit().await.map_err(|e| m.error(e))?;
            continue;
        }
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| m.error(pg_reason(&e)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)
             VALUES ($1, $2, $3, $4)",
            &[&i64::from(m.version), &m.name, &m.checksum(), &now_ms],
        )
        .await
        .map_err(|e| m.error(e))?;
        tx.commit().await.map_err(|e| m.error(e))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied postgres migration"
        );
        applied += 1;
    }
    Ok(applied)
}

/// The server's message when there is one (tokio-postgres' Display is only "db error").
fn pg_reason(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_ordered_and_match_file_names() {
        for list in [SQLITE, POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1, "{}", m.name);
                assert!(
                    m.name.starts_with(&format!("{:04}_", m.version)),
                    "{}",
                    m.name
                );
            }
        }
    }

    #[test]
    fn checksum_ignores_line_endings_and_detects_edits() {
        let a = Migration {
            version: 1,
            name: "0001_a",
            sql: "CREATE TABLE t (x INT);\n",
        };
        let b = Migration {
            sql: "CREATE TABLE t (x INT);\r\n",
            ..a
        };
        let c = Migration {
            sql: "CREATE TABLE t (y INT);\n",
            ..a
        };
        assert_eq!(a.checksum(), b.checksum());
        assert_ne!(a.checksum(), c.checksum());
        assert!(a.pending(None).expect("fresh"));
        assert!(!a.pending(Some(a.checksum())).expect("same"));
        let err = a.pending(Some(c.checksum())).expect_err("edited");
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
    }
}
