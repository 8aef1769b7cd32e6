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

/// The longest output port name, in characters.
pub const MAX_PORT_CHARS: usize = 64;

/// An optional output port name: if present, 1 to [`MAX_PORT_CHARS`] characters, no NUL.
pub fn port_opt(field: &str, s: Option<String>) -> Parsed<Option<String>> {
    s.map(|s| {
        let chars = s.chars().count();
        if chars > MAX_PORT_CHARS {
            return Err(Invalid::new(
                field,
                format!("is {chars} characters long (max {MAX_PORT_CHARS})"),
            ));
        }
        name(field, s)
    })
    .transpose()
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

#[cfg(test)]
mod tests {
    use flowork_model::WorkflowId;

    use super::*;

    #[test]
    fn invalid_becomes_a_bad_request_naming_the_nested_field() {
        let e = json(
            "record",
            Some(pb::Json {
                utf8: b"{".to_vec(),
            }),
        )
        .expect_err("bad JSON");
        let status = tonic::Status::from(e.within("versions[2]"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let p = Problem::from_status(&status);
        assert_eq!(p.field.as_deref(), Some("versions[2].record"));
        assert!(
            p.detail.starts_with("versions[2].record: invalid JSON"),
            "{}",
            p.detail
        );
    }

    #[test]
    fn ids_statuses_and_numbers_are_checked() {
        assert!(parse::<WorkflowId>("id", "wf_nope").is_err());
        let id = WorkflowId::new();
        assert_eq!(parse::<WorkflowId>("id", &id.to_string()), Ok(id));
        assert!(count("gas", i64::MAX as u64).is_ok());
        assert_eq!(
            count("gas", i64::MAX as u64 + 1).map_err(|e| e.field),
            Err("gas".into())
        );
        assert!(timestamp("t", -1).is_err());
        assert!(job_id("id", 0).is_err());
        assert!(name("queue", String::new()).is_err());
        assert!(text("error", "a\0b".into()).is_err());
        assert_eq!(
            json("input", None).map_err(|e| e.reason),
            Err("is required".into())
        );
        assert_eq!(json_opt("output", None), Ok(None));
        assert_eq!(backend("backend", "postgres"), Ok(Backend::Postgres));
    }

    #[test]
    fn ports_are_short_non_empty_text() {
        assert_eq!(port_opt("port", None), Ok(None));
        for ok in ["true", "false", "p", &"ü".repeat(MAX_PORT_CHARS)] {
            assert_eq!(port_opt("port", Some(ok.into())), Ok(Some(ok.into())));
        }
        for bad in [String::new(), "a\0b".into(), "x".repeat(MAX_PORT_CHARS + 1)] {
            let e = port_opt("port", Some(bad)).expect_err("refused");
            assert_eq!(e.field, "port", "{e:?}");
        }
    }

    #[test]
    fn json_survives_the_wire_exactly() {
        let v = serde_json::json!({"a": [1, 2.5, "ü", null, u64::MAX, i64::MIN], "b": {"c": true}});
        assert_eq!(json("v", Some(to_proto::json(&v))), Ok(v));
    }
}
