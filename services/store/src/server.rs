//! The `flowork.v1.Store` gRPC service over any [`Store`].

use std::sync::Arc;

use flowork_proto::v1 as pb;
use flowork_proto::v1::store_server::StoreServer;
use flowork_storage::{Store, WorkflowPatch};
use tonic::{Request, Response, Status};

use crate::MAX_MESSAGE_BYTES;
use crate::convert::{self, Invalid, from_proto as p, name, parse, text, to_proto as to};

/// The store service: checks each request, calls the store, answers with the rows it returns.
#[derive(Clone)]
pub struct StoreService {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreService")
            .field("backend", &self.store.backend())
            .finish()
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ok<T>(t: T) -> Reply<T> {
    Ok(Response::new(t))
}

fn empty() -> Reply<pb::Empty> {
    ok(pb::Empty {})
}

impl StoreService {
    /// Serves `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The tonic server for this service, accepting messages up to [`MAX_MESSAGE_BYTES`].
    pub fn into_server(self) -> StoreServer<Self> {
        StoreServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

#[tonic::async_trait]
impl pb::store_server::Store for StoreService {
    async fn create_workflow(
        &self,
        req: Request<pb::CreateWorkflowRequest>,
    ) -> Reply<pb::Workflow> {
        let new = p::new_workflow(req.into_inner())?;
        ok(to::workflow(self.store.create_workflow(new).await?))
    }

    async fn import_workflow(
        &self,
        req: Request<pb::ImportWorkflowRequest>,
    ) -> Reply<pb::Workflow> {
        let req = req.into_inner();
        let Some(workflow) = req.workflow else {
            return Err(Invalid::new("workflow", "is required").into());
        };
        let new = p::new_workflow(workflow).map_err(|e| e.within("workflow"))?;
        let versions = (req.versions.into_iter().enumerate())
            .map(|(i, v)| p::version(v).map_err(|e| e.within(&format!("versions[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        ok(to::workflow(
            self.store.import_workflow(new, versions).await?,
        ))
    }

    async fn get_workflow(&self, req: Request<pb::WorkflowRef>) -> Reply<pb::Workflow> {
        let id = parse("id", &req.get_ref().id)?;
        ok(to::workflow(self.store.get_workflow(id).await?))
    }

    async fn list_workflows(&self, req: Request<pb::PageRequest>) -> Reply<pb::WorkflowList> {
        let page = p::page(Some(req.into_inner()))?;
        let workflows = self.store.list_workflows(page).await?;
        ok(pb::WorkflowList {
            workflows: workflows.into_iter().map(to::workflow).collect(),
        })
    }

    async fn update_workflow(
        &self,
        req: Request<pb::UpdateWorkflowRequest>,
    ) -> Reply<pb::Workflow> {
        let req = req.into_inner();
        let id = parse("id", &req.id)?;
        let patch = WorkflowPatch {
            name: convert::text_opt("name", req.name)?,
            active: req.active,
        };
        ok(to::workflow(self.store.update_workflow(id, patch).await?))
    }

    async fn delete_workflow(&self, req: Request<pb::WorkflowRef>) -> Reply<pb::Empty> {
        self.store
            .delete_workflow(parse("id", &req.get_ref().id)?)
            .await?;
        empty()
    }

    async fn append_version(&self, req: Request<pb::WorkflowVersion>) -> Reply<pb::Workflow> {
        let version = p::version(req.into_inner())?;
        ok(to::workflow(self.store.append_version(version).await?))
    }

    async fn get_version(&self, req: Request<pb::VersionRef>) -> Reply<pb::WorkflowVersion> {
        let id = parse("workflow_id", &req.get_ref().workflow_id)?;
        ok(to::version(
            self.store.get_version(id, req.get_ref().version).await?,
        ))
    }

    async fn list_versions(&self, req: Request<pb::WorkflowRef>) -> Reply<pb::VersionList> {
        let versions = self
            .store
            .list_versions(parse("id", &req.get_ref().id)?)
            .await?;
        ok(pb::VersionList {
            versions: versions.into_iter().map(to::version).collect(),
        })
    }

    async fn create_execution(
        &self,
        req: Request<pb::CreateExecutionRequest>,
    ) -> Reply<pb::Execution> {
        let new = p::new_execution(req.into_inner())?;
        ok(to::execution(self.store.create_execution(new).await?))
    }

    async fn get_execution(&self, req: Request<pb::ExecutionRef>) -> Reply<pb::Execution> {
        let id = parse("id", &req.get_ref().id)?;
        ok(to::execution(self.store.get_execution(id).await?))
    }

    async fn list_executions(
        &self,
        req: Request<pb::ListExecutionsRequest>,
    ) -> Reply<pb::ExecutionList> {
        let (filter, page) = p::execution_filter(req.into_inner())?;
        let executions = self.store.list_executions(filter, page).await?;
        ok(pb::ExecutionList {
            executions: executions.into_iter().map(to::execution).collect(),
        })
    }

    async fn update_execution(
        &self,
        req: Request<pb::UpdateExecutionRequest>,
    ) -> Reply<pb::Execution> {
        let (id, update) = p::execution_update(req.into_inner())?;
        ok(to::execution(
            self.store.update_execution(id, update).await?,
        ))
    }

    async fn put_node_run(&self, req: Request<pb::NodeRun>) -> Reply<pb::Empty> {
        self.store
            .put_node_run(p::node_run(req.into_inner())?)
            .await?;
        empty()
    }

    async fn list_node_runs(&self, req: Request<pb::ExecutionRef>) -> Reply<pb::NodeRunList> {
        let runs = self
            .store
            .list_node_runs(parse("id", &req.get_ref().id)?)
            .await?;
        ok(pb::NodeRunList {
            runs: runs.into_iter().map(to::node_run).collect(),
        })
    }

    async fn delete_finished_before(
        &self,
        req: Request<pb::DeleteFinishedBeforeRequest>,
    ) -> Reply<pb::CountResponse> {
        let req = req.into_inner();
        let before = convert::timestamp("before", req.before)?;
        if req.limit == 0 {
            return Err(Invalid::new("limit", "must be at least 1").into());
        }
        ok(pb::CountResponse {
            count: self.store.delete_finished_before(before, req.limit).await?,
        })
    }

    async fn create_credential(
        &self,
        req: Request<pb::CreateCredentialRequest>,
    ) -> Reply<pb::Credential> {
        let new = p::new_credential(req.into_inner())?;
        ok(to::credential(self.store.create_credential(new).await?))
    }

    async fn get_credential(&self, req: Request<pb::CredentialRef>) -> Reply<pb::Credential> {
        let name = name("name", req.into_inner().name)?;
        ok(to::credential(self.store.get_credential(&name).await?))
    }

    async fn update_credential(
        &self,
        req: Request<pb::UpdateCredentialRequest>,
    ) -> Reply<pb::Credential> {
        let req = req.into_inner();
        let name = name("name", req.name)?;
        ok(to::credential(
            self.store.update_credential(&name, req.sealed).await?,
        ))
    }

    async fn list_credentials(&self, _req: Request<pb::Empty>) -> Reply<pb::CredentialList> {
        let credentials = self.store.list_credentials().await?;
        ok(pb::CredentialList {
            credentials: credentials.into_iter().map(to::credential).collect(),
        })
    }

    async fn delete_credential(&self, req: Request<pb::CredentialRef>) -> Reply<pb::Empty> {
        self.store
            .delete_credential(&name("name", req.into_inner().name)?)
            .await?;
        empty()
    }

    async fn kv_get(&self, req: Request<pb::KvKey>) -> Reply<pb::KvGetResponse> {
        let (ns, key) = kv_key(req.into_inner())?;
        let entry = self.store.kv_get(&ns, &key).await?;
        ok(pb::KvGetResponse {
            entry: entry.map(to::kv_entry),
        })
    }

    async fn kv_put(&self, req: Request<pb::KvPutRequest>) -> Reply<pb::KvPutResponse> {
        let req = req.into_inner();
        let (ns, key) = kv_key(pb::KvKey {
            namespace: req.namespace,
            key: req.key,
        })?;
        let expect = p::expect(req.expect)?;
        ok(pb::KvPutResponse {
            version: self.store.kv_put(&ns, &key, req.value, expect).await?,
        })
    }

    async fn kv_delete(&self, req: Request<pb::KvKey>) -> Reply<pb::KvDeleteResponse> {
        let (ns, key) = kv_key(req.into_inner())?;
        ok(pb::KvDeleteResponse {
            existed: self.store.kv_delete(&ns, &key).await?,
        })
    }

    async fn kv_delete_before(
        &self,
        req: Request<pb::KvDeleteBeforeRequest>,
    ) -> Reply<pb::CountResponse> {
        let req = req.into_inner();
        let ns = name("namespace", req.namespace)?;
        let before = convert::timestamp("before", req.before)?;
        if req.limit == 0 {
            return Err(Invalid::new("limit", "must be at least 1").into());
        }
        ok(pb::CountResponse {
            count: self.store.kv_delete_before(&ns, before, req.limit).await?,
        })
    }

    async fn kv_list(&self, req: Request<pb::KvListRequest>) -> Reply<pb::KvEntryList> {
        let req = req.into_inner();
        let ns = name("namespace", req.namespace)?;
        let entries = self
            .store
            .kv_list(&ns, &text("prefix", req.prefix)?)
            .await?;
        ok(pb::KvEntryList {
            entries: entries.into_iter().map(to::kv_entry).collect(),
        })
    }

    async fn enqueue(&self, req: Request<pb::EnqueueRequest>) -> Reply<pb::EnqueueResponse> {
        let req = req.into_inner();
        let queue = name("queue", req.queue)?;
        let payload = convert::json("payload", req.payload)?;
        let delay = convert::millis("delay_ms", req.delay_ms)?;
        ok(pb::EnqueueResponse {
            id: self.store.enqueue(&queue, payload, delay).await?,
        })
    }

    async fn enqueue_leased(&self, req: Request<pb::EnqueueLeasedRequest>) -> Reply<pb::Job> {
        let req = req.into_inner();
        let (queue, worker) = (name("queue", req.queue)?, name("worker", req.worker)?);
        let payload = convert::json("payload", req.payload)?;
        let lease = convert::millis("lease_ms", req.lease_ms)?;
        let job = self
            .store
            .enqueue_leased(&queue, payload, &worker, lease)
            .await?;
        ok(to::job(job))
    }

    async fn lease(&self, req: Request<pb::LeaseRequest>) -> Reply<pb::LeaseResponse> {
        let req = req.into_inner();
        let (queue, worker) = (name("queue", req.queue)?, name("worker", req.worker)?);
        let lease = convert::millis("lease_ms", req.lease_ms)?;
        let job = self.store.lease(&queue, &worker, lease).await?;
        ok(pb::LeaseResponse {
            job: job.map(to::job),
        })
    }

    async fn ack(&self, req: Request<pb::AckRequest>) -> Reply<pb::Empty> {
        let req = req.into_inner();
        let id = convert::job_id("id", req.id)?;
        self.store.ack(id, &name("worker", req.worker)?).await?;
        empty()
    }

    async fn nack(&self, req: Request<pb::NackRequest>) -> Reply<pb::Empty> {
        let req = req.into_inner();
        let id = convert::job_id("id", req.id)?;
        let delay = convert::millis("delay_ms", req.delay_ms)?;
        self.store
            .nack(id, &name("worker", req.worker)?, delay)
            .await?;
        empty()
    }

    async fn extend_lease(&self, req: Request<pb::ExtendLeaseRequest>) -> Reply<pb::Empty> {
        let req = req.into_inner();
        let id = convert::job_id("id", req.id)?;
        let lease = convert::millis("lease_ms", req.lease_ms)?;
        self.store
            .extend_lease(id, &name("worker", req.worker)?, lease)
            .await?;
        empty()
    }

    async fn queue_len(&self, req: Request<pb::QueueRef>) -> Reply<pb::QueueLenResponse> {
        let queue = name("queue", req.into_inner().queue)?;
        ok(pb::QueueLenResponse {
            len: self.store.queue_len(&queue).await?,
        })
    }

    async fn create_user(&self, req: Request<pb::CreateUserRequest>) -> Reply<pb::User> {
        let new = p::new_user(req.into_inner())?;
        ok(to::user(self.store.create_user(new).await?))
    }

    async fn get_user_by_name(&self, req: Request<pb::UserRef>) -> Reply<pb::User> {
        let username = name("username", req.into_inner().username)?;
        ok(to::user(self.store.get_user_by_name(&username).await?))
    }

    async fn count_users(&self, _req: Request<pb::Empty>) -> Reply<pb::CountResponse> {
        ok(pb::CountResponse {
            count: self.store.count_users().await?,
        })
    }

    async fn ping(&self, _req: Request<pb::Empty>) -> Reply<pb::PingResponse> {
        self.store.ping().await?;
        ok(pb::PingResponse {
            backend: to::backend(self.store.backend()).to_owned(),
        })
    }
}

fn kv_key(k: pb::KvKey) -> Result<(String, String), Invalid> {
    Ok((name("namespace", k.namespace)?, name("key", k.key)?))
}
