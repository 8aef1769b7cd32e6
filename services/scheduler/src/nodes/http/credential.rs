//! Credentials for `core.http`: revealed per run, attached by shape, scrubbed from what the node
//! returns. Errors name the credential and the field at fault, never a value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowork_vault::{Secret, Vault, VaultError};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Url};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::nodes::NodeError;

/// Secrets shorter than this are not scrubbed from outputs: replacing every occurrence of a
/// two-letter string would mangle unrelated text without protecting anything.
const MIN_SCRUB_LEN: usize = 4;
/// What scrubbed secrets and redacted headers are replaced with.
const REDACTED: &str = "[redacted]";

/// How a credential attaches to a request (the secret's `type`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Bearer,
    Basic,
    Header,
    Query,
}

impl Shape {
    /// The secret's string fields this shape needs.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Bearer => &["token"],
            Self::Basic => &["username", "password"],
            Self::Header | Self::Query => &["name", "value"],
        }
    }
}

/// A revealed credential whose secret has the fields its shape needs.
pub(super) struct Credential {
    name: String,
    shape: Shape,
    secret: Secret,
}

impl Credential {
    /// Reveals `name` from the vault and checks its shape.
    pub async fn reveal(name: &str, vault: Option<&Vault>) -> Result<Self, NodeError> {
        let fatal = |msg: &str| NodeError::Fatal(format!("credential {name}: {msg}"));
        let vault =
            vault.ok_or_else(|| fatal("this engine has no vault (set FLOWORK_MASTER_KEY)"))?;
        let secret = vault.reveal(name).await.map_err(|e| match e {
            VaultError::NotFound { .. } => fatal("not found in the vault"),
            VaultError::Storage(e) => NodeError::Retryable(format!("credential {name}: {e}")),
            other => fatal(&other.to_string()),
        })?;
        let shape = match secret.expose().get("type").and_then(Value::as_str) {
            Some("bearer") => Shape::Bearer,
            Some("basic") => Shape::Basic,
            Some("header") => Shape::Header,
            Some("query") => Shape::Query,
            _ => {
                return Err(fatal(
                    "unknown shape: core.http needs a \"type\" of bearer, basic, header or query",
                ));
            }
        };
        for field in shape.fields() {
            if secret
                .expose()
                .get(*field)
                .and_then(Value::as_str)
                .is_none()
            {
                return Err(fatal(&format!("field {field} is missing or not a string")));
            }
        }
        let name = name.to_owned();
        Ok(Self {
            name,
            shape,
            secret,
        })
    }

    /// Whether it is a custom header, which reqwest would forward on a cross-origin redirect.
    pub fn is_custom_header(&self) -> bool {
        self.shape == Shape::Header
    }

    /// Adds a `query` credential to the URL; other shapes leave it alone.
    pub fn apply_to_url(&self, url: &mut Url) {
        if self.shape == Shape::Query {
            url.query_pairs_mut()
                .append_pair(self.field("name"), self.field("value"));
        }
    }

    /// Sets the credential's header, replacing any header of that name the params set.
    pub fn apply(&self, builder: RequestBuilder) -> Result<RequestBuilder, NodeError> {
        let invalid = |what: &str| {
            NodeError::Fatal(format!(
                "credential {}: {what} is not valid in a header",
                self.name
            ))
        };
        let (name, value) = match self.shape {
            Shape::Query => return Ok(builder),
            Shape::Bearer => (
                AUTHORIZATION,
                Zeroizing::new(format!("Bearer {}", self.field("token"))),
            ),
            Shape::Basic => (
                AUTHORIZATION,
                basic(self.field("username"), self.field("password")),
            ),
            Shape::Header => (
                HeaderName::from_bytes(self.field("name").as_bytes())
                    .map_err(|_| invalid("the name"))?,
                Zeroizing::new(self.field("value").to_owned()),
            ),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| invalid("the value"))?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(name, value);
        Ok(builder.headers(headers))
    }

    fn field(&self, key: &str) -> &str {
        self.secret
            .expose()
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn basic(user: &str, password: &str) -> Zeroizing<String> {
    let pair = Zeroizing::new(format!("{user}:{password}"));
    Zeroizing::new(format!("Basic {}", STANDARD.encode(pair.as_bytes())))
}

/// Removes a credential's secret values from what the node returns.
pub(super) struct Redactor {
    needles: Vec<Zeroizing<String>>,
    /// The credential's own header, redacted from response headers like `authorization`.
    header: Option<HeaderName>,
}

impl Redactor {
    pub fn new(credential: Option<&Credential>) -> Self {
        let mut needles = Vec::new();
        let mut header = None;
        if let Some(c) = credential {
            let mut add = |s: String| needles.push(Zeroizing::new(s));
            match c.shape {
                Shape::Bearer => add(c.field("token").to_owned()),
                Shape::Basic => {
                    add(c.field("password").to_owned());
                    let encoded = basic(c.field("username"), c.field("password"));
                    add(encoded.trim_start_matches("Basic ").to_owned());
                }
                Shape::Header | Shape::Query => {
                    let value = c.field("value");
                    add(value.to_owned());
                    add(url_encoded(value));
                }
            }
            if c.shape == Shape::Header {
                header = HeaderName::from_bytes(c.field("name").as_bytes()).ok();
            }
        }
        needles.retain(|n| n.len() >= MIN_SCRUB_LEN);
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self { needles, header }
    }

    /// Whether a response header's value must not be shown at all.
    pub fn hides_header(&self, name: &HeaderName) -> bool {
        name == AUTHORIZATION
            || name == reqwest::header::PROXY_AUTHORIZATION
            || self.header.as_ref() == Some(name)
    }

    /// `text` with every secret value replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }

    /// `value` with every string (and object key) scrubbed.
    pub fn value(&self, value: Value) -> Value {
        if self.needles.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.value(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The error with its message scrubbed.
    pub fn error(&self, e: NodeError) -> NodeError {
        match e {
            NodeError::Retryable(m) => NodeError::Retryable(self.text(&m)),
            NodeError::Fatal(m) => NodeError::Fatal(self.text(&m)),
        }
    }

    /// What redacted header values read as.
    pub fn placeholder() -> &'static str {
        REDACTED
    }
}

/// `value` as `application/x-www-form-urlencoded`, the way it travels in a query string.
fn url_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn credential(secret: Value, shape: Shape) -> Credential {
        let secret = Secret::new(secret);
        let name = "c".into();
        Credential {
            name,
            shape,
            secret,
        }
    }

    #[test]
    fn scrubs_every_form_of_the_secret_and_skips_tiny_ones() {
        let c = credential(
            json!({"type": "query", "name": "k", "value": "a b/c"}),
            Shape::Query,
        );
        let r = Redactor::new(Some(&c));
        let v = r.value(json!({"u": "?k=a+b%2Fc", "a b/c": ["x a b/c y"]}));
        assert_eq!(
            v,
            json!({"u": "?k=[redacted]", "[redacted]": ["x [redacted] y"]})
        );
        let c = credential(json!({"type": "bearer", "token": "abc"}), Shape::Bearer);
        assert_eq!(Redactor::new(Some(&c)).text("abcabc"), "abcabc");
    }

    #[test]
    fn hides_auth_headers_and_the_credentials_own() {
        let c = credential(
            json!({"type": "header", "name": "X-Key", "value": "v"}),
            Shape::Header,
        );
        let r = Redactor::new(Some(&c));
        assert!(r.hides_header(&HeaderName::from_static("x-key")));
        assert!(r.hides_header(&AUTHORIZATION));
        assert!(!Redactor::new(None).hides_header(&HeaderName::from_static("x-key")));
    }
}
