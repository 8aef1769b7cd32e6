//! Turning `core.http` parameters into a request; every failure names the parameter at fault.

use flowork_expr::Context;
use flowork_model::workflow::{CompiledNode, Param};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, Url};
use serde_json::Value;

use crate::nodes::{NodeError, eval};

/// Longest parameter value quoted in an error message, in characters.
const QUOTE_MAX: usize = 200;

/// A request ready to send, minus its credential.
pub(super) struct Prepared {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Value>,
    /// The vault name of the credential to attach.
    pub credential: Option<String>,
    pub max_bytes: u64,
}

impl Prepared {
    /// Evaluates the node's parameters against its scope.
    pub fn from_params(node: &CompiledNode, scope: &Context) -> Result<Self, NodeError> {
        let value = |name: &str| -> Result<Option<Value>, NodeError> {
            node.params.get(name).map(|p| eval(p, scope)).transpose()
        };
        let method = match value("method")? {
            Some(Value::String(m)) => Method::from_bytes(m.as_bytes())
                .map_err(|_| fatal("method", format!("{} is not an HTTP method", quote(&m))))?,
            Some(other) => return Err(fatal("method", format!("{other} is not a string"))),
            None => Method::GET,
        };
        let mut url = parse_url(value("url")?)?;
        if let Some(query) = value("query")? {
            let pairs = strings("query", query)?;
            if !pairs.is_empty() {
                let mut q = url.query_pairs_mut();
                for (k, v) in &pairs {
                    q.append_pair(k, v);
                }
            }
        }
        let headers = match value("headers")? {
            Some(h) => header_map(strings("headers", h)?)?,
            None => HeaderMap::new(),
        };
        let body = match node.params.get("body") {
            Some(p @ Param::Expr(_)) => Some(eval(p, scope)?),
            _ => None,
        };
        let credential = match value("credential")? {
            Some(Value::String(name)) if !name.is_empty() => Some(name),
            None | Some(Value::Null) => None,
            Some(_) => return Err(fatal("credential", "must be a credential name".into())),
        };
        let max_bytes = match value("max_response_bytes")? {
            Some(v) => v
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| fatal("max_response_bytes", format!("{v} is not a size")))?,
            None => 10 * 1024 * 1024,
        };
        Ok(Self {
            method,
            url,
            headers,
            body,
            credential,
            max_bytes,
        })
    }

    /// The URL as errors and logs show it: no user info, query or fragment, which may hold
    /// secrets.
    pub fn shown_url(&self) -> String {
        let mut shown = self.url.clone();
        shown.set_query(None);
        shown.set_fragment(None);
        // Only fails for URLs that cannot have credentials, which then have none to hide.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.to_string()
    }

    /// The request on `client`, to `url` (this request's URL, perhaps with a credential added).
    pub fn builder(&self, client: &Client, url: Url) -> RequestBuilder {
        let mut b = client
            .request(self.method.clone(), url)
            .headers(self.headers.clone());
        if let Some(body) = &self.body {
            b = b.json(body);
        }
        b
    }
}

fn parse_url(value: Option<Value>) -> Result<Url, NodeError> {
    let Some(Value::String(text)) = value else {
        let shown = value.map_or_else(|| "nothing".into(), |v| quote(&v.to_string()));
        return Err(fatal(
            "url",
            format!("rendered to {shown}, not a URL string"),
        ));
    };
    let url = Url::parse(text.trim())
        .map_err(|e| fatal("url", format!("{} is not a valid URL ({e})", quote(&text))))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(fatal(
            "url",
            format!("{} is not an http or https URL", quote(&text)),
        ));
    }
    Ok(url)
}

/// A rendered template map as `(name, text)` pairs: strings as is, anything else as JSON.
fn strings(param: &str, value: Value) -> Result<Vec<(String, String)>, NodeError> {
    let Value::Object(map) = value else {
        return Err(fatal(param, "must be an object".into()));
    };
    let text = |v: Value| match v {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Ok(map.into_iter().map(|(k, v)| (k, text(v))).collect())
}

fn header_map(pairs: Vec<(String, String)>) -> Result<HeaderMap, NodeError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let field = format!("headers.{name}");
        let key = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| fatal(&field, "is not a valid header name".into()))?;
        // The value is not quoted: it may come from a secret the user templated in.
        let value = HeaderValue::from_str(&value).map_err(|_| {
            fatal(
                &field,
                "is not a valid header value (control characters?)".into(),
            )
        })?;
        headers.append(key, value);
    }
    Ok(headers)
}

fn fatal(param: &str, message: String) -> NodeError {
    NodeError::Fatal(format!("params.{param}: {message}"))
}

/// `s` in quotes, cut to [`QUOTE_MAX`] characters.
fn quote(s: &str) -> String {
    let cut: String = s.chars().take(QUOTE_MAX).collect();
    let more = if cut.len() < s.len() { "…" } else { "" };
    format!("{cut:?}{more}")
}
