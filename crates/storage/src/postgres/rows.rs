//! Conversions between Postgres rows and the store's row types.

use std::fmt::Display;
use std::str::FromStr;

use flowork_model::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::{Result, StorageError};
use crate::types::{Credential, Execution, KvEntry, NodeRun, User, Workflow, WorkflowVersion};

pub(super) const WORKFLOW_COLS: &str =
    "id, name, active, head_version, head_hash, created_at, updated_at";
pub(super) const VERSION_COLS: &str =
    "workflow_id, version, hash, previous_hash, author_id, signed, record, created_at";
pub(super) const EXECUTION_COLS: &str = r#"id, workflow_id, version, status, "trigger", input,
    output, error, parent_id, created_at, started_at, finished_at"#;
pub(super) const NODE_RUN_COLS: &str = "execution_id, node_id, attempt, status, input, output, error, gas, started_at, finished_at, port";
pub(super) const CREDENTIAL_COLS: &str = "id, name, kind, sealed, created_at, updated_at";
pub(super) const KV_COLS: &str = "key, value, version, updated_at";
pub(super) const USER_COLS: &str = "id, username, password_hash, role, created_at";

fn corrupt(idx: usize, e: impl Display) -> StorageError {
    StorageError::Backend(format!("corrupt row (column {idx}): {e}"))
}

pub(super) fn get<'a, T: FromSql<'a>>(r: &'a Row, idx: usize) -> Result<T> {
    r.try_get(idx).map_err(|e| corrupt(idx, e))
}

fn parsed<T: FromStr>(r: &Row, idx: usize) -> Result<T>
where
    T::Err: Display,
{
    get::<&str>(r, idx)?.parse().map_err(|e| corrupt(idx, e))
}

fn parsed_opt<T: FromStr>(r: &Row, idx: usize) -> Result<Option<T>>
where
    T::Err: Display,
{
    get::<Option<&str>>(r, idx)?
        .map(|s| s.parse().map_err(|e| corrupt(idx, e)))
        .transpose()
}

/// A BIGINT column holding an unsigned value of a narrower or unsigned type.
pub(super) fn unsigned<T: TryFrom<i64>>(r: &Row, idx: usize) -> Result<T>
where
    T::Error: Display,
{
    T::try_from(get::<i64>(r, idx)?).map_err(|e| corrupt(idx, e))
}

fn ts(r: &Row, idx: usize) -> Result<Timestamp> {
    get(r, idx).map(Timestamp)
}

fn ts_opt(r: &Row, idx: usize) -> Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(r, idx)?.map(Timestamp))
}

/// An unsigned value as a BIGINT parameter.
pub(super) fn to_i64<T: TryInto<i64> + Copy + Display>(what: &str, v: T) -> Result<i64> {
    v.try_into()
        .map_err(|_| StorageError::Invalid(format!("{what} {v} is too large")))
}

pub(super) fn workflow(r: &Row) -> Result<Workflow> {
    Ok(Workflow {
        id: parsed(r, 0)?,
        name: get(r, 1)?,
        active: get(r, 2)?,
        head_version: unsigned(r, 3)?,
        head_hash: get(r, 4)?,
        created_at: ts(r, 5)?,
        updated_at: ts(r, 6)?,
    })
}

pub(super) fn version(r: &Row) -> Result<WorkflowVersion> {
    Ok(WorkflowVersion {
        workflow_id: parsed(r, 0)?,
        version: unsigned(r, 1)?,
        hash: get(r, 2)?,
        previous_hash: get(r, 3)?,
        author_id: get(r, 4)?,
        signed: get(r, 5)?,
        record: get(r, 6)?,
        created_at: ts(r, 7)?,
    })
}

pub(super) fn execution(r: &Row) -> Result<Execution> {
    Ok(Execution {
        id: parsed(r, 0)?,
        workflow_id: parsed(r, 1)?,
        version: unsigned(r, 2)?,
        status: parsed(r, 3)?,
        trigger: get(r, 4)?,
        input: get(r, 5)?,
        output: get(r, 6)?,
        error: get(r, 7)?,
        parent_id: parsed_opt(r, 8)?,
        created_at: ts(r, 9)?,
        started_at: ts_opt(r, 10)?,
        finished_at: ts_opt(r, 11)?,
    })
}

pub(super) fn node_run(r: &Row) -> Result<NodeRun> {
    Ok(NodeRun {
        execution_id: parsed(r, 0)?,
        node_id: get(r, 1)?,
        attempt: unsigned(r, 2)?,
        status: parsed(r, 3)?,
        input: get(r, 4)?,
        output: get(r, 5)?,
        port: get(r, 10)?,
        error: get(r, 6)?,
        gas: unsigned(r, 7)?,
        started_at: ts(r, 8)?,
        finished_at: ts_opt(r, 9)?,
    })
}

pub(super) fn credential(r: &Row) -> Result<Credential> {
    Ok(Credential {
        id: parsed(r, 0)?,
        name: get(r, 1)?,
        kind: get(r, 2)?,
        sealed: get(r, 3)?,
        created_at: ts(r, 4)?,
        updated_at: ts(r, 5)?,
    })
}

pub(super) fn kv(r: &Row) -> Result<KvEntry> {
    Ok(KvEntry {
        key: get(r, 0)?,
        value: get(r, 1)?,
        version: unsigned(r, 2)?,
        updated_at: ts(r, 3)?,
    })
}

pub(super) fn user(r: &Row) -> Result<User> {
    Ok(User {
        id: parsed(r, 0)?,
        username: get(r, 1)?,
        password_hash: get(r, 2)?,
        role: parsed(r, 3)?,
        created_at: ts(r, 4)?,
    })
}
