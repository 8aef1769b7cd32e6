//! The gateway's end: the `EngineLink` service, the registry of connected engines, and
//! [`Hub::forward`] to tunnel a request to one of them.

mod auth;
mod connect;
mod forward;
mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowork_kit::CancellationToken;
use flowork_proto::v1::ExecutionEvent;
use flowork_proto::v1::engine_link_server::EngineLinkServer;
use tokio::sync::broadcast;

use auth::FailureLimiter;
pub use auth::{EngineAuth, EngineIdentity};
use session::Session;

use crate::EngineId;

/// Presence and event notices kept for slow subscribers before they lag.
const BROADCAST_CAPACITY: usize = 1024;

/// How the hub treats engines.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Names this gateway in `Welcome` (several replicas tell themselves apart by it).
    pub gateway_id: String,
    /// How often both sides ping; a side silent for three intervals is dropped.
    pub ping_interval: Duration,
    /// Most requests in flight per engine, whatever the engine offers in `Hello`.
    pub max_concurrency: u32,
    /// How long a new connection may take to send `Hello`.
    pub hello_timeout: Duration,
    /// Refused connects per minute allowed per (peer address, engine) before connects from there
    /// are refused unchecked (`ResourceExhausted`); a peer address gets four times as many.
    pub auth_failures_per_minute: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            gateway_id: "gateway".to_owned(),
            ping_interval: Duration::from_secs(15),
            max_concurrency: 256,
            hello_timeout: Duration::from_secs(10),
            auth_failures_per_minute: 5,
        }
    }
}

/// An engine came or went; the gateway records `last_seen` from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The engine authenticated and said Hello (also sent when a new link replaces an old one).
    Connected(EngineId),
    /// The engine's last link closed.
    Disconnected(EngineId),
}

/// An execution event, and the engine it came from.
#[derive(Debug, Clone)]
pub struct EngineEvent {
    /// The engine that sent it.
    pub engine: EngineId,
    /// The event as the engine sent it.
    pub event: ExecutionEvent,
}

/// The gateway's end of every engine's link. Cloning shares it.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: HubConfig,
    auth: Arc<dyn EngineAuth>,
    limiter: FailureLimiter,
    sessions: Mutex<HashMap<EngineId, Arc<Session>>>,
    presence: broadcast::Sender<Presence>,
    events: broadcast::Sender<EngineEvent>,
    serial: AtomicU64,
    closed: CancellationToken,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("gateway_id", &self.inner.config.gateway_id)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub checking engines with `auth`.
    pub fn new(config: HubConfig, auth: impl EngineAuth) -> Self {
        let limiter = FailureLimiter::new(config.auth_failures_per_minute);
        Self {
            inner: Arc::new(Inner {
                config,
                auth: Arc::new(auth),
                limiter,
                sessions: Mutex::new(HashMap::new()),
                presence: broadcast::channel(BROADCAST_CAPACITY).0,
                events: broadcast::channel(BROADCAST_CAPACITY).0,
                serial: AtomicU64::new(1),
                closed: CancellationToken::new(),
            }),
        }
    }

    /// The tonic service to add to the gateway's gRPC routes.
    pub fn service(&self) -> EngineLinkServer<Hub> {
        EngineLinkServer::new(self.clone())
    }

    /// Whether `engine` has a live link to this gateway.
    pub fn is_online(&self, engine: &EngineId) -> bool {
        self.inner.session(engine).is_some()
    }

    /// Every engine with a live link.
    pub fn online(&self) -> Vec<EngineId> {
        let sessions = self.inner.sessions();
        let live = sessions.values().filter(|s| !s.closed.is_cancelled());
        live.map(|s| s.engine.clone()).collect()
    }

    /// Connects and disconnects from now on.
    pub fn presence(&self) -> broadcast::Receiver<Presence> {
        self.inner.presence.subscribe()
    }

    /// Every engine's execution events from now on.
    pub fn subscribe_all(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    /// `engine`'s execution events from now on (across reconnects).
    pub fn events(&self, engine: &EngineId) -> EngineEvents {
        EngineEvents {
            engine: engine.clone(),
            rx: self.inner.events.subscribe(),
        }
    }

    /// Ends `engine`'s link, if it has one (its token was rotated or its registration deleted:
    /// the engine must prove itself again). Answers whether there was one.
    pub fn disconnect(&self, engine: &EngineId) -> bool {
        match self.inner.session(engine) {
            Some(session) => {
                session.closed.cancel();
                true
            }
            None => false,
        }
    }

    /// Ends every link and refuses new ones (gateway shutdown; engines will redial elsewhere).
    pub fn close(&self) {
        self.inner.closed.cancel();
        for session in self.inner.sessions().values() {
            session.closed.cancel();
        }
    }
}

impl Inner {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<EngineId, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn session(&self, engine: &EngineId) -> Option<Arc<Session>> {
        self.sessions()
            .get(engine)
            .filter(|s| !s.closed.is_cancelled())
            .cloned()
    }

    fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `session` the engine's link, closing the one it replaces.
    fn register(&self, session: Arc<Session>) {
        if self.closed.is_cancelled() {
            // `close` ran while this engine was saying Hello.
            session.closed.cancel();
        }
        let old = self
            .sessions()
            .insert(session.engine.clone(), session.clone());
        if let Some(old) = old {
            tracing::info!(engine = %session.engine, "a new link replaces the engine's old one");
            old.closed.cancel();
        }
        let _ = self
            .presence
            .send(Presence::Connected(session.engine.clone()));
    }

    /// Removes `session` unless a newer link already replaced it.
    fn unregister(&self, session: &Session) {
        let mut sessions = self.sessions();
        if sessions
            .get(&session.engine)
            .is_some_and(|s| s.serial == session.serial)
        {
            sessions.remove(&session.engine);
            drop(sessions);
            let _ = self
                .presence
                .send(Presence::Disconnected(session.engine.clone()));
        }
    }
}

/// One engine's execution events, filtered from the hub-wide feed.
pub struct EngineEvents {
    engine: EngineId,
    rx: broadcast::Receiver<EngineEvent>,
}

impl EngineEvents {
    /// The next event; `None` once the hub is gone. A subscriber too slow to keep up skips the
    /// events it missed (live views only need the latest state).
    pub async fn recv(&mut self) -> Option<ExecutionEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) if e.engine == self.engine => return Some(e.event),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(engine = %self.engine, skipped = n, "event subscriber lagged");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
