//! [`RemoteStore`]: the storage traits over the store service, so the engine can use an
//! in-process store or the store service interchangeably.

use std::time::Duration;

use async_trait::async_trait;
use flowork_model::{ExecutionId, WorkflowId};
use flowork_proto::v1 as pb;
use flowork_proto::v1::store_client::StoreClient;
use flowork_storage::{
    Backend, Credential, CredentialStore, Execution, ExecutionFilter, ExecutionStore,
    ExecutionUpdate, Expect, Job, KvEntry, KvStore, NewCredential, NewExecution, NewUser,
    NewWorkflow, NodeRun, Page, QueueStore, Result, StorageError, Store, User, UserStore, Workflow,
    WorkflowPatch, WorkflowStore, WorkflowVersion,
};
use tonic::transport::{Channel, Endpoint};

use crate::MAX_MESSAGE_BYTES;
use crate::convert::{self, Invalid, Parsed, from_proto as from, to_proto as to};

/// How long [`RemoteStore::connect`] waits for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A store reached over gRPC. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RemoteStore {
    client: StoreClient<Channel>,
    backend: Backend,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// Connects to the store service at `addr` (`host:port` or `http://host:port`) and pings it.
    pub async fn connect(addr: impl std::fmt::Display) -> Result<Self> {
        let addr = addr.to_string();
        let url = if addr.contains("://") {
            addr
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| StorageError::Config(format!("store address {url:?}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| StorageError::Backend(format!("store service at {url}: {e}")))?;
        Self::from_channel(channel).await
    }

    /// Uses an existing channel; pings the service to learn its backend.
    pub async fn from_channel(channel: Channel) -> Result<Self> {
        let client = StoreClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut store = Self {
            client,
            backend: Backend::Sqlite,
        };
        store.backend = store.ping_backend().await?;
        Ok(store)
    }

    fn client(&self) -> StoreClient<Channel> {
        self.client.clone()
    }

    async fn ping_backend(&self) -> Result<Backend> {
        let r = self.client().ping(pb::Empty {}).await.answer()?;
        reply(convert::backend("backend", &r.backend))
    }
}

/// Turns a tonic reply into its message or the storage error the service answered with.
trait Answer<T> {
    fn answer(self) -> Result<T>;
}

impl<T> Answer<T> for std::result::Result<tonic::Response<T>, tonic::Status> {
    fn answer(self) -> Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|s| StorageError::from_status(&s))
    }
}

/// A reply that does not parse is the service's fault, not the caller's.
fn reply<T>(parsed: Parsed<T>) -> Result<T> {
    parsed.map_err(|Invalid { field, reason }| {
        StorageError::Backend(format!("store service sent an invalid {field}: {reason}"))
    })
}

fn all<P, T>(items: Vec<P>, f: impl Fn(P) -> Parsed<T>) -> Result<Vec<T>> {
    reply(items.into_iter().map(f).collect())
}

/// Milliseconds on the wire, saturating like the backends do.
fn millis(d: Duration) -> u64 {
    d.as_millis().min(i64::MAX as u128) as u64
}

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
}

#[async_trait]
impl CredentialStore for RemoteStore {
    async fn create_credential(&self, new: NewCredential) -> Result<Credential> {
        let c = self
            .client()
            .create_credential(to::new_credential(new))
            .await
            .answer()?;
        reply(from::credential(c))
    }

    async fn get_credential(&self, name: &str) -> Result<Credential> {
        let req = pb::CredentialRef {
            name: name.to_owned(),
        };
        reply(from::credential(
            self.client().get_credential(req).await.answer()?,
        ))
    }

    async fn update_credential(&self, name: &str, sealed: Vec<u8>) -> Result<Credential> {
        let req = pb::UpdateCredentialRequest {
            name: name.to_owned(),
            sealed,
        };
        reply(from::credential(
            self.client().update_credential(req).await.answer()?,
        ))
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        let list = self
            .client()
            .list_credentials(pb::Empty {})
            .await
            .answer()?;
        all(list.credentials, from::credential)
    }

    async fn delete_credential(&self, name: &str) -> Result<()> {
        let req = pb::CredentialRef {
            name: name.to_owned(),
        };
        self.client().delete_credential(req).await.answer()?;
        Ok(())
    }
}

#[async_trait]
impl KvStore for RemoteStore {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let req = pb::KvKey {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
        };
        let entry = self.client().kv_get(req).await.answer()?.entry;
        reply(entry.map(from::kv_entry).transpose())
    }

    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64> {
        let req = pb::KvPutRequest {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            value,
            expect: to::expect(expect),
        };
        Ok(self.client().kv_put(req).await.answer()?.version)
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let req = pb::KvKey {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
        };
        Ok(self.client().kv_delete(req).await.answer()?.existed)
    }

    async fn kv_list(&self, namespace: &str, prefix: &str) -> Result<Vec<KvEntry>> {
        let req = pb::KvListRequest {
            namespace: namespace.to_owned(),
            prefix: prefix.to_owned(),
        };
        all(
            self.client().kv_list(req).await.answer()?.entries,
            from::kv_entry,
        )
    }
}

#[async_trait]
impl QueueStore for RemoteStore {
    async fn enqueue(
        &self,
        queue: &str,
        payload: serde_json::Value,
        delay: Duration,
    ) -> Result<i64> {
        let req = pb::EnqueueRequest {
            queue: queue.to_owned(),
            payload: Some(to::json(&payload)),
            delay_ms: millis(delay),
        };
        Ok(self.client().enqueue(req).await.answer()?.id)
    }

    async fn lease(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let req = pb::LeaseRequest {
            queue: queue.to_owned(),
            worker: worker.to_owned(),
            lease_ms: millis(lease),
        };
        reply(
            self.client()
                .lease(req)
                .await
                .answer()?
                .job
                .map(from::job)
                .transpose(),
        )
    }

    async fn ack(&self, job_id: i64, worker: &str) -> Result<()> {
        let req = pb::AckRequest {
            id: job_id,
            worker: worker.to_owned(),
        };
        self.client().ack(req).await.answer()?;
        Ok(())
    }

    async fn nack(&self, job_id: i64, worker: &str, delay: Duration) -> Result<()> {
        let req = pb::NackRequest {
            id: job_id,
            worker: worker.to_owned(),
            delay_ms: millis(delay),
        };
        self.client().nack(req).await.answer()?;
        Ok(())
    }

    async fn queue_len(&self, queue: &str) -> Result<u64> {
        let req = pb::QueueRef {
            queue: queue.to_owned(),
        };
        Ok(self.client().queue_len(req).await.answer()?.len)
    }
}

#[async_trait]
impl UserStore for RemoteStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        reply(from::user(
            self.client()
                .create_user(to::new_user(new))
                .await
                .answer()?,
        ))
    }

    async fn get_user_by_name(&self, username: &str) -> Result<User> {
        let req = pb::UserRef {
            username: username.to_owned(),
        };
        reply(from::user(
            self.client().get_user_by_name(req).await.answer()?,
        ))
    }

    async fn count_users(&self) -> Result<u64> {
        Ok(self
            .client()
            .count_users(pb::Empty {})
            .await
            .answer()?
            .count)
    }
}

#[async_trait]
impl Store for RemoteStore {
    /// The backend the service reported when this client connected.
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        self.ping_backend().await.map(|_| ())
    }
}
