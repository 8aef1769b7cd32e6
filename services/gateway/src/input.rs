//! Reading JSON bodies, with problems that name the field at fault (never a 500 for bad input).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::{GatewayError, Result};

/// The largest body the gateway's own JSON endpoints take.
pub const MAX_BODY: usize = 1 << 20;
/// Longest name of an API key or engine.
const MAX_NAME: usize = 100;

/// A JSON object body (an empty body reads as `{}`).
pub(crate) struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = GatewayError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                GatewayError::TooLarge(MAX_BODY)
            } else {
                GatewayError::invalid("body", e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(GatewayError::invalid("body", "expected a JSON object")),
            Err(e) => Err(GatewayError::invalid("body", format!("invalid JSON: {e}"))),
        }
    }
}

impl JsonObject {
    /// A required string field.
    pub(crate) fn string(&self, field: &str) -> Result<String> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => {
                Err(GatewayError::invalid(field, format!("{field} is required")))
            }
            Some(_) => Err(GatewayError::invalid(
                field,
                format!("{field} must be a string"),
            )),
        }
    }

    /// An optional string field.
    pub(crate) fn opt_string(&self, field: &str) -> Result<Option<String>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.string(field).map(Some),
        }
    }

    /// A display name: trimmed, 1 to 100 characters, no control characters.
    pub(crate) fn name(&self, field: &str) -> Result<String> {
        let raw = self.string(field)?;
        let name = raw.trim();
        if name.is_empty() {
            return Err(GatewayError::invalid(
                field,
                format!("{field} must not be empty"),
            ));
        }
        if name.chars().count() > MAX_NAME {
            return Err(GatewayError::invalid(
                field,
                format!("{field} is longer than {MAX_NAME} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(GatewayError::invalid(
                field,
                format!("{field} has control characters"),
            ));
        }
        Ok(name.to_owned())
    }
}

/// Parses a typed id from a path segment (400 naming the parameter).
pub(crate) fn id<T: std::str::FromStr>(raw: &str, field: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| GatewayError::invalid(field, e.to_string()))
}
