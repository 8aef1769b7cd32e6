//! Rows the stores read and write. Backends map these to and from SQL; nothing else here knows SQL.

use flowork_model::{
    CredentialId, ExecutionId, ExecutionStatus, NodeRunStatus, Role, Timestamp, UserId, WorkflowId,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The embedded default: one SQLite file in WAL mode.
    Sqlite,
    /// Production: a pooled Postgres connection.
    Postgres,
}

/// Keyset pagination: at most `limit` rows whose id sorts after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Maximum rows to return; 0 means the default (100). Capped at 1000.
    pub limit: u32,
    /// Return rows after this id (exclusive), in id order.
    pub after: Option<String>,
}

impl Page {
    /// The effective row limit.
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(1000),
        }
    }
}

/// A workflow: a name plus a hash-chained list of versions; the last one is the head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub name: String,
    /// Whether its triggers fire.
    pub active: bool,
    /// Number of the newest version; 0 when none was saved yet.
    pub head_version: u32,
    /// Hash of the newest version's record; `None` when none was saved yet.
    pub head_hash: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What is needed to create a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewWorkflow {
    pub id: WorkflowId,
    pub name: String,
    pub active: bool,
}

/// A change to a workflow's mutable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowPatch {
    pub name: Option<String>,
    pub active: Option<bool>,
}

/// One saved version of a workflow (a flow-chain record, see DESIGN §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub workflow_id: WorkflowId,
    /// 1 for the first version, then +1 each save.
    pub version: u32,
    /// Lowercase hex SHA-256 of the record's canonical bytes (computed by the caller).
    pub hash: String,
    /// Hash of the previous version's record; `None` for version 1.
    pub previous_hash: Option<String>,
    /// The signer's address, when signed.
    pub author_id: Option<String>,
    /// Whether the record carries a signature.
    pub signed: bool,
    /// The whole record, as saved.
    pub record: Value,
    pub created_at: Timestamp,
}

/// An execution of one workflow version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub version: u32,
    pub status: ExecutionStatus,
    /// What started it ("manual", "webhook", "cron", "subworkflow", "replay", ...).
    pub trigger: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The execution that started this one (sub-workflows, error workflows, replays).
    pub parent_id: Option<ExecutionId>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// What is needed to create an execution; it starts `queued`, or `running` if `started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewExecution {
    pub id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub version: u32,
    pub trigger: String,
    pub input: Value,
    pub parent_id: Option<ExecutionId>,
    /// Recorded as `running` (with `started_at`) at once: the process creating it runs it
    /// itself right away, so a separate move to running would be a write for nothing.
    #[serde(default)]
    pub started: bool,
}

/// A status change. `started_at` is set on the first move to `running`, `finished_at` on a
/// terminal status; a terminal execution cannot change again (conflict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionUpdate {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// Filter for listing executions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionFilter {
    pub workflow_id: Option<WorkflowId>,
    pub status: Option<ExecutionStatus>,
}

/// One attempt of one node in an execution: the durable checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRun {
    pub execution_id: ExecutionId,
    pub node_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: NodeRunStatus,
    pub input: Value,
    pub output: Option<Value>,
    /// The output port the node chose (`core.if`: `true`/`false`); `None` for nodes with one output.
    pub port: Option<String>,
    pub error: Option<String>,
    /// Gas charged for this attempt.
    pub gas: u64,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A credential: its secret is sealed (AEAD ciphertext) before it reaches the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    /// Unique; nodes refer to credentials by name.
    pub name: String,
    /// The credential type ("http_header", "basic_auth", ...).
    pub kind: String,
    /// Ciphertext; the store never sees plain text.
    pub sealed: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What is needed to create a credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCredential {
    pub id: CredentialId,
    pub name: String,
    pub kind: String,
    pub sealed: Vec<u8>,
}

/// A value in the key/value store with its version (for compare-and-swap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    pub value: Vec<u8>,
    /// Starts at 1 and grows by one on every write.
    pub version: u64,
    pub updated_at: Timestamp,
}

/// The condition a key/value write needs to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Any,
    /// Write only if the key does not exist.
    Absent,
    /// Write only if the key exists at exactly this version.
    Version(u64),
}

/// A durable queue message leased to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub queue: String,
    pub payload: Value,
    /// How many times it was leased, this lease included.
    pub attempts: u32,
    pub lease_until: Timestamp,
}

/// A gateway user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    /// An argon2id PHC string; never the password.
    pub password_hash: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// What is needed to create a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

/// The statuses of executions that are not finished: exactly those that are not
/// [`ExecutionStatus::is_terminal`]. Retention never deletes these.
pub(crate) const UNFINISHED: [ExecutionStatus; 3] = [
    ExecutionStatus::Queued,
    ExecutionStatus::Running,
    ExecutionStatus::Waiting,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_are_the_non_terminal_statuses() {
        let all = [
            "queued",
            "running",
            "waiting",
            "succeeded",
            "failed",
            "cancelled",
            "out_of_gas",
            "forbidden",
        ];
        for s in all {
            let st: ExecutionStatus = s.parse().expect("known status");
            assert_eq!(UNFINISHED.contains(&st), !st.is_terminal(), "{st}");
        }
    }
}
