//! Re-linking chains saved before the flow-chain crate defined the version record.
//!
//! Those versions lack the record's `signature` member and were hashed over serde_json's sorted
//! output, so their hashes are not SHA-256 of the RFC 8785 bytes that `flowork chain verify`
//! recomputes. Migration 0009 marks their workflows in `legacy_chains`; at every open the store
//! re-links the marked ones (usually none) and clears each mark in the same transaction, so a
//! crash or two processes starting at once leave nothing half done. Every version keeps its
//! content; only `signature: null`, `hash` and `previous_hash` change. They were all unsigned, so
//! no signature can break; a chain holding a signed record is left alone, with a warning.

use flowork_flowchain::VersionRecord;
use serde_json::Value;

use crate::error::{Result, StorageError};

/// One version as re-linked.
pub(crate) struct Relinked {
    pub version: u32,
    pub hash: String,
    pub previous_hash: Option<String>,
    pub record: Value,
}

/// The chain `rows` (version, record; ascending) rebuilt with flow-chain records and hashes, or
/// `None` when it must be left as it is.
pub(crate) fn relink(workflow: &str, rows: Vec<(u32, Value)>) -> Option<Vec<Relinked>> {
    let mut out: Vec<Relinked> = Vec::with_capacity(rows.len());
    let mut previous: Option<VersionRecord> = None;
    for (version, record) in rows {
        if record.get("signature").is_some_and(|s| !s.is_null()) {
            tracing::warn!(
                workflow,
                version,
                "not re-linking a chain that holds a signed version"
            );
            return None;
        }
        let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_owned);
        let body = record.get("workflow").cloned().unwrap_or(Value::Null);
        let made = VersionRecord::next(
            previous.as_ref(),
            text("workflow_id").unwrap_or_else(|| workflow.to_owned()),
            text("created_at").unwrap_or_default(),
            body,
        )
        .and_then(|mut r| {
            r.version = version;
            let hash = r.hash()?;
            Ok((r, hash))
        });
        let (r, hash) = match made {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(workflow, version, error = %e, "cannot re-link this chain");
                return None;
            }
        };
        let Ok(value) = serde_json::to_value(&r) else {
            return None;
        };
        out.push(Relinked {
            version,
            hash: hash.to_string(),
            previous_hash: r.previous_hash.map(|h| h.to_string()),
            record: value,
        });
        previous = Some(r);
    }
    Some(out)
}

fn sqlite_err(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(format!("re-linking legacy chains: {e}"))
}

/// Re-links every marked chain of a SQLite database; returns how many.
pub(crate) fn sqlite(conn: &mut rusqlite::Connection) -> Result<usize> {
    let ids: Vec<String> = conn
        .prepare("SELECT workflow_id FROM legacy_chains")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(sqlite_err)?;
    for id in &ids {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_err)?;
        let rows: Vec<(u32, String)> = tx
            .prepare(
                "SELECT version, record FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version",
            )
            .and_then(|mut st| st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(sqlite_err)?;
        let rows = rows
            .into_iter()
            .map(|(v, text)| Ok((v, serde_json::from_str(&text)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>();
        if let Some(chain) = rows.ok().and_then(|rows| relink(id, rows)) {
            for v in &chain {
                tx.execute(
                    "UPDATE workflow_versions SET hash = ?3, previous_hash = ?4, record = ?5
                     WHERE workflow_id = ?1 AND version = ?2",
                    rusqlite::params![id, v.version, v.hash, v.previous_hash, v.record.to_string()],
                )
                .map_err(sqlite_err)?;
            }
            if let Some(head) = chain.last() {
                tx.execute(
                    "UPDATE workflows SET head_hash = ?2 WHERE id = ?1",
                    rusqlite::params![id, head.hash],
                )
                .map_err(sqlite_err)?;
            }
        }
        tx.execute("DELETE FROM legacy_chains WHERE workflow_id = ?1", [id])
            .map_err(sqlite_err)?;
        tx.commit().map_err(sqlite_err)?;
    }
    if !ids.is_empty() {
        tracing::info!(workflows = ids.len(), "re-linked legacy version chains");
    }
    Ok(ids.len())
}

fn pg_err(e: tokio_postgres::Error) -> StorageError {
    StorageError::Backend(format!("re-linking legacy chains: {e}"))
}

/// Re-links every marked chain of a Postgres database; returns how many. Each mark is claimed
/// with `FOR UPDATE SKIP LOCKED`, so concurrent starters share the work instead of repeating it.
pub(crate) async fn postgres(client: &mut tokio_postgres::Client) -> Result<usize> {
    let mut done = 0;
    loop {
        let tx = client.transaction().await.map_err(pg_err)?;
        let Some(mark) = tx
            .query_opt(
                "SELECT workflow_id FROM legacy_chains LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await
            .map_err(pg_err)?
        else {
            break;
        };
        let id: String = mark.get(0);
        let rows = tx
            .query(
                "SELECT version, record FROM workflow_versions WHERE workflow_id = $1 ORDER BY version",
                &[&id],
            )
            .await
            .map_err(pg_err)?;
        let rows = rows
            .iter()
            .map(|r| {
                (
                    u32::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    r.get::<_, Value>(1),
                )
            })
            .collect();
        if let Some(chain) = relink(&id, rows) {
            for v in &chain {
                tx.execute(
                    "UPDATE workflow_versions SET hash = $3, previous_hash = $4, record = $5
                     WHERE workflow_id = $1 AND version = $2",
                    &[
                        &id,
                        &i64::from(v.version),
                        &v.hash,
                        &v.previous_hash,
                        &v.record,
                    ],
                )
                .await
                .map_err(pg_err)?;
            }
            if let Some(head) = chain.last() {
                tx.execute(
                    "UPDATE workflows SET head_hash = $2 WHERE id = $1",
                    &[&id, &head.hash],
                )
                .await
                .map_err(pg_err)?;
            }
        }
        tx.execute("DELETE FROM legacy_chains WHERE workflow_id = $1", &[&id])
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        done += 1;
    }
    if done > 0 {
        tracing::info!(workflows = done, "re-linked legacy version chains");
    }
    Ok(done)
}
