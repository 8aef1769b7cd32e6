//! Reading a `core.http` response: status classes, headers, a size-limited body.

use std::error::Error as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value};

use super::credential::Redactor;
use crate::nodes::NodeError;

/// Most characters of a failed response's body quoted in the error.
const EXCERPT_CHARS: usize = 200;
/// Most bytes read from a failed response's body for the excerpt.
const EXCERPT_READ: usize = 4096;

/// A decoded response body.
pub(super) enum Body {
    Json(Value),
    Text(String),
    Binary(Vec<u8>),
}

impl Body {
    /// The output fields: `body`, plus `body_base64` for binary bodies.
    pub fn into_fields(self) -> Vec<(&'static str, Value)> {
        match self {
            Self::Json(v) => vec![("body", v)],
            Self::Text(t) => vec![("body", Value::String(t))],
            Self::Binary(b) => vec![
                ("body", Value::Null),
                ("body_base64", Value::String(STANDARD.encode(b))),
            ],
        }
    }
}

/// How a content type is decoded.
enum Decode {
    Json,
    Text,
    /// No content type: text when the bytes are UTF-8, else binary.
    Sniff,
    Binary,
}

/// A failure to get a response at all: retryable unless retrying cannot change it.
pub(super) fn transport_error(what: &str, e: reqwest::Error) -> NodeError {
    let fatal = e.is_builder() || e.is_redirect();
    // Without the URL: its query may carry a credential.
    let msg = format!("{what}: {}", chain(&e.without_url()));
    if fatal {
        NodeError::Fatal(msg)
    } else {
        NodeError::Retryable(msg)
    }
}

/// The error for a status that is not an output: 429 and 5xx retryable, the rest fatal.
pub(super) async fn status_error(what: &str, mut resp: Response) -> NodeError {
    let status = resp.status();
    let mut head = Vec::new();
    while head.len() < EXCERPT_READ {
        match resp.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let mut msg = format!("HTTP {status} from {what}");
    let excerpt = excerpt(&head);
    if !excerpt.is_empty() {
        msg = format!("{msg}: {excerpt}");
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        NodeError::Retryable(msg)
    } else {
        NodeError::Fatal(msg)
    }
}

/// Response headers by lowercase name, repeated ones joined with `", "`, secrets redacted.
pub(super) fn headers(headers: &HeaderMap, redactor: &Redactor) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let text = if redactor.hides_header(name) {
            Redactor::placeholder().to_owned()
        } else {
            let values: Vec<_> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect();
            redactor.text(&values.join(", "))
        };
        out.insert(name.as_str().to_owned(), Value::String(text));
    }
    out
}

/// Reads the body, failing as soon as it is known to exceed `max` bytes, and decodes it by its
/// content type.
pub(super) async fn read_body(mut resp: Response, max: u64, what: &str) -> Result<Body, NodeError> {
    let too_big = || NodeError::Fatal(format!("response body exceeds max_response_bytes ({max})"));
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let decode = decode_of(resp.headers());
    let mut bytes = Vec::new();
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| transport_error(&format!("{what} (reading the body)"), e))?;
        let Some(chunk) = chunk else { break };
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Ok(Body::Json(Value::Null));
    }
    Ok(match decode {
        Decode::Json => Body::Json(serde_json::from_slice(&bytes).map_err(|e| {
            NodeError::Retryable(format!(
                "{what}: the response says it is JSON but does not parse: {e}"
            ))
        })?),
        Decode::Text => Body::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Decode::Sniff => match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        },
        Decode::Binary => Body::Binary(bytes),
    })
}

fn decode_of(headers: &HeaderMap) -> Decode {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Decode::Sniff;
    };
    let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let textual = [
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/x-ndjson",
    ];
    if essence == "application/json" || essence.ends_with("+json") {
        Decode::Json
    } else if essence.starts_with("text/")
        || essence.ends_with("+xml")
        || textual.contains(&essence)
    {
        Decode::Text
    } else {
        Decode::Binary
    }
}

/// The start of a body, on one line, cut to [`EXCERPT_CHARS`] characters.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = line.chars().take(EXCERPT_CHARS).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// An error and its causes, as one line ("error sending request: connection refused").
fn chain(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
        source = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn decode(ct: &str) -> &'static str {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(ct) {
            h.insert(CONTENT_TYPE, v);
        }
        match decode_of(&h) {
            Decode::Json => "json",
            Decode::Text => "text",
            Decode::Sniff => "sniff",
            Decode::Binary => "binary",
        }
    }

    #[test]
    fn content_types_decide_the_decoding() {
        assert_eq!(decode("Application/JSON; charset=utf-8"), "json");
        assert_eq!(decode("application/problem+json"), "json");
        assert_eq!(decode("text/html"), "text");
        assert_eq!(decode("image/svg+xml"), "text");
        assert_eq!(decode("application/octet-stream"), "binary");
        assert_eq!(decode(""), "binary");
        assert!(matches!(decode_of(&HeaderMap::new()), Decode::Sniff));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt(b"  not\n found  "), "not found");
        let long = excerpt("é".repeat(300).as_bytes());
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
