//! The store traits. Every backend implements all of them and passes `tests/conformance`.

use std::time::Duration;

use async_trait::async_trait;
use flowork_model::{ExecutionId, Timestamp, WorkflowId};

use crate::error::Result;
use crate::types::*;

/// Workflows and their hash-chained versions.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Creates a workflow with no versions. Conflict if the id exists.
    async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow>;
    /// Creates a workflow together with its whole version history, atomically: either all of it
    /// is stored or nothing is (used by chain import and restore).
    async fn import_workflow(
        &self,
        new: NewWorkflow,
        versions: Vec<WorkflowVersion>,
    ) -> Result<Workflow>;
    async fn get_workflow(&self, id: WorkflowId) -> Result<Workflow>;
    async fn list_workflows(&self, page: Page) -> Result<Vec<Workflow>>;
    async fn update_workflow(&self, id: WorkflowId, patch: WorkflowPatch) -> Result<Workflow>;
    /// Deletes the workflow with its versions, executions and node runs.
    async fn delete_workflow(&self, id: WorkflowId) -> Result<()>;
    /// Appends a version. It must be `head_version + 1` and its `previous_hash` must equal the
    /// current head hash, else Conflict (someone saved first) and nothing is written.
    async fn append_version(&self, version: WorkflowVersion) -> Result<Workflow>;
    async fn get_version(&self, id: WorkflowId, version: u32) -> Result<WorkflowVersion>;
    /// All versions in ascending order.
    async fn list_versions(&self, id: WorkflowId) -> Result<Vec<WorkflowVersion>>;
}

/// Executions and their node runs (the durable checkpoints).
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Creates a `queued` execution. NotFound if the workflow does not exist.
    async fn create_execution(&self, new: NewExecution) -> Result<Execution>;
    async fn get_execution(&self, id: ExecutionId) -> Result<Execution>;
    /// Newest first.
    async fn list_executions(&self, filter: ExecutionFilter, page: Page) -> Result<Vec<Execution>>;
    /// Moves an execution to a new status. Conflict if it is already terminal.
    async fn update_execution(&self, id: ExecutionId, update: ExecutionUpdate)
    -> Result<Execution>;
    /// Inserts or replaces the node run keyed by (execution, node, attempt).
    async fn put_node_run(&self, run: NodeRun) -> Result<()>;
    /// In start order.
    async fn list_node_runs(&self, id: ExecutionId) -> Result<Vec<NodeRun>>;
    /// Deletes up to `limit` finished executions (terminal status) that finished before `before`,
    /// with their node runs; returns how many. Never touches queued, running or waiting ones.
    /// The oldest go first, so repeated calls work through a backlog in order.
    async fn delete_finished_before(&self, before: Timestamp, limit: u32) -> Result<u64>;
}

/// Sealed credentials, addressed by unique name.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Conflict if the name is taken.
    async fn create_credential(&self, new: NewCredential) -> Result<Credential>;
    async fn get_credential(&self, name: &str) -> Result<Credential>;
    /// Replaces the sealed secret.
    async fn update_credential(&self, name: &str, sealed: Vec<u8>) -> Result<Credential>;
    async fn list_credentials(&self) -> Result<Vec<Credential>>;
    async fn delete_credential(&self, name: &str) -> Result<()>;
}

/// Namespaced key/value pairs with versioned compare-and-swap.
#[async_trait]
pub trait KvStore: Send + Sync {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>>;
    /// Writes if `expect` holds (else Conflict) and returns the new version.
    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64>;
    /// Returns whether the key existed.
    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool>;
    /// Keys starting with `prefix`, in key order.
    async fn kv_list(&self, namespace: &str, prefix: &str) -> Result<Vec<KvEntry>>;
    /// Deletes up to `limit` entries of `namespace` last written before `before`; returns how
    /// many. For claims that only matter for a while (cron ticks, deliveries, child starts).
    async fn kv_delete_before(&self, namespace: &str, before: Timestamp, limit: u32)
    -> Result<u64>;
}

/// The embedded durable queue: at-least-once delivery with leases that expire, so a dead
/// worker's messages are reclaimed by others.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Adds a message that becomes visible after `delay`. Returns its id.
    async fn enqueue(
        &self,
        queue: &str,
        payload: serde_json::Value,
        delay: Duration,
    ) -> Result<i64>;
    /// Adds a message already leased to `worker` for `lease`, for a worker that runs it at once
    /// itself: no other worker sees it unless that lease runs out (the worker died).
    async fn enqueue_leased(
        &self,
        queue: &str,
        payload: serde_json::Value,
        worker: &str,
        lease: Duration,
    ) -> Result<Job>;
    /// Leases the oldest visible message for `lease`; no two workers hold the same message.
    async fn lease(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>>;
    /// Removes a message the worker holds. Conflict if its lease was lost.
    async fn ack(&self, job_id: i64, worker: &str) -> Result<()>;
    /// Gives a held message back, visible again after `delay`. Conflict if its lease was lost.
    async fn nack(&self, job_id: i64, worker: &str, delay: Duration) -> Result<()>;
    /// Renews a held lease for another `lease` from now. Conflict if the lease was lost (expired
    /// or taken).
    async fn extend_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<()>;
    /// Messages in the queue, leased or not.
    async fn queue_len(&self, queue: &str) -> Result<u64>;
}

/// Gateway user accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Conflict if the username is taken.
    async fn create_user(&self, new: NewUser) -> Result<User>;
    async fn get_user_by_name(&self, username: &str) -> Result<User>;
    async fn count_users(&self) -> Result<u64>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store:
    WorkflowStore + ExecutionStore + CredentialStore + KvStore + QueueStore + UserStore
{
    fn backend(&self) -> Backend;
    /// A cheap round trip to the database.
    async fn ping(&self) -> Result<()>;
}
