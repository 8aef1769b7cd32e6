//! The hash-chain rule both backends enforce when a version is appended or imported.

use flowork_model::WorkflowId;

use crate::error::{Result, StorageError};
use crate::types::WorkflowVersion;

/// Checks that `v` extends a chain whose head is (`head`, `head_hash`).
pub(crate) fn check_link(
    id: WorkflowId,
    head: u32,
    head_hash: Option<&str>,
    v: &WorkflowVersion,
) -> Result<()> {
    if v.workflow_id != id {
        return Err(StorageError::Invalid(format!(
            "version {} belongs to workflow {}, not {id}",
            v.version, v.workflow_id
        )));
    }
    if Some(v.version) != head.checked_add(1) {
        return Err(StorageError::Conflict(format!(
            "workflow {id}: version {} does not follow head version {head}",
            v.version
        )));
    }
    if v.previous_hash.as_deref() != head_hash {
        return Err(StorageError::Conflict(format!(
            "workflow {id}: previous_hash of version {} does not match the head hash",
            v.version
        )));
    }
    Ok(())
}
