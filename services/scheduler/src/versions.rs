//! Saving workflow versions: validate, build the flow-chain record, chain it to the head.
//!
//! Versions saved here are unsigned (`signature` absent, `author_id` null). Signed saves and the
//! exact RFC 8785 canonical bytes come with the flow-chain crate (issue #5); until then the hash
//! is SHA-256 over serde_json's compact output with sorted keys, which equals JCS for documents
//! without floats or non-ASCII escapes.

use flowork_model::workflow::{WorkflowDoc, compile};
use flowork_model::{Timestamp, WorkflowId};
use flowork_storage::{NewWorkflow, StorageError, Workflow, WorkflowVersion};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::engine::{Engine, EngineError};

/// Validates `doc` and saves it as a new workflow at version 1, active (its triggers live at
/// once) unless the document says `"active": false`.
pub async fn create(
    engine: &Engine,
    mut doc: WorkflowDoc,
) -> Result<(Workflow, Value), EngineError> {
    let id = WorkflowId::new();
    let active = doc.active.take().unwrap_or(true);
    validate(engine, id, 1, &doc)?;
    let store = engine.store();
    store
        .create_workflow(NewWorkflow {
            id,
            name: doc.name.clone(),
            active,
        })
        .await?;
    let record = record(id, 1, None, &doc);
    match store
        .append_version(version(id, 1, None, record.clone()))
        .await
    {
        Ok(wf) => Ok((wf, record)),
        Err(e) => {
            // Don't leave an empty workflow behind.
            let _ = store.delete_workflow(id).await;
            Err(e.into())
        }
    }
}

/// Validates `doc` and saves it as the next version. With `expected`, the save only happens if
/// the head is still that version (optimistic locking: 409 otherwise).
pub async fn update(
    engine: &Engine,
    id: WorkflowId,
    mut doc: WorkflowDoc,
    expected: Option<u32>,
) -> Result<(Workflow, Value), EngineError> {
    let active = doc.active.take();
    let store = engine.store();
    let head = store.get_workflow(id).await?;
    if let Some(want) = expected.filter(|w| *w != head.head_version) {
        return Err(StorageError::Conflict(format!(
            "version {} is the head, not {want}; reload and try again",
            head.head_version
        ))
        .into());
    }
    let next = head.head_version + 1;
    validate(engine, id, next, &doc)?;
    let record = record(id, next, head.head_hash.clone(), &doc);
    let mut wf = store
        .append_version(version(id, next, head.head_hash, record.clone()))
        .await?;
    if wf.name != doc.name || active.is_some_and(|a| a != wf.active) {
        let patch = flowork_storage::WorkflowPatch {
            name: Some(doc.name.clone()),
            active,
        };
        wf = store.update_workflow(id, patch).await?;
    }
    Ok((wf, record))
}

fn validate(
    engine: &Engine,
    id: WorkflowId,
    version: u32,
    doc: &WorkflowDoc,
) -> Result<(), EngineError> {
    compile(doc.clone(), engine.catalog())
        .map(drop)
        .map_err(|errors| EngineError::Invalid {
            workflow: id,
            version,
            errors,
        })
}

fn record(id: WorkflowId, version: u32, previous: Option<String>, doc: &WorkflowDoc) -> Value {
    json!({
        "workflow_id": id.to_string(),
        "version": version,
        "author_id": null,
        "created_at": Timestamp::now().to_rfc3339(),
        "previous_hash": previous,
        "workflow": doc,
    })
}

fn version(
    id: WorkflowId,
    version: u32,
    previous_hash: Option<String>,
    record: Value,
) -> WorkflowVersion {
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&record).unwrap_or_default(),
    ));
    WorkflowVersion {
        workflow_id: id,
        version,
        hash,
        previous_hash,
        author_id: None,
        signed: false,
        record,
        created_at: Timestamp::now(),
    }
}
