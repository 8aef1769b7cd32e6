//! Executions and node runs on Postgres.

use async_trait::async_trait;
use flowork_model::{ExecutionId, ExecutionStatus, Timestamp};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::rows::{self, EXECUTION_COLS, NODE_RUN_COLS};
use super::{PgStore, db_err, is_fk_violation, now};
use crate::api::ExecutionStore;
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
               parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               RETURNING {EXECUTION_COLS}"#
        );
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.workflow_id.to_string(),
                    &i64::from(new.version),
                    &ExecutionStatus::Queued.as_str(),
                    &new.trigger,
                    &new.input,
                    &new.parent_id.map(|p| p.to_string()),
                    &now(),
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
        let id = id.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // The row lock makes "check not terminal, then write" atomic against other updaters.
        let current = load(&*tx, &id, true).await?;
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
        let updated = rows::execution(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn put_node_run(&self, run: NodeRun) -> Result<()> {
        let sql = format!(
            "INSERT INTO node_runs ({NODE_RUN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (execution_id, node_id, attempt) DO UPDATE SET
               status = excluded.status, input = excluded.input, output = excluded.output,
               error = excluded.error, gas = excluded.gas, started_at = excluded.started_at,
               finished_at = excluded.finished_at, port = excluded.port"
        );
        let gas = rows::to_i64("gas", run.gas)?;
        let client = self.client().await?;
        client
            .execute(
                &sql,
                &[
                    &run.execution_id.to_string(),
                    &run.node_id,
                    &i64::from(run.attempt),
                    &run.status.as_str(),
                    &run.input,
                    &run.output,
                    &run.error,
                    &gas,
                    &run.started_at.millis(),
                    &run.finished_at.map(|t| t.millis()),
                    &run.port,
                ],
            )
            .await
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StorageError::not_found("execution", run.execution_id)
                } else {
                    db_err(e)
                }
            })?;
        Ok(())
    }

    async fn list_node_runs(&self, id: ExecutionId) -> Result<Vec<NodeRun>> {
        let sql = format!(
            "SELECT {NODE_RUN_COLS} FROM node_runs WHERE execution_id = $1 ORDER BY started_at, seq"
        );
        let client = self.client().await?;
        let found = client
            .query(&sql, &[&id.to_string()])
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
        client
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
            .map_err(db_err)
    }
}
