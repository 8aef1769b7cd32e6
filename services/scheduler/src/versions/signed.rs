//! Saving a version its author signed (DESIGN §5): the record arrives whole; the engine checks
//! it and stores it byte for byte as sent, or refuses it saying why.

use flowork_flowchain::VersionRecord;
use flowork_model::workflow::WorkflowDoc;
use flowork_model::{Timestamp, WorkflowId};
use flowork_storage::{NewWorkflow, StorageError, WorkflowVersion};

use super::{VersionError, VersionPolicy, apply_doc, create_with, row, validate};
use crate::engine::Engine;

/// Checks `record` and appends it to workflow `id` (creating the workflow when the record is its
/// version 1). In order: the record names this workflow; `previous_hash` is the head (else
/// [`VersionError::NotHead`], 409); the version follows the head; the time is RFC 3339; the
/// signature recovers `author_id` (else the flow-chain problem); signed where the policy wants
/// it; the author is allowed; the document is a valid workflow. Returns the stored row.
pub async fn save_signed(
    engine: &Engine,
    policy: &VersionPolicy,
    id: WorkflowId,
    record: VersionRecord,
    caller: Option<&str>,
) -> Result<WorkflowVersion, VersionError> {
    if record.workflow_id != id.to_string() {
        return Err(VersionError::bad(
            "workflow_id",
            "wrong_workflow",
            format!("the record is for {:?}, not {id}", record.workflow_id),
        ));
    }
    let store = engine.store();
    let head = match store.get_workflow(id).await {
        Ok(wf) => Some(wf),
        // A first version may create the workflow (its id chosen by the author, who signs it).
        Err(StorageError::NotFound { .. }) if record.previous_hash.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    let (head_version, head_hash) = head
        .as_ref()
        .map_or((0, None), |w| (w.head_version, w.head_hash.clone()));
    let found = record.previous_hash.map(|h| h.to_string());
    if found != head_hash {
        let show = |h: Option<String>| h.unwrap_or_else(|| "null".into());
        return Err(VersionError::NotHead {
            head: show(head_hash),
            found: show(found),
        });
    }
    if record.version != head_version + 1 {
        return Err(VersionError::bad(
            "version",
            "version_gap",
            format!(
                "version {} does not follow the head version {head_version}",
                record.version
            ),
        ));
    }
    check_time(&record.created_at)?;
    let author = check_signature(policy, &record, caller).await?;
    let mut doc = WorkflowDoc::from_value(record.workflow.clone())
        .map_err(|e| VersionError::bad("workflow", "malformed", e.message))?;
    validate(engine, id, record.version, &doc)?;
    let active = doc.active.take();
    let version = row(&record, author, Timestamp::now())?;
    match head {
        Some(_) => {
            let wf = store.append_version(version.clone()).await?;
            apply_doc(store.as_ref(), wf, &doc.name, active).await?;
        }
        None => {
            let new = NewWorkflow {
                id,
                name: doc.name.clone(),
                active: active.unwrap_or(true),
            };
            create_with(store.as_ref(), new, version.clone()).await?;
        }
    }
    Ok(version)
}

/// The signer, when signed; an unsigned record passes only where the policy allows it.
async fn check_signature(
    policy: &VersionPolicy,
    record: &VersionRecord,
    caller: Option<&str>,
) -> Result<Option<flowork_flowchain::Address>, VersionError> {
    match record.verify_signature() {
        Err(problem) => Err(VersionError::bad("signature", problem.code(), &problem)),
        Ok(None) if record.author_id.is_some() => Err(VersionError::bad(
            "signature",
            "bad_signature",
            "author_id is set but the record has no signature",
        )),
        Ok(None) if policy.require_signed => Err(VersionError::SignatureRequired),
        Ok(None) => Ok(None),
        Ok(Some(author)) => match policy.authors.check(author, caller).await {
            Ok(()) => Ok(Some(author)),
            Err(why) => Err(VersionError::AuthorNotAllowed(why)),
        },
    }
}

/// `created_at` is signed as given, so it must at least be a real RFC 3339 time.
fn check_time(at: &str) -> Result<(), VersionError> {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(drop)
        .map_err(|e| {
            VersionError::bad(
                "created_at",
                "malformed",
                format!("{at:?}: not an RFC 3339 time ({e})"),
            )
        })
}
