//! Storage rows to proto messages. These cannot fail: every row is already valid.

use flowork_proto::v1 as pb;
use flowork_storage::{self as st, Backend};
use serde_json::Value;

/// A JSON value as its UTF-8 text.
pub fn json(v: &Value) -> pb::Json {
    pb::Json {
        utf8: v.to_string().into_bytes(),
    }
}

fn json_opt(v: Option<&Value>) -> Option<pb::Json> {
    v.map(json)
}

/// The backend's wire name.
pub fn backend(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// A page request.
pub fn page(p: st::Page) -> pb::PageRequest {
    pb::PageRequest {
        limit: p.limit,
        after: p.after,
    }
}

/// A workflow to create.
pub fn new_workflow(w: st::NewWorkflow) -> pb::CreateWorkflowRequest {
    pb::CreateWorkflowRequest {
        id: w.id.to_string(),
        name: w.name,
        active: w.active,
    }
}

/// A workflow row.
pub fn workflow(w: st::Workflow) -> pb::Workflow {
    pb::Workflow {
        id: w.id.to_string(),
        name: w.name,
        active: w.active,
        head_version: w.head_version,
        head_hash: w.head_hash,
        created_at: w.created_at.millis(),
        updated_at: w.updated_at.millis(),
    }
}

/// A workflow version.
pub fn version(v: st::WorkflowVersion) -> pb::WorkflowVersion {
    pb::WorkflowVersion {
        workflow_id: v.workflow_id.to_string(),
        version: v.version,
        hash: v.hash,
        previous_hash: v.previous_hash,
        author_id: v.author_id,
        signed: v.signed,
        record: Some(json(&v.record)),
        created_at: v.created_at.millis(),
    }
}

/// An execution to create.
pub fn new_execution(e: st::NewExecution) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        id: e.id.to_string(),
        workflow_id: e.workflow_id.to_string(),
        version: e.version,
        trigger: e.trigger,
        input: Some(json(&e.input)),
        parent_id: e.parent_id.map(|p| p.to_string()),
        started: e.started,
    }
}

/// An execution row.
pub fn execution(e: st::Execution) -> pb::Execution {
    pb::Execution {
        id: e.id.to_string(),
        workflow_id: e.workflow_id.to_string(),
        version: e.version,
        status: e.status.as_str().to_owned(),
        trigger: e.trigger,
        input: Some(json(&e.input)),
        output: json_opt(e.output.as_ref()),
        error: e.error,
        parent_id: e.parent_id.map(|p| p.to_string()),
        created_at: e.created_at.millis(),
        started_at: e.started_at.map(|t| t.millis()),
        finished_at: e.finished_at.map(|t| t.millis()),
    }
}

/// One attempt of one node.
pub fn node_run(r: st::NodeRun) -> pb::NodeRun {
    pb::NodeRun {
        execution_id: r.execution_id.to_string(),
        node_id: r.node_id,
        attempt: r.attempt,
        status: r.status.as_str().to_owned(),
        input: Some(json(&r.input)),
        output: json_opt(r.output.as_ref()),
        error: r.error,
        gas: r.gas,
        started_at: r.started_at.millis(),
        finished_at: r.finished_at.map(|t| t.millis()),
        port: r.port,
    }
}

/// A credential to create.
pub fn new_credential(c: st::NewCredential) -> pb::CreateCredentialRequest {
    pb::CreateCredentialRequest {
        id: c.id.to_string(),
        name: c.name,
        kind: c.kind,
        sealed: c.sealed,
    }
}

/// A credential row.
pub fn credential(c: st::Credential) -> pb::Credential {
    pb::Credential {
        id: c.id.to_string(),
        name: c.name,
        kind: c.kind,
        sealed: c.sealed,
        created_at: c.created_at.millis(),
        updated_at: c.updated_at.millis(),
    }
}

/// A key/value entry.
pub fn kv_entry(e: st::KvEntry) -> pb::KvEntry {
    pb::KvEntry {
        key: e.key,
        value: e.value,
        version: e.version,
        updated_at: e.updated_at.millis(),
    }
}

/// The compare-and-swap condition of a put.
pub fn expect(e: st::Expect) -> Option<pb::kv_put_request::Expect> {
    use pb::kv_put_request::Expect as E;
    match e {
        st::Expect::Any => None,
        st::Expect::Absent => Some(E::Absent(true)),
        st::Expect::Version(v) => Some(E::Version(v)),
    }
}

/// A leased queue message.
pub fn job(j: st::Job) -> pb::Job {
    pb::Job {
        id: j.id,
        queue: j.queue,
        payload: Some(json(&j.payload)),
        attempts: j.attempts,
        lease_until: j.lease_until.millis(),
    }
}

/// A user to create.
pub fn new_user(u: st::NewUser) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        id: u.id.to_string(),
        username: u.username,
        password_hash: u.password_hash,
        role: u.role.as_str().to_owned(),
    }
}

/// A user row.
pub fn user(u: st::User) -> pb::User {
    pb::User {
        id: u.id.to_string(),
        username: u.username,
        password_hash: u.password_hash,
        role: u.role.as_str().to_owned(),
        created_at: u.created_at.millis(),
    }
}
