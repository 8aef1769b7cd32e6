//! Executions and node runs on SQLite.

use async_trait::async_trait;
use flowork_model::{ExecutionId, ExecutionStatus, Timestamp};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::rows::{self, EXECUTION_COLS, NODE_RUN_COLS};
use super::{SqliteStore, db_err, is_fk_violation, now};
use crate::api::ExecutionStore;
use crate::blob;
use crate::error::{Result, StorageError};
use crate::types::{
    Execution, ExecutionFilter, ExecutionUpdate, NewExecution, NodeRun, Page, UNFINISHED,
};

fn load(conn: &Connection, id: &str) -> Result<Execution> {
    conn.prepare_cached(&format!(
        "SELECT {EXECUTION_COLS} FROM executions WHERE id = ?1"
    ))
    .and_then(|mut st| st.query_row([id], rows::execution).optional())
    .map_err(db_err)?
    .ok_or_else(|| StorageError::not_found("execution", id))
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn create_execution(&self, new: NewExecution) -> Result<Execution> {
        let input = rows::to_json(&new.input)?;
        let t = now();
        let status = if new.started {
            ExecutionStatus::Running
        } else {
            ExecutionStatus::Queued
        };
        let (id, workflow_id) = (new.id.to_string(), new.workflow_id.to_string());
        let (trigger, parent) = (new.trigger.clone(), new.parent_id.map(|p| p.to_string()));
        let started = new.started.then_some(t);
        // No RETURNING: the row is what was sent, so nothing is read back on the writer thread.
        self.write(move |c| {
            c.prepare_cached(
                r#"INSERT INTO executions (id, workflow_id, version, status, "trigger", input,
                   parent_id, created_at, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"#,
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    workflow_id,
                    new.version,
                    status.as_str(),
                    trigger,
                    input,
                    parent,
                    t,
                    started,
                ])
            })
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StorageError::not_found("workflow", &workflow_id)
                } else {
                    db_err(e)
                }
            })
        })
        .await?;
        Ok(Execution {
            id: new.id,
            workflow_id: new.workflow_id,
            version: new.version,
            status,
            trigger: new.trigger,
            input: new.input,
            output: None,
            error: None,
            parent_id: new.parent_id,
            created_at: Timestamp(t),
            started_at: started.map(Timestamp),
            finished_at: None,
        })
    }

    async fn get_execution(&self, id: ExecutionId) -> Result<Execution> {
        self.read(move |c| load(c, &id.to_string())).await
    }

    async fn list_executions(&self, filter: ExecutionFilter, page: Page) -> Result<Vec<Execution>> {
        let mut sql = format!("SELECT {EXECUTION_COLS} FROM executions WHERE 1 = 1");
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(wf) = filter.workflow_id {
            args.push(SqlValue::Text(wf.to_string()));
            sql.push_str(&format!(" AND workflow_id = ?{}", args.len()));
        }
        if let Some(status) = filter.status {
            args.push(SqlValue::Text(status.as_str().to_owned()));
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        if let Some(after) = page.after.clone() {
            args.push(SqlValue::Text(after));
            sql.push_str(&format!(" AND id < ?{}", args.len()));
        }
        args.push(SqlValue::Integer(i64::from(page.effective_limit())));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
        self.read(move |c| {
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            st.query_map(params_from_iter(args), rows::execution)
                .and_then(|it| it.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn update_execution(
        &self,
        id: ExecutionId,
        update: ExecutionUpdate,
    ) -> Result<Execution> {
        let output = rows::to_json_opt(update.output.as_ref())?;
        self.write(move |c| update_row(c, id, &update, output.as_deref()))
            .await?
            .parse()
            .map_err(db_err)
    }

    async fn put_node_run(&self, run: NodeRun) -> Result<()> {
        let row = RunRow::new(run)?;
        self.write(move |c| row.put(c)).await
    }

    async fn put_node_runs(&self, runs: Vec<NodeRun>) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let rows = runs
            .into_iter()
            .map(RunRow::new)
            .collect::<Result<Vec<_>>>()?;
        self.write(move |c| rows.iter().try_for_each(|r| r.put(c)))
            .await
    }

    async fn update_execution_with(
        &self,
        id: ExecutionId,
        update: ExecutionUpdate,
        runs: Vec<NodeRun>,
    ) -> Result<Execution> {
        let output = rows::to_json_opt(update.output.as_ref())?;
        let rows = runs
            .into_iter()
            .map(RunRow::new)
            .collect::<Result<Vec<_>>>()?;
        // One write: the records and the outcome commit together (or not at all).
        self.write(move |c| {
            rows.iter().try_for_each(|r| r.put(c))?;
            update_row(c, id, &update, output.as_deref())
        })
        .await?
        .parse()
        .map_err(db_err)
    }

    async fn list_node_runs(&self, id: ExecutionId) -> Result<Vec<NodeRun>> {
        self.read(move |c| {
            // Same columns as NODE_RUN_COLS, with blobs joined back in.
            let mut st = c
                .prepare_cached(
                    "SELECT r.execution_id, r.node_id, r.attempt, r.status,
                       COALESCE(i.data, r.input), COALESCE(o.data, r.output), r.error, r.gas,
                       r.started_at, r.finished_at, r.port
                     FROM node_runs r
                     LEFT JOIN blobs i ON i.hash = r.input_blob
                     LEFT JOIN blobs o ON o.hash = r.output_blob
                     WHERE r.execution_id = ?1
                     ORDER BY r.started_at, r.seq",
                )
                .map_err(db_err)?;
            st.query_map([id.to_string()], rows::node_run)
                .and_then(|it| it.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn delete_finished_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        if limit == 0 {
            return Ok(0);
        }
        // One statement, so atomic; node runs go with their execution (ON DELETE CASCADE).
        // SQLite has no DELETE ... LIMIT by default, hence the subquery (oldest first, on the
        // partial index executions_by_finished).
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM executions WHERE id IN (
                       SELECT id FROM executions
                       WHERE finished_at IS NOT NULL AND finished_at < ?1
                         AND status NOT IN (?2, ?3, ?4)
                       ORDER BY finished_at LIMIT ?5)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        before.millis(),
                        UNFINISHED[0].as_str(),
                        UNFINISHED[1].as_str(),
                        UNFINISHED[2].as_str(),
                        i64::from(limit),
                    ])
                })
                .map_err(db_err)?;
            // Blobs no node run uses any more (see crate::blob on why the grace period).
            c.prepare_cached(
                "DELETE FROM blobs WHERE touched_at < ?1
                   AND NOT EXISTS (SELECT 1 FROM node_runs WHERE input_blob = blobs.hash)
                   AND NOT EXISTS (SELECT 1 FROM node_runs WHERE output_blob = blobs.hash)",
            )
            .and_then(|mut st| st.execute([now() - blob::BLOB_GRACE_MS]))
            .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }
}

/// Moves execution `id` as `update` says (`output` is its JSON text), in one statement: only an
/// unfinished execution changes; `started_at` is set by the first move to running,
/// `finished_at` by the move to a terminal status.
fn update_row(
    c: &Connection,
    id: ExecutionId,
    update: &ExecutionUpdate,
    output: Option<&str>,
) -> Result<rows::ExecutionText> {
    let id = id.to_string();
    let t = now();
    let updated = c
        .prepare_cached(&format!(
            "UPDATE executions SET status = ?2, output = COALESCE(?3, output),
               error = COALESCE(?4, error),
               started_at = COALESCE(started_at, CASE WHEN ?2 = ?5 THEN ?7 END),
               finished_at = ?6
             WHERE id = ?1 AND status IN (?8, ?9, ?10)
             RETURNING {EXECUTION_COLS}"
        ))
        .and_then(|mut st| {
            st.query_row(
                params![
                    id,
                    update.status.as_str(),
                    output,
                    update.error,
                    ExecutionStatus::Running.as_str(),
                    update.status.is_terminal().then_some(t),
                    t,
                    UNFINISHED[0].as_str(),
                    UNFINISHED[1].as_str(),
                    UNFINISHED[2].as_str(),
                ],
                rows::execution_text,
            )
            .optional()
        })
        .map_err(db_err)?;
    match updated {
        Some(exec) => Ok(exec),
        // Missing (not found) or already finished (conflict): say which.
        None => {
            let current = load(c, &id)?;
            Err(StorageError::Conflict(format!(
                "execution {id} is already {}",
                current.status
            )))
        }
    }
}

/// A node run ready to write: serialized (and split into blobs) before it reaches the writer
/// thread, which then only runs SQL.
struct RunRow {
    run: NodeRun,
    input: String,
    output: Option<String>,
    input_blob: Option<blob::Blob>,
    output_blob: Option<blob::Blob>,
    gas: i64,
}

impl RunRow {
    fn new(run: NodeRun) -> Result<Self> {
        let (input, input_blob) = blob::split(rows::to_json(&run.input)?);
        let (output, output_blob) = match rows::to_json_opt(run.output.as_ref())?.map(blob::split) {
            Some((text, blob)) => (Some(text), blob),
            None => (None, None),
        };
        let gas = rows::to_i64("gas", run.gas)?;
        Ok(Self {
            run,
            input,
            output,
            input_blob,
            output_blob,
            gas,
        })
    }

    /// Inserts or replaces the row keyed by (execution, node, attempt), with its blobs.
    fn put(&self, c: &Connection) -> Result<()> {
        let t = now();
        for blob in [&self.input_blob, &self.output_blob].into_iter().flatten() {
            put_blob(c, blob, t)?;
        }
        let hash = |b: &Option<blob::Blob>| b.as_ref().map(|b| b.hash.clone());
        let run = &self.run;
        c.prepare_cached(&format!(
            "INSERT INTO node_runs ({NODE_RUN_COLS}, input_blob, output_blob)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (execution_id, node_id, attempt) DO UPDATE SET
               status = excluded.status, input = excluded.input, output = excluded.output,
               error = excluded.error, gas = excluded.gas, started_at = excluded.started_at,
               finished_at = excluded.finished_at, port = excluded.port,
               input_blob = excluded.input_blob, output_blob = excluded.output_blob"
        ))
        .and_then(|mut st| {
            st.execute(params![
                run.execution_id.to_string(),
                run.node_id,
                run.attempt,
                run.status.as_str(),
                self.input,
                self.output,
                run.error,
                self.gas,
                run.started_at.millis(),
                run.finished_at.map(|t| t.millis()),
                run.port,
                hash(&self.input_blob),
                hash(&self.output_blob),
            ])
        })
        .map_err(|e| {
            if is_fk_violation(&e) {
                StorageError::not_found("execution", run.execution_id)
            } else {
                db_err(e)
            }
        })?;
        Ok(())
    }
}

/// Stores a blob, or refreshes it if it is there (see crate::blob).
fn put_blob(c: &Connection, blob: &blob::Blob, t: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO blobs (hash, data, size, touched_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at",
    )
    .and_then(|mut st| st.execute(params![blob.hash, blob.text, blob.text.len() as i64, t]))
    .map_err(db_err)?;
    Ok(())
}
