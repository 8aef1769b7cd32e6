//! The error workflow: when an execution fails and its workflow's settings name
//! `error_workflow`, that workflow's head version runs with the failed execution's details.
//!
//! It is started through [`Runner::start_once`] under `err:<execution>`, before the failed
//! execution's job is acked, so a crash or a redelivery starts it once, never zero or two times.
//! An error workflow's own failure (trigger `error`) starts nothing: that could loop forever.
//! A missing or broken error workflow is logged; it never fails anything else.

use flowork_model::ExecutionStatus;
use flowork_storage::{Execution, StorageError};
use serde_json::json;

use super::{Runner, StartRequest};
use crate::engine::EngineError;

/// The trigger name of error-workflow executions.
pub const ERROR_TRIGGER: &str = "error";

impl Runner {
    /// Starts the error workflow of `exec` if it failed and names one.
    pub(super) async fn after_failure(&self, exec: &Execution) {
        if exec.status != ExecutionStatus::Failed || exec.trigger == ERROR_TRIGGER {
            return;
        }
        if let Err(e) = self.start_error_workflow(exec).await {
            tracing::warn!(execution = %exec.id, error = %e, "could not start the error workflow");
        }
    }

    async fn start_error_workflow(&self, exec: &Execution) -> Result<(), EngineError> {
        let wf = self
            .engine()
            .compiled(exec.workflow_id, exec.version)
            .await?;
        let Some(target) = wf.doc.settings.error_workflow else {
            return Ok(());
        };
        let store = self.engine().store().clone();
        let handler = match store.get_workflow(target).await {
            Ok(w) => w,
            Err(StorageError::NotFound { .. }) => {
                tracing::warn!(execution = %exec.id, error_workflow = %target, "the error workflow does not exist");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let name = store
            .get_workflow(exec.workflow_id)
            .await
            .map(|w| w.name)
            .unwrap_or_default();
        let input = json!({
            "execution": {
                "id": exec.id.to_string(),
                "workflow_id": exec.workflow_id.to_string(),
                "version": exec.version,
                "error": exec.error,
                "trigger": exec.trigger,
                "input": exec.input,
            },
            "workflow": {"id": exec.workflow_id.to_string(), "name": name},
        });
        let req = StartRequest {
            workflow_id: target,
            version: handler.head_version,
            trigger: ERROR_TRIGGER.into(),
            input,
            parent_id: Some(exec.id),
        };
        let started = self.start_once(&format!("err:{}", exec.id), req).await?;
        tracing::info!(execution = %exec.id, error_execution = %started.id, "error workflow started");
        Ok(())
    }
}
