//! What the versions and chain endpoints return.

use flowork_flowchain::{ChainReport, ChainStatus, VersionProblem};
use flowork_storage::WorkflowVersion;
use serde::Serialize;
use utoipa::ToSchema;

/// One saved version, without its document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub workflow_id: String,
    pub version: u32,
    /// SHA-256 of the record's canonical bytes: the next version's `previous_hash`.
    pub hash: String,
    pub previous_hash: Option<String>,
    /// The signer's address; null when unsigned.
    pub author_id: Option<String>,
    pub signed: bool,
    /// The record's own (signed) time.
    pub created_at: Option<String>,
    /// When this engine stored it.
    pub saved_at: String,
}

impl VersionView {
    pub(crate) fn new(v: &WorkflowVersion) -> Self {
        Self {
            workflow_id: v.workflow_id.to_string(),
            version: v.version,
            hash: v.hash.clone(),
            previous_hash: v.previous_hash.clone(),
            author_id: v.author_id.clone(),
            signed: v.signed,
            created_at: v
                .record
                .get("created_at")
                .and_then(|t| t.as_str())
                .map(str::to_owned),
            saved_at: v.created_at.to_rfc3339(),
        }
    }
}

/// A problem at one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainProblemView {
    pub version: u32,
    /// malformed, not_canonical, version_gap, broken_link, unknown_link, bad_signature,
    /// wrong_author, signature_without_author or wrong_workflow.
    pub code: String,
    /// For a person.
    pub reason: String,
}

impl From<&VersionProblem> for ChainProblemView {
    fn from(p: &VersionProblem) -> Self {
        Self {
            version: p.version,
            code: p.problem.code().to_owned(),
            reason: p.problem.to_string(),
        }
    }
}

/// The verdict on a workflow's chain. `valid` only when every version is linked and signed by
/// its author; `unsigned` when links are intact but some versions carry no signature.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainReportView {
    pub workflow_id: String,
    /// valid, unsigned, invalid or empty.
    pub status: String,
    pub versions: usize,
    /// Hash of the last version.
    pub head: Option<String>,
    /// The first bad version and why (status invalid).
    pub first_bad: Option<ChainProblemView>,
    /// Every problem, in chain order.
    pub problems: Vec<ChainProblemView>,
    /// The unsigned versions.
    pub unsigned: Vec<u32>,
}

impl ChainReportView {
    pub(crate) fn new(workflow_id: String, r: &ChainReport) -> Self {
        let status = match r.status {
            ChainStatus::Valid => "valid",
            ChainStatus::Unsigned { .. } => "unsigned",
            ChainStatus::Invalid { .. } => "invalid",
            ChainStatus::Empty => "empty",
        };
        Self {
            workflow_id,
            status: status.to_owned(),
            versions: r.versions,
            head: r.head.map(|h| h.to_string()),
            first_bad: r.problems.first().map(Into::into),
            problems: r.problems.iter().map(Into::into).collect(),
            unsigned: r.unsigned.clone(),
        }
    }
}
