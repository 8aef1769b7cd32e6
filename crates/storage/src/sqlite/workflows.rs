//! Workflows and their hash-chained versions on SQLite.

use async_trait::async_trait;
use flowork_model::WorkflowId;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{self, VERSION_COLS, WORKFLOW_COLS};
use super::{SqliteStore, db_err, now};
use crate::api::WorkflowStore;
use crate::chain::check_link;
use crate::error::{Result, StorageError};
use crate::types::{NewWorkflow, Page, Workflow, WorkflowPatch, WorkflowVersion};

fn load(conn: &Connection, id: &str) -> Result<Workflow> {
    conn.prepare_cached(&format!(
        "SELECT {WORKFLOW_COLS} FROM workflows WHERE id = ?1"
    ))
    .and_then(|mut st| st.query_row([id], rows::workflow).optional())
    .map_err(db_err)?
    .ok_or_else(|| StorageError::not_found("workflow", id))
}

fn insert_workflow(conn: &Connection, new: &NewWorkflow) -> Result<()> {
    let t = now();
    conn.execute(
        "INSERT INTO workflows (id, name, active, head_version, head_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, 0, NULL, ?4, ?4)",
        params![new.id.to_string(), new.name, new.active, t],
    )
    .map_err(|e| match db_err(e) {
        StorageError::Conflict(_) => StorageError::Conflict(format!("workflow {} exists", new.id)),
        e => e,
    })?;
    Ok(())
}

fn insert_version(conn: &Connection, v: &WorkflowVersion) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO workflow_versions ({VERSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            v.workflow_id.to_string(),
            v.version,
            v.hash,
            v.previous_hash,
            v.author_id,
            v.signed,
            rows::to_json(&v.record)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
            v.created_at.millis(),
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn set_head(conn: &Connection, id: &str, version: u32, hash: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE workflows SET head_version = ?2, head_hash = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, version, hash, now()],
    )
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow> {
        self.transact(move |tx| {
            insert_workflow(tx, &new)?;
            load(tx, &new.id.to_string())
        })
        .await
    }

    async fn import_workflow(
        &self,
        new: NewWorkflow,
        versions: Vec<WorkflowVersion>,
    ) -> Result<Workflow> {
        self.transact(move |tx| {
            insert_workflow(tx, &new)?;
            let (mut head, mut hash) = (0u32, None::<String>);
            for v in &versions {
                check_link(new.id, head, hash.as_deref(), v)?;
                insert_version(tx, v)?;
                (head, hash) = (v.version, Some(v.hash.clone()));
            }
            let id = new.id.to_string();
            set_head(tx, &id, head, hash.as_deref())?;
            load(tx, &id)
        })
        .await
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Workflow> {
        self.read(move |c| load(c, &id.to_string())).await
    }

    async fn list_workflows(&self, page: Page) -> Result<Vec<Workflow>> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {WORKFLOW_COLS} FROM workflows WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))
                .map_err(db_err)?;
            let after = page.after.clone().unwrap_or_default();
            st.query_map(params![after, page.effective_limit()], rows::workflow)
                .and_then(|it| it.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn update_workflow(&self, id: WorkflowId, patch: WorkflowPatch) -> Result<Workflow> {
        self.transact(move |tx| {
            let id = id.to_string();
            let n = tx
                .execute(
                    "UPDATE workflows SET name = COALESCE(?2, name), active = COALESCE(?3, active),
                     updated_at = ?4 WHERE id = ?1",
                    params![id, patch.name, patch.active, now()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::not_found("workflow", id));
            }
            load(tx, &id)
        })
        .await
    }

    async fn delete_workflow(&self, id: WorkflowId) -> Result<()> {
        self.write(move |c| {
            match c
                .execute("DELETE FROM workflows WHERE id = ?1", [id.to_string()])
                .map_err(db_err)?
            {
                0 => Err(StorageError::not_found("workflow", id)),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn append_version(&self, version: WorkflowVersion) -> Result<Workflow> {
        self.transact(move |tx| {
            let id = version.workflow_id.to_string();
            let head = load(tx, &id)?;
            check_link(
                head.id,
                head.head_version,
                head.head_hash.as_deref(),
                &version,
            )?;
            insert_version(tx, &version)?;
            set_head(tx, &id, version.version, Some(&version.hash))?;
            load(tx, &id)
        })
        .await
    }

    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<WorkflowVersion> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {VERSION_COLS} FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2"
            ))
            .and_then(|mut st| st.query_row(params![id.to_string(), version], rows::version).optional())
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("workflow version", format!("{id}@{version}")))
        })
        .await
    }

    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<WorkflowVersion>> {
        self.read(move |c| {
            let id = id.to_string();
            load(c, &id)?;
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {VERSION_COLS} FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version"
                ))
                .map_err(db_err)?;
            st.query_map([id], rows::version).and_then(|it| it.collect()).map_err(db_err)
        })
        .await
    }
}
