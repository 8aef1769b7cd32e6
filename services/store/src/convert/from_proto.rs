//! Proto messages to storage rows, checked field by field.

use flowork_model::ExecutionId;
use flowork_proto::v1 as pb;
use flowork_storage as st;

use super::{
    Invalid, Parsed, count, job_id, json, json_opt, name, parse, parse_opt, port_opt, text,
    text_opt, timestamp, timestamp_opt,
};

/// A page request; `None` is the first default page.
pub fn page(p: Option<pb::PageRequest>) -> Parsed<st::Page> {
    let p = p.unwrap_or_default();
    Ok(st::Page {
        limit: p.limit,
        after: text_opt("after", p.after)?,
    })
}

/// A workflow to create.
pub fn new_workflow(w: pb::CreateWorkflowRequest) -> Parsed<st::NewWorkflow> {
    Ok(st::NewWorkflow {
        id: parse("id", &w.id)?,
        name: text("name", w.name)?,
        active: w.active,
    })
}

/// A workflow row.
pub fn workflow(w: pb::Workflow) -> Parsed<st::Workflow> {
    Ok(st::Workflow {
        id: parse("id", &w.id)?,
        name: text("name", w.name)?,
        active: w.active,
        head_version: w.head_version,
        head_hash: text_opt("head_hash", w.head_hash)?,
        created_at: timestamp("created_at", w.created_at)?,
        updated_at: timestamp("updated_at", w.updated_at)?,
    })
}

/// A workflow version (a flow-chain record).
pub fn version(v: pb::WorkflowVersion) -> Parsed<st::WorkflowVersion> {
    Ok(st::WorkflowVersion {
        workflow_id: parse("workflow_id", &v.workflow_id)?,
        version: v.version,
        hash: name("hash", v.hash)?,
        previous_hash: text_opt("previous_hash", v.previous_hash)?,
        author_id: text_opt("author_id", v.author_id)?,
        signed: v.signed,
        record: json("record", v.record)?,
        created_at: timestamp("created_at", v.created_at)?,
    })
}

/// An execution to create.
pub fn new_execution(e: pb::CreateExecutionRequest) -> Parsed<st::NewExecution> {
    Ok(st::NewExecution {
        id: parse("id", &e.id)?,
        workflow_id: parse("workflow_id", &e.workflow_id)?,
        version: e.version,
        trigger: name("trigger", e.trigger)?,
        input: json("input", e.input)?,
        parent_id: parse_opt("parent_id", e.parent_id.as_deref())?,
        started: e.started,
    })
}

/// An execution row.
pub fn execution(e: pb::Execution) -> Parsed<st::Execution> {
    Ok(st::Execution {
        id: parse("id", &e.id)?,
        workflow_id: parse("workflow_id", &e.workflow_id)?,
        version: e.version,
        status: parse("status", &e.status)?,
        trigger: text("trigger", e.trigger)?,
        input: json("input", e.input)?,
        output: json_opt("output", e.output)?,
        error: text_opt("error", e.error)?,
        parent_id: parse_opt("parent_id", e.parent_id.as_deref())?,
        created_at: timestamp("created_at", e.created_at)?,
        started_at: timestamp_opt("started_at", e.started_at)?,
        finished_at: timestamp_opt("finished_at", e.finished_at)?,
    })
}

/// A status change of an execution.
pub fn execution_update(
    u: pb::UpdateExecutionRequest,
) -> Parsed<(ExecutionId, st::ExecutionUpdate)> {
    let update = st::ExecutionUpdate {
        status: parse("status", &u.status)?,
        output: json_opt("output", u.output)?,
        error: text_opt("error", u.error)?,
    };
    Ok((parse("id", &u.id)?, update))
}

/// Which executions to list.
pub fn execution_filter(r: pb::ListExecutionsRequest) -> Parsed<(st::ExecutionFilter, st::Page)> {
    let filter = st::ExecutionFilter {
        workflow_id: parse_opt("workflow_id", r.workflow_id.as_deref())?,
        status: parse_opt("status", r.status.as_deref())?,
    };
    Ok((filter, page(r.page).map_err(|e| e.within("page"))?))
}

/// One attempt of one node.
pub fn node_run(r: pb::NodeRun) -> Parsed<st::NodeRun> {
    Ok(st::NodeRun {
        execution_id: parse("execution_id", &r.execution_id)?,
        node_id: name("node_id", r.node_id)?,
        attempt: r.attempt,
        status: parse("status", &r.status)?,
        input: json("input", r.input)?,
        output: json_opt("output", r.output)?,
        port: port_opt("port", r.port)?,
        error: text_opt("error", r.error)?,
        gas: count("gas", r.gas)?,
        started_at: timestamp("started_at", r.started_at)?,
        finished_at: timestamp_opt("finished_at", r.finished_at)?,
    })
}

/// A credential to create.
pub fn new_credential(c: pb::CreateCredentialRequest) -> Parsed<st::NewCredential> {
    Ok(st::NewCredential {
        id: parse("id", &c.id)?,
        name: name("name", c.name)?,
        kind: name("kind", c.kind)?,
        sealed: c.sealed,
    })
}

/// A credential row.
pub fn credential(c: pb::Credential) -> Parsed<st::Credential> {
    Ok(st::Credential {
        id: parse("id", &c.id)?,
        name: text("name", c.name)?,
        kind: text("kind", c.kind)?,
        sealed: c.sealed,
        created_at: timestamp("created_at", c.created_at)?,
        updated_at: timestamp("updated_at", c.updated_at)?,
    })
}

/// A key/value entry.
pub fn kv_entry(e: pb::KvEntry) -> Parsed<st::KvEntry> {
    Ok(st::KvEntry {
        key: text("key", e.key)?,
        value: e.value,
        version: count("version", e.version)?,
        updated_at: timestamp("updated_at", e.updated_at)?,
    })
}

/// The compare-and-swap condition of a put.
pub fn expect(e: Option<pb::kv_put_request::Expect>) -> Parsed<st::Expect> {
    use pb::kv_put_request::Expect as E;
    Ok(match e {
        None => st::Expect::Any,
        Some(E::Absent(true)) => st::Expect::Absent,
        Some(E::Absent(false)) => {
            return Err(Invalid::new("absent", "set it only as true"));
        }
        Some(E::Version(v)) => st::Expect::Version(count("version", v)?),
    })
}

/// A leased queue message.
pub fn job(j: pb::Job) -> Parsed<st::Job> {
    Ok(st::Job {
        id: job_id("id", j.id)?,
        queue: text("queue", j.queue)?,
        payload: json("payload", j.payload)?,
        attempts: j.attempts,
        lease_until: timestamp("lease_until", j.lease_until)?,
    })
}

/// A user to create.
pub fn new_user(u: pb::CreateUserRequest) -> Parsed<st::NewUser> {
    Ok(st::NewUser {
        id: parse("id", &u.id)?,
        username: name("username", u.username)?,
        password_hash: name("password_hash", u.password_hash)?,
        role: parse("role", &u.role)?,
    })
}

/// A user row.
pub fn user(u: pb::User) -> Parsed<st::User> {
    Ok(st::User {
        id: parse("id", &u.id)?,
        username: text("username", u.username)?,
        password_hash: text("password_hash", u.password_hash)?,
        role: parse("role", &u.role)?,
        created_at: timestamp("created_at", u.created_at)?,
    })
}
