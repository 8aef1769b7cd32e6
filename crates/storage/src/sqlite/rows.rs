//! Conversions between SQLite columns and the store's row types.

use std::str::FromStr;

use flowork_model::Timestamp;
use rusqlite::Row;
use rusqlite::types::Type;
use serde_json::Value;

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

fn corrupt(
    idx: usize,
    ty: Type,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, Box::new(e))
}

/// Parses a text column into a typed id or enum.
fn parsed<T>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: String = r.get(idx)?;
    s.parse().map_err(|e| corrupt(idx, Type::Text, e))
}

fn parsed_opt<T>(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: Option<String> = r.get(idx)?;
    s.map(|s| s.parse().map_err(|e| corrupt(idx, Type::Text, e)))
        .transpose()
}

fn json(r: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let s: String = r.get(idx)?;
    serde_json::from_str(&s).map_err(|e| corrupt(idx, Type::Text, e))
}

fn json_opt(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Value>> {
    let s: Option<String> = r.get(idx)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(idx, Type::Text, e)))
        .transpose()
}

fn ts(r: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    r.get(idx).map(Timestamp)
}

fn ts_opt(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(idx)?.map(Timestamp))
}

/// JSON as stored in a TEXT column.
pub(super) fn to_json(v: &Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Invalid(format!("unserializable JSON: {e}")))
}

pub(super) fn to_json_opt(v: Option<&Value>) -> Result<Option<String>> {
    v.map(to_json).transpose()
}

/// A u64 as SQLite's signed 64-bit integer.
pub(super) fn to_i64(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StorageError::Invalid(format!("{what} {v} is too large")))
}

pub(super) fn workflow(r: &Row<'_>) -> rusqlite::Result<Workflow> {
    Ok(Workflow {
        id: parsed(r, 0)?,
        name: r.get(1)?,
        active: r.get(2)?,
        head_version: r.get(3)?,
        head_hash: r.get(4)?,
        created_at: ts(r, 5)?,
        updated_at: ts(r, 6)?,
    })
}

pub(super) fn version(r: &Row<'_>) -> rusqlite::Result<WorkflowVersion> {
    Ok(WorkflowVersion {
        workflow_id: parsed(r, 0)?,
        version: r.get(1)?,
        hash: r.get(2)?,
        previous_hash: r.get(3)?,
        author_id: r.get(4)?,
        signed: r.get(5)?,
        record: json(r, 6)?,
        created_at: ts(r, 7)?,
    })
}

pub(super) fn execution(r: &Row<'_>) -> rusqlite::Result<Execution> {
    execution_text(r)?.parse()
}

/// An execution row whose JSON columns are still text. The writer thread reads these and the
/// caller parses them: parsing is no work for the one thread every write waits on.
pub(super) struct ExecutionText {
    row: Execution,
    input: String,
    output: Option<String>,
}

impl ExecutionText {
    pub(super) fn parse(mut self) -> rusqlite::Result<Execution> {
        let json = |idx, s: &str| serde_json::from_str(s).map_err(|e| corrupt(idx, Type::Text, e));
        self.row.input = json(5, &self.input)?;
        self.row.output = self.output.as_deref().map(|o| json(6, o)).transpose()?;
        Ok(self.row)
    }
}

pub(super) fn execution_text(r: &Row<'_>) -> rusqlite::Result<ExecutionText> {
    Ok(ExecutionText {
        row: Execution {
            id: parsed(r, 0)?,
            workflow_id: parsed(r, 1)?,
            version: r.get(2)?,
            status: parsed(r, 3)?,
            trigger: r.get(4)?,
            input: Value::Null,
            output: None,
            error: r.get(7)?,
            parent_id: parsed_opt(r, 8)?,
            created_at: ts(r, 9)?,
            started_at: ts_opt(r, 10)?,
            finished_at: ts_opt(r, 11)?,
        },
        input: r.get(5)?,
        output: r.get(6)?,
    })
}

pub(super) fn node_run(r: &Row<'_>) -> rusqlite::Result<NodeRun> {
    Ok(NodeRun {
        execution_id: parsed(r, 0)?,
        node_id: r.get(1)?,
        attempt: r.get(2)?,
        status: parsed(r, 3)?,
        input: json(r, 4)?,
        output: json_opt(r, 5)?,
        port: r.get(10)?,
        error: r.get(6)?,
        gas: r
            .get::<_, i64>(7)?
            .try_into()
            .map_err(|e| corrupt(7, Type::Integer, e))?,
        started_at: ts(r, 8)?,
        finished_at: ts_opt(r, 9)?,
    })
}

pub(super) fn credential(r: &Row<'_>) -> rusqlite::Result<Credential> {
    Ok(Credential {
        id: parsed(r, 0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        sealed: r.get(3)?,
        created_at: ts(r, 4)?,
        updated_at: ts(r, 5)?,
    })
}

pub(super) fn kv(r: &Row<'_>) -> rusqlite::Result<KvEntry> {
    Ok(KvEntry {
        key: r.get(0)?,
        value: r.get(1)?,
        version: r
            .get::<_, i64>(2)?
            .try_into()
            .map_err(|e| corrupt(2, Type::Integer, e))?,
        updated_at: ts(r, 3)?,
    })
}

pub(super) fn user(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parsed(r, 0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: parsed(r, 3)?,
        created_at: ts(r, 4)?,
    })
}
