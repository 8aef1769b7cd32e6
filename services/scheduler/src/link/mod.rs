//! EngineLink, engine side (DESIGN §3): the engine dials out to its gateway and serves its API
//! over that one stream, so it needs no open port. The link's state is reported on the engine's
//! gRPC health as [`LINK_HEALTH`] (SERVING while linked), and execution events go up the link
//! for live views.

mod events;
mod token;

use axum::Router;
use flowork_kit::{CancellationToken, Config, KitError};
use flowork_link::{LinkClient, LinkClientConfig, LinkState};
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub use token::{
    ENGINE_TOKEN_ENV, Secret, TOKEN_FILE, load_token, read_token_file, write_token_file,
};

use crate::engine::Engine;

/// The grpc.health.v1 service name that reports the link: SERVING while linked.
pub const LINK_HEALTH: &str = "flowork.v1.EngineLink";

/// Where the engine dials and who it is there.
#[derive(Clone)]
pub struct LinkSettings {
    /// The gateway, e.g. `https://gw.example.com`.
    pub gateway_url: String,
    /// This engine's id at the gateway.
    pub engine_id: String,
    /// This engine's token (never logged; `Debug` hides it).
    pub token: Secret,
}

impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSettings")
            .field("gateway_url", &self.gateway_url)
            .field("engine_id", &self.engine_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl LinkSettings {
    /// From `scheduler.gateway_url` and `scheduler.engine_id`, with the token from
    /// `FLOWORK_ENGINE_TOKEN` or `<data_dir>/engine.token`. `None`: no gateway configured.
    pub async fn from_config(cfg: &Config) -> Result<Option<Self>, KitError> {
        let sc = &cfg.scheduler;
        let (Some(url), Some(id)) = (&sc.gateway_url, &sc.engine_id) else {
            return Ok(None);
        };
        Ok(Some(Self {
            gateway_url: url.clone(),
            engine_id: id.clone(),
            token: load_token(&cfg.data_dir).await?,
        }))
    }
}

/// Starts the link: it serves `router`, forwards `engine`'s execution events while linked, and
/// mirrors its state into `health`, until `shutdown`. Returns the state, as it changes.
pub(crate) fn spawn(
    settings: LinkSettings,
    router: Router,
    engine: &Engine,
    health: HealthReporter,
    shutdown: CancellationToken,
) -> watch::Receiver<LinkState> {
    let LinkSettings {
        gateway_url,
        engine_id,
        token,
    } = settings;
    tracing::info!(gateway = %gateway_url, engine = %engine_id, "linking to the gateway");
    let cfg = LinkClientConfig::new(gateway_url, engine_id, token.as_str());
    // Tunneled requests count in the engine's HTTP metrics like those on its own port.
    flowork_kit::telemetry::prometheus();
    let router = router.layer(axum::middleware::from_fn(
        flowork_kit::telemetry::track_http,
    ));
    let client = LinkClient::new(cfg, router);
    let state = client.state();
    events::spawn_forwarder(engine.clone(), client.events(), state.clone());
    tokio::spawn(report(state.clone(), health));
    tokio::spawn(client.run(shutdown));
    state
}

/// Mirrors the link state into grpc health, and logs when the link comes up.
async fn report(mut state: watch::Receiver<LinkState>, health: HealthReporter) {
    loop {
        let now = *state.borrow_and_update();
        let status = if now == LinkState::Connected {
            tracing::info!("linked to the gateway");
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        health.set_service_status(LINK_HEALTH, status).await;
        if now == LinkState::Stopped || state.changed().await.is_err() {
            return;
        }
    }
}
