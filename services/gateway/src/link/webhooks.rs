//! `ANY /webhook/{engine_id}/{*path}`: public webhooks (DESIGN §3). An online engine gets the
//! request as it came (it checks the HMAC and answers); for an offline one the gateway looks the
//! path up in its copy of the engine's webhook table: `respond: immediately` is buffered durably
//! (202 `{"delivery_id"}`) and delivered when the engine is back, `last_node` is 503 +
//! Retry-After, an unknown path 404.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowork_kit::Problem;
use flowork_model::{EngineId, Timestamp};
use flowork_storage::{NewWebhookDelivery, StorageError};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::forward::engine_uri;
use super::headers;
use crate::Gateway;
use crate::error::{GatewayError, Result};
use crate::replicas::Hop;

const PREFIX: &str = "/webhook/";

/// One active webhook trigger, as the engine lists it at `GET /api/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WebhookRoute {
    pub(crate) path: String,
    /// `None`: any method.
    #[serde(default)]
    pub(crate) method: Option<String>,
    /// `immediately` or `last_node`.
    pub(crate) respond: String,
    #[serde(default)]
    pub(crate) workflow_id: Option<String>,
}

/// `{"delivery_id"}`: the webhook is buffered and will reach the engine when it reconnects.
#[derive(Serialize, ToSchema)]
pub(crate) struct Buffered {
    delivery_id: String,
}

/// Receive a webhook for an engine (public; the engine checks `x-flowork-signature`).
#[utoipa::path(post, path = "/webhook/{engine_id}/{path}", tag = "webhooks", security(()),
    params(("engine_id" = String, Path, description = "Engine id (eng_...)"),
        ("path" = String, Path, description = "The webhook trigger's path; any method is accepted")),
    responses((status = 200, description = "`respond: last_node`: the workflow's answer"),
        (status = 202, description = "Engine online: `{\"execution_id\"}` from the engine. Engine offline: \
            buffered, `{\"delivery_id\"}`; delivered in order when it reconnects", body = Buffered),
        (status = 404, description = "No such engine or webhook"),
        (status = 413, description = "Body over the buffer limit (engine offline)"),
        (status = 503, description = "Engine offline and the webhook waits for its answer, or the buffer is full; see Retry-After")))]
pub(crate) async fn receive(State(gw): State<Gateway>, req: Request) -> Response {
    receive_inner(gw, req, Hop::Edge).await
}

/// Serves a webhook here, or (from a client) relays it to the replica holding the link, which
/// then decides between forwarding and buffering (its drain state orders the deliveries).
pub(crate) async fn receive_inner(gw: Gateway, req: Request, hop: Hop) -> Response {
    let Some((engine, raw_path)) = split(req.uri().path()) else {
        return Problem::not_found("no such webhook").into_response();
    };
    let online = gw.link.is_online(engine);
    if hop == Hop::Edge
        && !online
        && let Some(holder) = gw.holder_elsewhere(engine).await
    {
        let target = match req.uri().query() {
            Some(q) => format!("/internal/v1/engines/{engine}/webhook/{raw_path}?{q}"),
            None => format!("/internal/v1/engines/{engine}/webhook/{raw_path}"),
        };
        return gw
            .relay(engine, &holder, &target, req, None)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    if online && !gw.link.has_backlog(engine) {
        return gw.forward_webhook(engine, &raw_path, req).await;
    }
    match gw
        .find_route(engine, req.method().as_str(), &raw_path)
        .await
    {
        // Online with older deliveries still queued: an immediate-mode one waits its turn
        // behind them; anything else goes straight through.
        r if online && r.as_ref().is_none_or(|r| r.respond != "immediately") => {
            gw.forward_webhook(engine, &raw_path, req).await
        }
        None => Problem::not_found(format!("no webhook at /{}", decode(&raw_path))).into_response(),
        Some(r) if r.respond == "immediately" => match gw.buffer(engine, raw_path, req).await {
            Ok(id) => (StatusCode::ACCEPTED, Json(Buffered { delivery_id: id })).into_response(),
            Err(e) => e.into_response(),
        },
        Some(_) => gw
            .offline(engine, "its webhook waits for the workflow's answer")
            .into_response(),
    }
}

/// `(engine, path)` from the raw request path (the path still percent-encoded).
fn split(path: &str) -> Option<(EngineId, String)> {
    let (id, rest) = path.strip_prefix(PREFIX)?.split_once('/')?;
    let id = id.parse().ok()?;
    (!rest.is_empty() && !has_dot_segment(rest)).then(|| (id, rest.to_owned()))
}

/// Whether a raw path has a `.` or `..` segment (plain or percent-encoded). The engine's router
/// does not resolve them, but a public path must never be able to climb out of `/webhook/`.
pub(crate) fn has_dot_segment(raw: &str) -> bool {
    raw.split('/')
        .any(|seg| matches!(decode(seg).as_str(), "." | ".."))
}

/// The path as the engine matches it: percent-decoded, without surrounding slashes.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).trim_matches('/').to_owned()
}

/// The trigger for `method` at `raw_path` in `routes` (a method-specific one first).
fn lookup<'a>(
    routes: &'a [WebhookRoute],
    method: &str,
    raw_path: &str,
) -> Option<&'a WebhookRoute> {
    let path = decode(raw_path);
    let at = |r: &&WebhookRoute| r.path.trim_matches('/') == path;
    routes
        .iter()
        .filter(at)
        .find(|r| {
            r.method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(method))
        })
        .or_else(|| routes.iter().filter(at).find(|r| r.method.is_none()))
}

impl Gateway {
    async fn find_route(&self, engine: EngineId, method: &str, raw: &str) -> Option<WebhookRoute> {
        // With replicas, the holder refreshes the stored table; this replica's copy may be old.
        let cached = self
            .replicas
            .is_none()
            .then(|| self.link.cached_routes(engine));
        let routes = match cached.flatten() {
            Some(r) => r,
            None => Arc::new(self.stored_routes(engine).await?),
        };
        lookup(&routes, method, raw).cloned()
    }

    /// The webhook table kept in the store (after a restart, before the engine reconnects).
    async fn stored_routes(&self, engine: EngineId) -> Option<Vec<WebhookRoute>> {
        let text = match self.accounts.webhook_routes(engine).await {
            Ok(t) => t?,
            Err(e) => {
                tracing::warn!(%engine, error = %e, "cannot read the stored webhook table");
                return None;
            }
        };
        let routes: Vec<WebhookRoute> = serde_json::from_str(&text).ok()?;
        self.link.cache_routes(engine, routes.clone());
        Some(routes)
    }

    async fn forward_webhook(&self, engine: EngineId, raw: &str, req: Request) -> Response {
        let (mut parts, body) = req.into_parts();
        let target = match parts.uri.query() {
            Some(q) => format!("/webhook/{raw}?{q}"),
            None => format!("/webhook/{raw}"),
        };
        parts.uri = match engine_uri(&target) {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
        headers::strip(&mut parts.headers);
        match self
            .send_to_engine(engine, Request::from_parts(parts, body))
            .await
        {
            Ok(res) => res,
            Err(e) => e.into_response(),
        }
    }

    /// 503 with Retry-After for an offline engine.
    fn offline(&self, engine: EngineId, why: &'static str) -> GatewayError {
        GatewayError::EngineOffline {
            engine: engine.to_string(),
            why,
            retry_after: self.link.settings.retry_after,
        }
    }

    /// Stores the webhook for later delivery; answers its delivery id.
    async fn buffer(&self, engine: EngineId, raw: String, req: Request) -> Result<String> {
        let settings = &self.link.settings;
        let full = || self.offline(engine, "its webhook buffer is full");
        let backlog = self.accounts.webhook_backlog(engine).await?;
        if backlog.count >= settings.webhook_max_buffered
            || backlog.bytes >= settings.webhook_max_buffered_bytes
        {
            return Err(full());
        }
        let (mut parts, body) = req.into_parts();
        let body = read_limited(body, settings.webhook_max_body, &parts.headers).await?;
        if backlog.bytes + body.len() as u64 > settings.webhook_max_buffered_bytes {
            return Err(full());
        }
        headers::strip(&mut parts.headers);
        parts.headers.remove(header::CONTENT_LENGTH);
        let id = format!("dlv_{}", uuid::Uuid::now_v7().simple());
        let new = NewWebhookDelivery {
            id: id.clone(),
            engine_id: engine,
            method: parts.method.as_str().to_owned(),
            path: raw,
            query: parts.uri.query().map(str::to_owned),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body,
            received_at: Timestamp::now(),
        };
        self.accounts
            .buffer_webhook(new)
            .await
            .map_err(|e| match e {
                // Deleted while we read the body.
                StorageError::NotFound { .. } => GatewayError::not_found("engine", engine),
                e => e.into(),
            })?;
        self.link.mark_backlog(engine);
        metrics::counter!("flowork_gateway_webhooks_buffered_total").increment(1);
        tracing::info!(%engine, delivery = %id, "buffered a webhook for an offline engine");
        if self.link.is_online(engine) {
            tokio::spawn(self.clone().drain(engine));
        } else if let Some(holder) = self.holder_elsewhere(engine).await {
            // The engine linked elsewhere after we looked (stored first, asked second: the
            // holder's first drain runs after its claim, so one of the two sees the other).
            tokio::spawn(self.clone().nudge(engine, holder));
        }
        Ok(id)
    }
}

/// The whole body, or 413 past `limit` (a declared length is refused before reading).
async fn read_limited(
    body: Body,
    limit: usize,
    headers: &axum::http::HeaderMap,
) -> Result<Vec<u8>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::TooLarge(limit));
    }
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| GatewayError::invalid("body", e.to_string()))?;
        if out.len() + chunk.len() > limit {
            return Err(GatewayError::TooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, method: Option<&str>, respond: &str) -> WebhookRoute {
        WebhookRoute {
            path: path.into(),
            method: method.map(str::to_owned),
            respond: respond.into(),
            workflow_id: None,
        }
    }

    #[test]
    fn lookup_prefers_the_method_then_any() {
        let routes = [
            route("orders/new", None, "last_node"),
            route("/orders/new/", Some("POST"), "immediately"),
        ];
        assert_eq!(
            lookup(&routes, "post", "orders/new")
                .expect("found")
                .respond,
            "immediately"
        );
        assert_eq!(
            lookup(&routes, "GET", "orders/new/")
                .expect("found")
                .respond,
            "last_node"
        );
        assert_eq!(
            lookup(&routes, "GET", "orders%2Fnew")
                .expect("found")
                .respond,
            "last_node"
        );
        assert!(lookup(&routes, "GET", "orders").is_none());
    }

    #[test]
    fn split_needs_an_engine_and_a_path() {
        let id = EngineId::new();
        assert_eq!(
            split(&format!("/webhook/{id}/a/b")),
            Some((id, "a/b".into()))
        );
        assert_eq!(split(&format!("/webhook/{id}/")), None);
        assert_eq!(split(&format!("/webhook/{id}/../api/v1/workflows")), None);
        assert_eq!(split(&format!("/webhook/{id}/a/%2E%2e/b")), None);
        assert_eq!(split("/webhook/nope/a"), None);
    }
}
