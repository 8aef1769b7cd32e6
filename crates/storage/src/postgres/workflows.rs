//! Workflows and their hash-chained versions on Postgres.

use async_trait::async_trait;
use flowork_model::WorkflowId;
use tokio_postgres::GenericClient;

use super::rows::{self, VERSION_COLS, WORKFLOW_COLS};
use super::{PgStore, db_err, now};
use crate::api::WorkflowStore;
use crate::chain::check_link;
use crate::error::{Result, StorageError};
use crate::types::{NewWorkflow, Page, Workflow, WorkflowPatch, WorkflowVersion};

async fn load(c: &impl GenericClient, id: &str) -> Result<Workflow> {
    let sql = format!("SELECT {WORKFLOW_COLS} FROM workflows WHERE id = $1");
    match c.query_opt(&sql, &[&id]).await.map_err(db_err)? {
        Some(row) => rows::workflow(&row),
        None => Err(StorageError::not_found("workflow", id)),
    }
}

async fn insert_workflow(c: &impl GenericClient, new: &NewWorkflow) -> Result<Workflow> {
    let t = now();
    let sql = format!(
        "INSERT INTO workflows (id, name, active, head_version, head_hash, created_at, updated_at)
         VALUES ($1, $2, $3, 0, NULL, $4, $4) RETURNING {WORKFLOW_COLS}"
    );
    let row = c
        .query_one(&sql, &[&new.id.to_string(), &new.name, &new.active, &t])
        .await
        .map_err(|e| match db_err(e) {
            StorageError::Conflict(_) => {
                StorageError::Conflict(format!("workflow {} exists", new.id))
            }
            e => e,
        })?;
    rows::workflow(&row)
}

async fn insert_version(c: &impl GenericClient, v: &WorkflowVersion) -> Result<()> {
    let sql = format!(
        "INSERT INTO workflow_versions ({VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    );
    c.execute(
        &sql,
        &[
            &v.workflow_id.to_string(),
            &i64::from(v.version),
            &v.hash,
            &v.previous_hash,
            &v.author_id,
            &v.signed,
            &v.record,
            &v.created_at.millis(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl WorkflowStore for PgStore {
    async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow> {
        insert_workflow(&**self.client().await?, &new).await
    }

    async fn import_workflow(
        &self,
        new: NewWorkflow,
        versions: Vec<WorkflowVersion>,
    ) -> Result<Workflow> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        insert_workflow(&*tx, &new).await?;
        let (mut head, mut hash) = (0u32, None::<&str>);
        for v in &versions {
            check_link(new.id, head, hash, v)?;
            insert_version(&*tx, v).await?;
            (head, hash) = (v.version, Some(v.hash.as_str()));
        }
        let sql = format!(
            "UPDATE workflows SET head_version = $2, head_hash = $3 WHERE id = $1
             RETURNING {WORKFLOW_COLS}"
        );
        let row = tx
            .query_one(&sql, &[&new.id.to_string(), &i64::from(head), &hash])
            .await
            .map_err(db_err)?;
        let wf = rows::workflow(&row)?;
        tx.commit().await.map_err(db_err)?;
        Ok(wf)
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Workflow> {
        load(&**self.client().await?, &id.to_string()).await
    }

    async fn list_workflows(&self, page: Page) -> Result<Vec<Workflow>> {
        let sql =
            format!("SELECT {WORKFLOW_COLS} FROM workflows WHERE id > $1 ORDER BY id LIMIT $2");
        let after = page.after.clone().unwrap_or_default();
        let limit = i64::from(page.effective_limit());
        let client = self.client().await?;
        let found = client
            .query(&sql, &[&after, &limit])
            .await
            .map_err(db_err)?;
        found.iter().map(rows::workflow).collect()
    }

    async fn update_workflow(&self, id: WorkflowId, patch: WorkflowPatch) -> Result<Workflow> {
        let sql = format!(
            "UPDATE workflows SET name = COALESCE($2, name), active = COALESCE($3, active),
             updated_at = $4 WHERE id = $1 RETURNING {WORKFLOW_COLS}"
        );
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&id.to_string(), &patch.name, &patch.active, &now()])
            .await
            .map_err(db_err)?
        {
            Some(row) => rows::workflow(&row),
            None => Err(StorageError::not_found("workflow", id)),
        }
    }

    async fn delete_workflow(&self, id: WorkflowId) -> Result<()> {
        let client = self.client().await?;
        match client
            .execute("DELETE FROM workflows WHERE id = $1", &[&id.to_string()])
            .await
            .map_err(db_err)?
        {
            0 => Err(StorageError::not_found("workflow", id)),
            _ => Ok(()),
        }
    }

    async fn append_version(&self, version: WorkflowVersion) -> Result<Workflow> {
        let id = version.workflow_id.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // The optimistic head check: moves the head only if nobody moved it since the caller
        // read it. The row lock it takes serializes racing appenders until commit.
        let sql = format!(
            "UPDATE workflows SET head_version = $2, head_hash = $3, updated_at = $4
             WHERE id = $1 AND head_version = $5 AND head_hash IS NOT DISTINCT FROM $6
             RETURNING {WORKFLOW_COLS}"
        );
        let expected = i64::from(version.version) - 1;
        let moved = tx
            .query_opt(
                &sql,
                &[
                    &id,
                    &i64::from(version.version),
                    &version.hash,
                    &now(),
                    &expected,
                    &version.previous_hash,
                ],
            )
            .await
            .map_err(db_err)?;
        let Some(row) = moved else {
            let head = load(&*tx, &id).await?;
            check_link(
                head.id,
                head.head_version,
                head.head_hash.as_deref(),
                &version,
            )?;
            // The head matched by the time we looked: it moved between the two statements.
            return Err(StorageError::Conflict(format!(
                "workflow {id}: head moved concurrently"
            )));
        };
        let wf = rows::workflow(&row)?;
        insert_version(&*tx, &version).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(wf)
    }

    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<WorkflowVersion> {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM workflow_versions WHERE workflow_id = $1 AND version = $2"
        );
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&id.to_string(), &i64::from(version)])
            .await
            .map_err(db_err)?
        {
            Some(row) => rows::version(&row),
            None => Err(StorageError::not_found(
                "workflow version",
                format!("{id}@{version}"),
            )),
        }
    }

    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<WorkflowVersion>> {
        let id = id.to_string();
        let client = self.client().await?;
        load(&**client, &id).await?;
        let sql = format!(
            "SELECT {VERSION_COLS} FROM workflow_versions WHERE workflow_id = $1 ORDER BY version"
        );
        let found = client.query(&sql, &[&id]).await.map_err(db_err)?;
        found.iter().map(rows::version).collect()
    }
}
