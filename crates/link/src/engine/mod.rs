//! The engine's end: dial the gateway, serve tunneled requests with the engine's Router, redial
//! forever. It opens no listening socket.

mod serve;
mod session;

use std::time::Duration;

use axum::Router;
use flowork_kit::CancellationToken;
use flowork_proto::v1::ExecutionEvent;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::{EngineId, LinkError};

/// Events held while the link is down or busy; beyond this, new ones are dropped (live views
/// only, the execution record itself is in the store).
const EVENT_QUEUE: usize = 1024;

/// Where and how the engine links to its gateway.
#[derive(Clone)]
pub struct LinkClientConfig {
    /// The gateway's gRPC address, e.g. `https://gw.example.com` or `http://127.0.0.1:8000`.
    pub gateway_url: String,
    /// This engine's id at the gateway.
    pub engine_id: EngineId,
    /// This engine's secret token (never logged).
    pub token: String,
    /// Reported in `Hello`.
    pub engine_version: String,
    /// Requests served at once; the gateway sends no more than this.
    pub max_concurrency: u32,
    /// First redial delay; it doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest redial delay.
    pub backoff_max: Duration,
    /// Least delay after the gateway refused our credentials (retrying fast cannot help).
    pub refused_backoff: Duration,
    /// A link that stayed up this long resets the backoff.
    pub healthy_after: Duration,
    /// How long dialing, and waiting for `Welcome`, may take.
    pub connect_timeout: Duration,
}

impl LinkClientConfig {
    /// Defaults for everything but where to go and who we are.
    pub fn new(
        gateway_url: impl Into<String>,
        engine_id: impl Into<EngineId>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            engine_id: engine_id.into(),
            token: token.into(),
            engine_version: flowork_kit::VERSION.to_owned(),
            max_concurrency: 64,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            refused_backoff: Duration::from_secs(30),
            healthy_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for LinkClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkClientConfig")
            .field("gateway_url", &self.gateway_url)
            .field("engine_id", &self.engine_id)
            .field("token", &"<redacted>")
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// The link as the engine's health check reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not linked; dialing or waiting to redial.
    Disconnected,
    /// Linked and welcomed by the gateway.
    Connected,
    /// The gateway refused our credentials on the last attempt (still retrying, slowly).
    Refused,
    /// `run` returned: shutdown.
    Stopped,
}

/// Sends execution events up the link. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: mpsc::Sender<ExecutionEvent>,
}

impl EventSender {
    /// Queues `event` for the gateway; false if it was dropped (queue full or client gone).
    pub fn send(&self, event: ExecutionEvent) -> bool {
        self.tx.try_send(event).is_ok()
    }
}

/// The engine's end of the link.
pub struct LinkClient {
    config: LinkClientConfig,
    router: Router,
    state: watch::Sender<LinkState>,
    events_tx: mpsc::Sender<ExecutionEvent>,
    events_rx: mpsc::Receiver<ExecutionEvent>,
}

impl LinkClient {
    /// A client serving tunneled requests with `router`.
    pub fn new(config: LinkClientConfig, router: Router) -> Self {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        Self {
            config,
            router,
            state: watch::channel(LinkState::Disconnected).0,
            events_tx,
            events_rx,
        }
    }

    /// A sender for execution events.
    pub fn events(&self) -> EventSender {
        EventSender {
            tx: self.events_tx.clone(),
        }
    }

    /// The link's state, now and as it changes.
    pub fn state(&self) -> watch::Receiver<LinkState> {
        self.state.subscribe()
    }

    /// Links to the gateway and keeps relinking until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let cfg = &self.config;
        let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max);
        while !shutdown.is_cancelled() {
            let ended = tokio::select! {
                ended = session::run(cfg, &self.router, &mut self.events_rx, &self.state) => ended,
                () = shutdown.cancelled() => break,
            };
            if ended.connected_for.is_some_and(|d| d >= cfg.healthy_after) {
                backoff.reset();
            }
            let mut delay = backoff.next_delay();
            if is_refusal(&ended.error) {
                tracing::error!(
                    engine = %cfg.engine_id,
                    gateway = %cfg.gateway_url,
                    error = %ended.error,
                    "the gateway refused this engine's credentials; check the engine token"
                );
                self.state.send_replace(LinkState::Refused);
                delay = delay.max(cfg.refused_backoff);
            } else {
                tracing::warn!(
                    gateway = %cfg.gateway_url,
                    error = %ended.error,
                    retry_in = ?delay,
                    "link to the gateway down"
                );
                self.state.send_replace(LinkState::Disconnected);
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => break,
            }
        }
        self.state.send_replace(LinkState::Stopped);
    }
}

fn is_refusal(e: &LinkError) -> bool {
    use tonic::Code;
    matches!(e, LinkError::Refused(s) if matches!(
        s.code(),
        Code::Unauthenticated | Code::PermissionDenied | Code::ResourceExhausted
    ))
}
