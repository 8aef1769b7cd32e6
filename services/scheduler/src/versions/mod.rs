//! Saving workflow versions: validate, build the flow-chain record (`flowork_flowchain`, the one
//! definition of the record and its hash), chain it to the head.
//!
//! Two ways in: the plain create/update endpoints store the document as an unsigned record the
//! engine builds ([`create`], [`update`]; refused when the policy requires signatures), and
//! [`save_signed`] stores a record its author built and signed locally.

mod policy;
mod signed;

use flowork_flowchain::{Address, VersionRecord};
use flowork_model::workflow::{WorkflowDoc, compile};
use flowork_model::{Timestamp, WorkflowId};
use flowork_storage::{NewWorkflow, StorageError, Store, Workflow, WorkflowVersion};
use serde_json::Value;

pub use policy::{AllowList, AuthorCheck, VersionPolicy};
pub use signed::save_signed;

use crate::engine::{Engine, EngineError};

/// Why a version was not saved.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The engine requires signed versions and this save is unsigned.
    #[error(
        "this engine requires signed versions (versions.require_signed): sign the record locally, e.g. with `flowork workflow push`"
    )]
    SignatureRequired,
    /// The signer may not save versions here.
    #[error("author not allowed: {0}")]
    AuthorNotAllowed(String),
    /// `previous_hash` is not the current head: someone saved first.
    #[error(
        "previous_hash is {found}, but the head of the chain is {head}: someone saved first; fetch the head and sign again"
    )]
    NotHead { head: String, found: String },
    /// The record is unusable; names the field and, for signatures, the flow-chain problem code.
    #[error("{field}: {reason}")]
    BadRecord {
        field: &'static str,
        code: &'static str,
        reason: String,
    },
}

impl From<StorageError> for VersionError {
    fn from(e: StorageError) -> Self {
        Self::Engine(e.into())
    }
}

impl VersionError {
    pub(crate) fn bad(field: &'static str, code: &'static str, reason: impl ToString) -> Self {
        Self::BadRecord {
            field,
            code,
            reason: reason.to_string(),
        }
    }
}

/// Validates `doc` and saves it as a new workflow at version 1 (unsigned), active (its triggers
/// live at once) unless the document says `"active": false`.
pub async fn create(
    engine: &Engine,
    policy: &VersionPolicy,
    mut doc: WorkflowDoc,
) -> Result<(Workflow, Value), VersionError> {
    if policy.require_signed {
        return Err(VersionError::SignatureRequired);
    }
    let id = WorkflowId::new();
    let active = doc.active.take().unwrap_or(true);
    validate(engine, id, 1, &doc)?;
    let now = Timestamp::now();
    let record = unsigned(id, None, &doc, now)?;
    let new = NewWorkflow {
        id,
        name: doc.name.clone(),
        active,
    };
    let wf = create_with(engine.store().as_ref(), new, row(&record, None, now)?).await?;
    Ok((wf, record.workflow))
}

/// Validates `doc` and saves it as the next (unsigned) version. With `expected`, the save only
/// happens if the head is still that version (optimistic locking: 409 otherwise).
pub async fn update(
    engine: &Engine,
    policy: &VersionPolicy,
    id: WorkflowId,
    mut doc: WorkflowDoc,
    expected: Option<u32>,
) -> Result<(Workflow, Value), VersionError> {
    if policy.require_signed {
        return Err(VersionError::SignatureRequired);
    }
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
    validate(engine, id, head.head_version + 1, &doc)?;
    let previous = head_record(store.as_ref(), &head).await?;
    let now = Timestamp::now();
    let record = unsigned(id, previous.as_ref(), &doc, now)?;
    let wf = store.append_version(row(&record, None, now)?).await?;
    let wf = apply_doc(store.as_ref(), wf, &doc.name, active).await?;
    Ok((wf, record.workflow))
}

/// The head version's record, parsed; `None` before the first save.
pub async fn head_record(
    store: &dyn Store,
    wf: &Workflow,
) -> Result<Option<VersionRecord>, VersionError> {
    if wf.head_version == 0 {
        return Ok(None);
    }
    let row = store.get_version(wf.id, wf.head_version).await?;
    parse_row(&row).map(Some).map_err(|why| {
        StorageError::Backend(format!(
            "stored version {}@{} is not a flow-chain record: {why}",
            wf.id, wf.head_version
        ))
        .into()
    })
}

/// A stored row as a flow-chain record.
pub fn parse_row(row: &WorkflowVersion) -> Result<VersionRecord, String> {
    serde_json::from_value(row.record.clone()).map_err(|e| e.to_string())
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

/// The unsigned record that follows `previous`, saved `at` (the same instant as its row).
fn unsigned(
    id: WorkflowId,
    previous: Option<&VersionRecord>,
    doc: &WorkflowDoc,
    at: Timestamp,
) -> Result<VersionRecord, VersionError> {
    let body = serde_json::to_value(doc).map_err(|e| VersionError::bad("body", "malformed", e))?;
    VersionRecord::next(previous, id.to_string(), at.to_rfc3339(), body)
        .map_err(|e| VersionError::bad("previous_hash", "malformed", e))
}

/// The store row of `record`, stored `at` (its hash computed once, by the flow-chain crate).
fn row(
    record: &VersionRecord,
    author: Option<Address>,
    at: Timestamp,
) -> Result<WorkflowVersion, VersionError> {
    let canonical = |e: flowork_flowchain::Error| VersionError::bad("workflow", "malformed", e);
    let workflow_id = record
        .workflow_id
        .parse()
        .map_err(|e| VersionError::bad("workflow_id", "malformed", e))?;
    Ok(WorkflowVersion {
        workflow_id,
        version: record.version,
        hash: record.hash().map_err(canonical)?.to_string(),
        previous_hash: record.previous_hash.map(|h| h.to_string()),
        author_id: author.map(|a| a.to_string()),
        signed: author.is_some(),
        record: serde_json::to_value(record)
            .map_err(|e| VersionError::bad("record", "malformed", e))?,
        created_at: at,
    })
}

/// Creates the workflow and its version 1 together (no empty workflow is left behind).
async fn create_with(
    store: &dyn Store,
    new: NewWorkflow,
    first: WorkflowVersion,
) -> Result<Workflow, VersionError> {
    let id = new.id;
    store.create_workflow(new).await?;
    match store.append_version(first).await {
        Ok(wf) => Ok(wf),
        Err(e) => {
            let _ = store.delete_workflow(id).await;
            Err(e.into())
        }
    }
}

/// The workflow's name (and `active`, when the document sets it) from the saved document.
async fn apply_doc(
    store: &dyn Store,
    wf: Workflow,
    name: &str,
    active: Option<bool>,
) -> Result<Workflow, VersionError> {
    if wf.name == name && active.is_none_or(|a| a == wf.active) {
        return Ok(wf);
    }
    let patch = flowork_storage::WorkflowPatch {
        name: Some(name.to_owned()),
        active,
    };
    Ok(store.update_workflow(wf.id, patch).await?)
}
