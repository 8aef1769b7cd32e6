//! The gateway's half of EngineLink (DESIGN §3): the [`Hub`] engines dial into (served on the
//! gateway's own port), and what the gateway builds on it: forwarding the engine API
//! (`forward`), public webhooks with a durable buffer for offline engines (`webhooks`,
//! `delivery`), live execution events as SSE (`events`), and presence (`watch`).

pub(crate) mod delivery;
pub(crate) mod events;
pub(crate) mod forward;
pub(crate) mod headers;
pub(crate) mod watch;
pub(crate) mod webhooks;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use flowork_link::{EngineAuth, EngineIdentity, Hub, HubConfig, LinkError};
use flowork_model::EngineId;
use flowork_storage::AccountStore;
use tonic::server::NamedService;
use tower::ServiceExt as _;

use crate::engines::verify_engine_token;
use crate::error::GatewayError;

use self::webhooks::WebhookRoute;

/// How the gateway treats linked engines. Defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The hub's own settings (pings, per-engine concurrency, auth brakes).
    pub hub: HubConfig,
    /// Longest a forwarded request (API call or webhook) may wait for the engine's answer
    /// before the caller gets 504.
    pub forward_timeout: Duration,
    /// Largest webhook body buffered for an offline engine (413 above it).
    pub webhook_max_body: usize,
    /// Most webhooks buffered per engine; further ones get 503 until it drains.
    pub webhook_max_buffered: u64,
    /// Most body bytes buffered per engine (a public endpoint must not fill the disk).
    pub webhook_max_buffered_bytes: u64,
    /// How long a buffered webhook waits for its engine before it is dropped.
    pub webhook_retention: Duration,
    /// How often `last_seen` of connected engines is refreshed.
    pub touch_interval: Duration,
    /// How soon a buffered delivery the engine could not take (5xx, link error) is retried.
    pub retry_interval: Duration,
    /// What `Retry-After` says to a waiting-mode webhook of an offline engine.
    pub retry_after: Duration,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            hub: HubConfig::default(),
            forward_timeout: Duration::from_secs(300),
            webhook_max_body: 16 * 1024 * 1024,
            webhook_max_buffered: 10_000,
            webhook_max_buffered_bytes: 256 * 1024 * 1024,
            webhook_retention: Duration::from_secs(7 * 86_400),
            touch_interval: Duration::from_secs(60),
            retry_interval: Duration::from_secs(10),
            retry_after: Duration::from_secs(30),
        }
    }
}

/// The hub and the gateway's state about linked engines. Shared by every handler.
pub(crate) struct Link {
    pub(crate) hub: Hub,
    pub(crate) settings: LinkSettings,
    /// Each engine's webhook table, as last fetched (the store keeps a copy for restarts).
    routes: Mutex<HashMap<EngineId, Arc<Vec<WebhookRoute>>>>,
    /// Engines whose buffer may hold deliveries: new immediate-mode webhooks for them are
    /// buffered too (even when online), so they cannot overtake older ones.
    backlog: Mutex<HashSet<EngineId>>,
    /// One drain at a time per engine (a second one would deliver the same rows twice).
    draining: Mutex<HashMap<EngineId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Link {
    pub(crate) fn new(settings: LinkSettings, accounts: Arc<dyn AccountStore>) -> Self {
        Self {
            hub: Hub::new(settings.hub.clone(), StoreAuth(accounts)),
            settings,
            routes: Mutex::default(),
            backlog: Mutex::default(),
            draining: Mutex::default(),
        }
    }

    pub(crate) fn is_online(&self, engine: EngineId) -> bool {
        self.hub.is_online(&link_id(engine))
    }

    pub(crate) fn cached_routes(&self, engine: EngineId) -> Option<Arc<Vec<WebhookRoute>>> {
        lock(&self.routes).get(&engine).cloned()
    }

    pub(crate) fn cache_routes(&self, engine: EngineId, routes: Vec<WebhookRoute>) {
        lock(&self.routes).insert(engine, Arc::new(routes));
    }

    pub(crate) fn has_backlog(&self, engine: EngineId) -> bool {
        lock(&self.backlog).contains(&engine)
    }

    pub(crate) fn mark_backlog(&self, engine: EngineId) {
        lock(&self.backlog).insert(engine);
    }

    pub(crate) fn clear_backlog(&self, engine: EngineId) {
        lock(&self.backlog).remove(&engine);
    }

    pub(crate) fn backlogged(&self) -> Vec<EngineId> {
        lock(&self.backlog).iter().copied().collect()
    }

    pub(crate) fn drain_lock(&self, engine: EngineId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.draining).entry(engine).or_default().clone()
    }

    /// The EngineLink gRPC route, to merge into the gateway's router (one port for both).
    pub(crate) fn grpc_routes(&self) -> Router {
        let svc = self.hub.service();
        let path = format!("/{}/{{*rest}}", svc_name(&svc));
        let svc =
            svc.map_request(|req: http::Request<axum::body::Body>| req.map(tonic::body::Body::new));
        Router::new().route_service(&path, svc)
    }
}

fn svc_name<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The link's (string) form of an engine id.
pub(crate) fn link_id(engine: EngineId) -> flowork_link::EngineId {
    flowork_link::EngineId::new(engine.to_string())
}

/// Engines authenticate with the token `POST /api/v1/engines` gave them (checked against the
/// account store, like [`crate::Gateway::verify_engine`]).
struct StoreAuth(Arc<dyn AccountStore>);

#[async_trait]
impl EngineAuth for StoreAuth {
    async fn verify(
        &self,
        engine: &flowork_link::EngineId,
        token: &str,
    ) -> Result<EngineIdentity, LinkError> {
        let id: EngineId = engine
            .as_str()
            .parse()
            .map_err(|_| LinkError::Unauthenticated)?;
        match verify_engine_token(self.0.as_ref(), id, token).await {
            Ok(e) => Ok(EngineIdentity {
                engine: engine.clone(),
                owner: Some(e.owner_id.to_string()),
            }),
            Err(GatewayError::Unauthenticated(_)) => Err(LinkError::Unauthenticated),
            // The store is down: "cannot tell now" (the hub answers Unavailable, not a refusal).
            Err(e) => Err(LinkError::Engine(e.to_string())),
        }
    }
}
