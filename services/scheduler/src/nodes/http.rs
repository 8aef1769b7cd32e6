//! `core.http`: calls an HTTP API and outputs `{status, headers, body}`.
//!
//! **Request.** `method`; `url` (a template that must render to an `http`/`https` URL, else the
//! node fails naming `params.url`); `headers` and `query` (template maps, non-string values sent
//! as compact JSON); `body` (a jq program whose output is sent as JSON, `content-type:
//! application/json` unless a header says otherwise).
//!
//! **Credentials.** `credential` names a vault entry, revealed for this run only. Its secret
//! decides how it is attached:
//! - `{"type": "bearer", "token": ..}` → `Authorization: Bearer <token>`
//! - `{"type": "basic", "username": .., "password": ..}` → HTTP basic auth
//! - `{"type": "header", "name": .., "value": ..}` → that request header
//! - `{"type": "query", "name": .., "value": ..}` → that query parameter
//!
//! The secret never reaches the node's input (the engine records `cx.input`, built before the
//! secret is revealed), its output, its error or the logs: injected headers are marked
//! sensitive, `authorization`, `proxy-authorization` and the credential's own header are
//! redacted from the response headers, and every string the node returns is scrubbed of the
//! secret's values in case the server echoes them. reqwest drops `Authorization` on a redirect to
//! another host but not custom headers, so requests with a `header` credential use a second
//! client that refuses cross-origin redirects.
//!
//! **Response.** `status`; `headers` (lowercase names, repeated headers joined with `", "`);
//! `body`: parsed JSON for a JSON content type (`application/json`, `*+json`), text (lossy
//! UTF-8) for `text/*`, XML, JavaScript, form data, or no content type when the bytes are UTF-8;
//! anything else is binary: `body` is `null` and `body_base64` holds the bytes. An empty body is
//! `null`. The body is streamed and the node fails, rather than truncating, as soon as it
//! exceeds `max_response_bytes` (or when `Content-Length` already says it will).
//!
//! **Failures** (as n8n by default; non-2xx is never an output): network errors, 5xx and 429
//! are retryable, so the node's retry policy applies; other 4xx, bad parameters, credentials,
//! too many redirects and oversized bodies are fatal. A JSON body that does not parse is
//! retryable (a proxy error page, a truncated reply). 3xx that are not followed are outputs.
//! The per-node `timeout_ms` is the engine's; the client adds only a 10 s connect timeout.

mod credential;
mod request;
mod response;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flowork_model::workflow::CompiledNode;
use reqwest::redirect::{Attempt, Policy};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;

use self::credential::{Credential, Redactor};
use super::{NodeContext, NodeError, NodeHandler, NodeOutput, Registry};

/// Redirects followed before the request fails.
const MAX_REDIRECTS: usize = 10;
/// Time to establish a connection (TCP and TLS); the whole call is bounded by `timeout_ms`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn register(r: &mut Registry) {
    r.register("core.http", Arc::new(Http::new()));
}

/// The long-lived clients, so connections are pooled across runs.
struct Clients {
    /// Follows up to [`MAX_REDIRECTS`] redirects anywhere.
    any_origin: Client,
    /// Follows redirects within the request's origin only (for custom credential headers).
    same_origin: Client,
}

/// The `core.http` handler. A client that cannot be built fails each run rather than startup,
/// so the other nodes keep working.
struct Http {
    clients: Result<Clients, String>,
}

impl Http {
    fn new() -> Self {
        let clients = build(Policy::limited(MAX_REDIRECTS))
            .and_then(|any_origin| {
                let same_origin = build(Policy::custom(same_origin_only))?;
                Ok(Clients {
                    any_origin,
                    same_origin,
                })
            })
            .map_err(|e| format!("core.http: cannot build the HTTP client: {e}"));
        Self { clients }
    }

    async fn call(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let clients = self
            .clients
            .as_ref()
            .map_err(|e| NodeError::Fatal(e.clone()))?;
        let req = request::Prepared::from_params(node, &cx.scope)?;
        let credential = match req.credential.as_deref() {
            Some(name) => Some(Credential::reveal(name, cx.vault.as_deref()).await?),
            None => None,
        };
        let redactor = Redactor::new(credential.as_ref());
        let client = match &credential {
            Some(c) if c.is_custom_header() => &clients.same_origin,
            _ => &clients.any_origin,
        };
        let shown = req.shown_url();
        let mut url = req.url.clone();
        if let Some(c) = &credential {
            c.apply_to_url(&mut url);
        }
        let mut builder = req.builder(client, url);
        if let Some(c) = &credential {
            builder = c.apply(builder)?;
        }
        drop(credential);
        let out = send(builder, &req, &shown, &redactor).await;
        out.map_err(|e| redactor.error(e))
    }
}

#[async_trait]
impl NodeHandler for Http {
    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        tokio::select! {
            () = cx.cancel.cancelled() => Err(NodeError::Fatal("request cancelled".into())),
            out = self.call(node, cx) => out,
        }
    }
}

async fn send(
    builder: RequestBuilder,
    req: &request::Prepared,
    shown: &str,
    redactor: &Redactor,
) -> Result<NodeOutput, NodeError> {
    let what = format!("{} {shown}", req.method);
    let resp = builder
        .send()
        .await
        .map_err(|e| response::transport_error(&what, e))?;
    let status = resp.status();
    tracing::debug!(request = %what, status = status.as_u16(), "core.http response");
    if !(status.is_success() || status.is_redirection()) {
        return Err(response::status_error(&what, resp).await);
    }
    let headers = response::headers(resp.headers(), redactor);
    let body = response::read_body(resp, req.max_bytes, &what).await?;
    let mut out = serde_json::Map::new();
    out.insert("status".into(), Value::from(status.as_u16()));
    out.insert("headers".into(), Value::Object(headers));
    for (key, value) in body.into_fields() {
        out.insert(key.into(), redactor.value(value));
    }
    Ok(NodeOutput::main(Value::Object(out)))
}

fn build(redirects: Policy) -> reqwest::Result<Client> {
    Client::builder()
        .user_agent(concat!("flowork/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(redirects)
        .build()
}

fn same_origin_only(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.follow();
    };
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    if attempt.url().origin() != first.origin() {
        let msg = format!(
            "redirect to another origin ({}) not followed: it would carry the credential header",
            attempt.url().origin().ascii_serialization()
        );
        return attempt.error(msg);
    }
    attempt.follow()
}
