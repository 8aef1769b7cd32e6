//! Conversions between storage rows and proto messages.
//!
//! Rows to messages cannot fail ([`to_proto`]). Messages to rows ([`from_proto`] and the helpers here)
//! check every value that crosses the wire, and a bad one names its field: the server answers it
//! as InvalidArgument, the client treats it as a broken reply.

pub mod from_proto;
pub mod to_proto;

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use flowork_kit::Problem;
use flowork_model::Timestamp;
use flowork_proto::v1 as pb;
use flowork_storage::Backend;
use serde_json::Value;

/// A value from the wire that is not acceptable, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The offending field, dotted for nested messages (`versions[1].record`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// Puts the field under the message it is nested in.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl From<Invalid> for tonic::Status {
    fn from(e: Invalid) -> Self {
        // The detail repeats the field: a client that keeps only the detail still learns it.
        Problem::bad_request(format!("{}: {}", e.field, e.reason))
            .with_field(e.field)
            .into()
    }
}

/// Result of a parse.
pub type Parsed<T> = Result<T, Invalid>;

/// Anything with a `FromStr`: typed ids, status enums, roles.
pub fn parse<T: FromStr>(field: &str, s: &str) -> Parsed<T>
where
    T::Err: Display,
{
    s.parse()
        .map_err(|e: T::Err| Invalid::new(field, e.to_string()))
}

/// An optional `FromStr` value.
pub fn parse_opt<T: FromStr>(field: &str, s: Option<&str>) -> Parsed<Option<T>>
where
    T::Err: Display,
{
    s.map(|s| parse(field, s)).transpose()
}

/// Text bound for the database: no NUL characters (Postgres `text` refuses them).
pub fn text(field: &str, s: String) -> Parsed<String> {
    if s.contains('\0') {
        return Err(Invalid::new(field, "must not contain NUL characters"));
    }
    Ok(s)
}

/// Optional text.
pub fn text_opt(field: &str, s: Option<String>) -> Parsed<Option<String>> {
    s.map(|s| text(field, s)).transpose()
}

/// A name or key: non-empty text.
pub fn name(field: &str, s: String) -> Parsed<String> {
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    text(field, s)
}

/// A required JSON value.
pub fn json(field: &str, j: Option<pb::Json>) -> Parsed<Value> {
    match j {
        Some(j) => json_bytes(field, &j.utf8),
        None => Err(Invalid::new(field, "is required")),
    }
}

/// An optional JSON value.
pub fn json_opt(field: &str, j: Option<pb::Json>) -> Parsed<Option<Value>> {
    j.map(|j| json_bytes(field, &j.utf8)).transpose()
}

fn json_bytes(field: &str, bytes: &[u8]) -> Parsed<Value> {
    serde_json::from_slice(bytes).map_err(|e| Invalid::new(field, format!("invalid JSON: {e}")))
}

/// Milliseconds since the epoch; before 1970 is a bug on the sender's side.
pub fn timestamp(field: &str, ms: i64) -> Parsed<Timestamp> {
    if ms < 0 {
        return Err(Invalid::new(field, format!("timestamp {ms} is negative")));
    }
    Ok(Timestamp(ms))
}

/// An optional timestamp.
pub fn timestamp_opt(field: &str, ms: Option<i64>) -> Parsed<Option<Timestamp>> {
    ms.map(|ms| timestamp(field, ms)).transpose()
}

/// An unsigned count the databases store as a signed 64-bit integer.
pub fn count(field: &str, n: u64) -> Parsed<u64> {
    if i64::try_from(n).is_err() {
        return Err(Invalid::new(
            field,
            format!("{n} is too large (max {})", i64::MAX),
        ));
    }
    Ok(n)
}

/// A delay or lease length in milliseconds.
pub fn millis(field: &str, ms: u64) -> Parsed<Duration> {
    count(field, ms).map(Duration::from_millis)
}

/// A queue job id; ids start at 1.
pub fn job_id(field: &str, id: i64) -> Parsed<i64> {
    if id < 1 {
        return Err(Invalid::new(field, format!("job id {id} is not positive")));
    }
    Ok(id)
}

/// The backend a Ping names.
pub fn backend(field: &str, s: &str) -> Parsed<Backend> {
    match s {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" => Ok(Backend::Postgres),
        other => Err(Invalid::new(field, format!("unknown backend {other:?}"))),
    }
}
