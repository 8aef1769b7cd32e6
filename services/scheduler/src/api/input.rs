//! Reading requests: ids, bodies (JSON or YAML) and query strings, with problems naming the field.

use axum::http::HeaderMap;
use bytes::Bytes;
use flowork_kit::Problem;
use flowork_model::workflow::WorkflowDoc;
use serde_json::Value;

/// Parses a typed id from a path segment.
pub(crate) fn id<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T, Problem>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| Problem::bad_request(e.to_string()).with_field(field))
}

fn is_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("yaml"))
}

/// A workflow document from a JSON body, or YAML when the content type says so.
pub(crate) fn workflow(headers: &HeaderMap, body: &Bytes) -> Result<WorkflowDoc, Problem> {
    let text =
        std::str::from_utf8(body).map_err(|_| Problem::bad_request("the body is not UTF-8"))?;
    let parsed = if is_yaml(headers) {
        WorkflowDoc::from_yaml(text)
    } else {
        WorkflowDoc::from_json(text)
    };
    parsed.map_err(|e| Problem::bad_request(e.message).with_field("body"))
}

/// A JSON body, `{}` when empty.
pub(crate) fn json(body: &Bytes) -> Result<Value, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("invalid JSON: {e}")).with_field("body"))
}

/// Parses an optional query value.
pub(crate) fn opt<T: std::str::FromStr>(
    raw: Option<&String>,
    field: &str,
) -> Result<Option<T>, Problem>
where
    T::Err: std::fmt::Display,
{
    raw.map(|s| {
        s.parse()
            .map_err(|e: T::Err| Problem::bad_request(format!("{s:?}: {e}")).with_field(field))
    })
    .transpose()
}
