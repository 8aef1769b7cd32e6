//! Executions and node runs on Postgres.

use async_trait::async_trait;
use flowork_model::{ExecutionId, ExecutionStatus, Timestamp};
use serde_json::Value;
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::queue::NOW_MS;
use super::rows::{self, EXECUTION_COLS, NODE_RUN_COLS};
use super::{PgStore, db_err, is_fk_violation, now};
use crate::api::ExecutionStore;
use crate::blob;
use crate::error::{Result, StorageError};
use crate::types::{
    Execution, ExecutionFilter, ExecutionUpdate, NewExecution, NodeRun, Page, UNFINISHED,
};

async fn load(c: &impl GenericClient, id: &str, lock: bool) -> Result<Execution> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {EXECUTION_COLS} FROM executions WHERE id = $1{lock}");
    match c.query_opt(&sql, &[&id]).await.map_err(db_err)? {
        Some(row) => rows::execution(&row),
        None => Err(StorageError::not_found("execution", id)),
    }
}

#[async_trait]
impl ExecutionStore for PgStore {
    async fn create_execution(&self, new: NewExecution) -> Result<Execution> {
        let sql = format!(
            r#"INSERT INTO executions (id, workflow_id, version, status, "trigger", input,
               parent_id, created_at, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               RETURNING {EXECUTION_COLS}"#
        );
        let status = if new.started {
            ExecutionStatus::Running
        } else {
            ExecutionStatus::Queued
        };
        let t = now();
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.workflow_id.to_string(),
                    &i64::from(new.version),
                    &status.as_str(),
                    &new.trigger,
                    &new.input,
                    &new.parent_id.map(|p| p.to_string()),
                    &t,
                    &new.started.then_some(t),
                ],
            )
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StorageError::not_found("workflow", new.workflow_id)
                } else {
                    db_err(e)
                }
            })?;
        rows::execution(&row)
    }

    async fn get_execution(&self, id: ExecutionId) -> Result<Execution> {
        load(&**self.client().await?, &id.to_string(), false).await
    }

    async fn list_executions(&self, filter: ExecutionFilter, page: Page) -> Result<Vec<Execution>> {
        let workflow = filter.workflow_id.map(|w| w.to_string());
        let status = filter.status.map(|s| s.as_str());
        let limit = i64::from(page.effective_limit());
        let mut sql = format!("SELECT {EXECUTION_COLS} FROM executions WHERE TRUE");
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(wf) = &workflow {
            args.push(wf);
            sql.push_str(&format!(" AND workflow_id = ${}", args.len()));
        }
        if let Some(status) = &status {
            args.push(status);
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        if let Some(after) = &page.after {
            args.push(after);
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        let client = self.client().await?;
        let found = client.query(&sql, &args).await.map_err(db_err)?;
        found.iter().map(rows::execution).collect()
    }

    async fn update_execution(
        &self,
        id: ExecutionId,
        update: ExecutionUpdate,
    ) -> Result<Execution> {
        self.update_execution_with(id, update, Vec::new()).await
    }

    async fn put_node_run(&self, run: NodeRun) -> Result<()> {
        let blobs = Blobs::of(&run)?;
        let mut client = self.client().await?;
        if blobs.is_empty() {
            // One statement is atomic on its own: no transaction needed.
            return put_run(&**client, &run, &blobs).await;
        }
        // The blobs and the row that references them commit together.
        let tx = client.transaction().await.map_err(db_err)?;
        put_run(&*tx, &run, &blobs).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn put_node_runs(&self, runs: Vec<NodeRun>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        for run in &runs {
            put_run(&*tx, run, &Blobs::of(run)?).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn update_execution_with(
        &self,
        id: ExecutionId,
        update: ExecutionUpdate,
        runs: Vec<NodeRun>,
    ) -> Result<Execution> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        for run in &runs {
            put_run(&*tx, run, &Blobs::of(run)?).await?;
        }
        let updated = update_row(&*tx, &id.to_string(), &update).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn list_node_runs(&self, id: ExecutionId) -> Result<Vec<NodeRun>> {
        // Same columns as NODE_RUN_COLS, with blobs joined back in.
        let sql = "SELECT r.execution_id, r.node_id, r.attempt, r.status,
               COALESCE(i.data, r.input), COALESCE(o.data, r.output), r.error, r.gas,
               r.started_at, r.finished_at, r.port
             FROM node_runs r
             LEFT JOIN blobs i ON i.hash = r.input_blob
             LEFT JOIN blobs o ON o.hash = r.output_blob
             WHERE r.execution_id = $1 ORDER BY r.started_at, r.seq";
        let client = self.client().await?;
        let found = client
            .query(sql, &[&id.to_string()])
            .await
            .map_err(db_err)?;
        found.iter().map(rows::node_run).collect()
    }

    async fn delete_finished_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        if limit == 0 {
            return Ok(0);
        }
        // One statement, so atomic; node runs go with their execution (ON DELETE CASCADE).
        // SKIP LOCKED: schedulers pruning at the same time take different rows instead of
        // waiting on each other.
        let unfinished: Vec<&str> = UNFINISHED.iter().map(|s| s.as_str()).collect();
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM executions WHERE id IN (
                   SELECT id FROM executions
                   WHERE finished_at IS NOT NULL AND finished_at < $1
                     AND status <> ALL($2)
                   ORDER BY finished_at LIMIT $3
                   FOR UPDATE SKIP LOCKED)",
                &[&before.millis(), &unfinished, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        // Blobs no node run uses any more (see crate::blob on why the grace period).
        client
            .execute(
                &format!(
                    "DELETE FROM blobs WHERE touched_at < {NOW_MS} - $1
                       AND NOT EXISTS (SELECT 1 FROM node_runs WHERE input_blob = blobs.hash)
                       AND NOT EXISTS (SELECT 1 FROM node_runs WHERE output_blob = blobs.hash)"
                ),
                &[&blob::BLOB_GRACE_MS],
            )
            .await
            .map_err(db_err)?;
        Ok(deleted)
    }
}

/// The blob for `value`, when its JSON text is large (see crate::blob).
/// Moves execution `id` as `update` says, inside the caller's transaction; the row lock makes
/// "check not terminal, then write" atomic against other updaters.
async fn update_row(
    tx: &impl GenericClient,
    id: &str,
    update: &ExecutionUpdate,
) -> Result<Execution> {
    let current = load(tx, id, true).await?;
    if current.status.is_terminal() {
        return Err(StorageError::Conflict(format!(
            "execution {id} is already {}",
            current.status
        )));
    }
    let t = now();
    let started = match (current.started_at, update.status) {
        (Some(s), _) => Some(s.millis()),
        (None, ExecutionStatus::Running) => Some(t),
        (None, _) => None,
    };
    let finished = update.status.is_terminal().then_some(t);
    let sql = format!(
        "UPDATE executions SET status = $2, output = COALESCE($3, output),
         error = COALESCE($4, error), started_at = $5, finished_at = $6 WHERE id = $1
         RETURNING {EXECUTION_COLS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &id,
                &update.status.as_str(),
                &update.output,
                &update.error,
                &started,
                &finished,
            ],
        )
        .await
        .map_err(db_err)?;
    rows::execution(&row)
}

/// The values of a node run too large to live in its row (see crate::blob).
struct Blobs {
    input: Option<blob::Blob>,
    output: Option<blob::Blob>,
}

impl Blobs {
    fn of(run: &NodeRun) -> Result<Self> {
        Ok(Self {
            input: large(&run.input)?,
            output: run.output.as_ref().map(large).transpose()?.flatten(),
        })
    }

    fn is_empty(&self) -> bool {
        self.input.is_none() && self.output.is_none()
    }
}

/// Inserts or replaces `run` with its `blobs`; several statements when it has blobs, so the
/// caller runs it in a transaction then.
async fn put_run(c: &impl GenericClient, run: &NodeRun, blobs: &Blobs) -> Result<()> {
    let sql = format!(
        "INSERT INTO node_runs ({NODE_RUN_COLS}, input_blob, output_blob)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (execution_id, node_id, attempt) DO UPDATE SET
           status = excluded.status, input = excluded.input, output = excluded.output,
           error = excluded.error, gas = excluded.gas, started_at = excluded.started_at,
           finished_at = excluded.finished_at, port = excluded.port,
           input_blob = excluded.input_blob, output_blob = excluded.output_blob"
    );
    let gas = rows::to_i64("gas", run.gas)?;
    let (input_blob, output_blob) = (&blobs.input, &blobs.output);
    let put = format!(
        "INSERT INTO blobs (hash, data, size, touched_at) VALUES ($1, $2, $3, {NOW_MS})
         ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at"
    );
    let blobs = [
        input_blob.as_ref().map(|b| (b, &run.input)),
        output_blob.as_ref().zip(run.output.as_ref()),
    ];
    for (blob, value) in blobs.into_iter().flatten() {
        let size = blob.text.len() as i64;
        c.execute(&put, &[&blob.hash, value, &size])
            .await
            .map_err(db_err)?;
    }
    // A value kept as a blob is JSON null in the row (see crate::blob).
    let null = Value::Null;
    let input = if input_blob.is_some() {
        &null
    } else {
        &run.input
    };
    let output = if output_blob.is_some() {
        Some(&null)
    } else {
        run.output.as_ref()
    };
    let hash = |b: &Option<blob::Blob>| b.as_ref().map(|b| b.hash.clone());
    let (input_hash, output_hash) = (hash(input_blob), hash(output_blob));
    let (execution_id, attempt) = (run.execution_id.to_string(), i64::from(run.attempt));
    let (started, finished) = (run.started_at.millis(), run.finished_at.map(|t| t.millis()));
    let status = run.status.as_str();
    let params: [&(dyn ToSql + Sync); 13] = [
        &execution_id,
        &run.node_id,
        &attempt,
        &status,
        input,
        &output,
        &run.error,
        &gas,
        &started,
        &finished,
        &run.port,
        &input_hash,
        &output_hash,
    ];
    c.execute(&sql, &params).await.map_err(|e| {
        if is_fk_violation(&e) {
            StorageError::not_found("execution", run.execution_id)
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

fn large(value: &Value) -> Result<Option<blob::Blob>> {
    let text = serde_json::to_string(value)
        .map_err(|e| StorageError::Invalid(format!("unserializable JSON: {e}")))?;
    Ok(blob::split(text).1)
}
