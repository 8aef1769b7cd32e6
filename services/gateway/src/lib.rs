//! The gateway: Flowork's public edge (DESIGN §3).
//!
//! Built so far: `/healthz` (every service's health), `/readyz`, `/metrics`, and the first-run
//! admin account. The REST API, auth, webhooks and the EngineLink broker come with issue #4.

mod admin;
mod health;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use flowork_kit::entry::BoxError;
use flowork_kit::health::Probe;
use flowork_kit::{CancellationToken, Config, KitError, Problem, ServiceName};
use flowork_storage::Store;
use tokio::net::TcpListener;

pub use admin::{AdminBootstrap, bootstrap_admin, print_generated};

/// What the gateway's handlers share.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    /// Services to report in `/healthz` (all of them under `flowork up`).
    probes: Arc<Vec<Probe>>,
    public_metrics: bool,
}

impl Gateway {
    /// A gateway over `store`, reporting the health of `probes`.
    pub fn new(cfg: &Config, store: Arc<dyn Store>, probes: Vec<Probe>) -> Self {
        Self {
            store,
            probes: Arc::new(probes),
            public_metrics: cfg.gateway.public_metrics,
        }
    }

    /// The gateway's HTTP routes.
    pub fn router(self) -> Router {
        let metrics = if self.public_metrics {
            get(flowork_kit::telemetry::metrics_handler)
        } else {
            get(|| async {
                Problem::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "gateway.public_metrics is off and API auth is not built yet (issue #4)",
                )
            })
        };
        Router::new()
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
            .route("/metrics", metrics)
            .fallback(|| async { Problem::not_found("no such route") })
            .with_state(self)
    }
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn run(
    gw: Gateway,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    flowork_kit::server::serve(ServiceName::Gateway, listener, gw.router(), shutdown).await
}

/// The standalone gateway (`flowork-gateway`): its own database connection, no local services.
pub async fn start(
    cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let store = flowork_storage::open(&cfg).await?;
    if let AdminBootstrap::Generated(password) = bootstrap_admin(store.as_ref()).await? {
        print_generated(&password);
    }
    run(Gateway::new(&cfg, store, Vec::new()), listener, shutdown).await?;
    Ok(())
}
