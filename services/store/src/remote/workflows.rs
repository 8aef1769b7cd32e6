//! The workflow and execution traits over the store service.

use async_trait::async_trait;
use flowork_model::{ExecutionId, Timestamp, WorkflowId};
use flowork_proto::v1 as pb;
use flowork_storage::{
    Execution, ExecutionFilter, ExecutionStore, ExecutionUpdate, NewExecution, NewWorkflow,
    NodeRun, Page, Result, StorageError, Workflow, WorkflowPatch, WorkflowStore, WorkflowVersion,
};

use super::{Answer, RemoteStore, all, reply};
use crate::convert::{from_proto as from, to_proto as to};

#[async_trait]
impl WorkflowStore for RemoteStore {
    async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow> {
        let w = self
            .client()
            .create_workflow(to::new_workflow(new))
            .await
            .answer()?;
        reply(from::workflow(w))
    }

    async fn import_workflow(
        &self,
        new: NewWorkflow,
        versions: Vec<WorkflowVersion>,
    ) -> Result<Workflow> {
        let req = pb::ImportWorkflowRequest {
            workflow: Some(to::new_workflow(new)),
            versions: versions.into_iter().map(to::version).collect(),
        };
        reply(from::workflow(
            self.client().import_workflow(req).await.answer()?,
        ))
    }

    async fn get_workflow(&self, id: WorkflowId) -> Result<Workflow> {
        let w = self
            .client()
            .get_workflow(pb::WorkflowRef { id: id.to_string() })
            .await
            .answer()?;
        reply(from::workflow(w))
    }

    async fn list_workflows(&self, page: Page) -> Result<Vec<Workflow>> {
        let list = self
            .client()
            .list_workflows(to::page(page))
            .await
            .answer()?;
        all(list.workflows, from::workflow)
    }

    async fn update_workflow(&self, id: WorkflowId, patch: WorkflowPatch) -> Result<Workflow> {
        let req = pb::UpdateWorkflowRequest {
            id: id.to_string(),
            name: patch.name,
            active: patch.active,
        };
        reply(from::workflow(
            self.client().update_workflow(req).await.answer()?,
        ))
    }

    async fn delete_workflow(&self, id: WorkflowId) -> Result<()> {
        self.client()
            .delete_workflow(pb::WorkflowRef { id: id.to_string() })
            .await
            .answer()?;
        Ok(())
    }

    async fn append_version(&self, version: WorkflowVersion) -> Result<Workflow> {
        let w = self
            .client()
            .append_version(to::version(version))
            .await
            .answer()?;
        reply(from::workflow(w))
    }

    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<WorkflowVersion> {
        let req = pb::VersionRef {
            workflow_id: id.to_string(),
            version,
        };
        let v = self
            .client()
            .get_version(req)
            .await
            .answer()
            .map_err(|e| match e {
                // The entity "workflow version" does not survive `StorageError::from_status` (it
                // parses as "workflow"); this call knows what it looked up.
                StorageError::NotFound { .. } => {
                    StorageError::not_found("workflow version", format!("{id}@{version}"))
                }
                e => e,
            })?;
        reply(from::version(v))
    }

    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<WorkflowVersion>> {
        let list = self
            .client()
            .list_versions(pb::WorkflowRef { id: id.to_string() })
            .await
            .answer()?;
        all(list.versions, from::version)
    }
}

#[async_trait]
impl ExecutionStore for RemoteStore {
    async fn create_execution(&self, new: NewExecution) -> Result<Execution> {
        let e = self
            .client()
            .create_execution(to::new_execution(new))
            .await
            .answer()?;
        reply(from::execution(e))
    }

    async fn get_execution(&self, id: ExecutionId) -> Result<Execution> {
        let e = self
            .client()
            .get_execution(pb::ExecutionRef { id: id.to_string() })
            .await
            .answer()?;
        reply(from::execution(e))
    }

    async fn list_executions(&self, filter: ExecutionFilter, page: Page) -> Result<Vec<Execution>> {
        let req = pb::ListExecutionsRequest {
            workflow_id: filter.workflow_id.map(|id| id.to_string()),
            status: filter.status.map(|s| s.as_str().to_owned()),
            page: Some(to::page(page)),
        };
        all(
            self.client()
                .list_executions(req)
                .await
                .answer()?
                .executions,
            from::execution,
        )
    }

    async fn update_execution(
        &self,
        id: ExecutionId,
        update: ExecutionUpdate,
    ) -> Result<Execution> {
        let req = pb::UpdateExecutionRequest {
            id: id.to_string(),
            status: update.status.as_str().to_owned(),
            output: update.output.as_ref().map(to::json),
            error: update.error,
        };
        reply(from::execution(
            self.client().update_execution(req).await.answer()?,
        ))
    }

    async fn put_node_run(&self, run: NodeRun) -> Result<()> {
        self.client()
            .put_node_run(to::node_run(run))
            .await
            .answer()?;
        Ok(())
    }

    async fn list_node_runs(&self, id: ExecutionId) -> Result<Vec<NodeRun>> {
        let req = pb::ExecutionRef { id: id.to_string() };
        all(
            self.client().list_node_runs(req).await.answer()?.runs,
            from::node_run,
        )
    }

    async fn delete_finished_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        // The service refuses a limit of 0 (an unset field) and times before 1970; both simply
        // match nothing here, as they do in a local store.
        if limit == 0 || before.millis() <= 0 {
            return Ok(0);
        }
        let req = pb::DeleteFinishedBeforeRequest {
            before: before.millis(),
            limit,
        };
        Ok(self
            .client()
            .delete_finished_before(req)
            .await
            .answer()?
            .count)
    }
}
