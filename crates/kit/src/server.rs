//! One listener per service serving gRPC (tonic) and HTTP (axum) side by side: gRPC routes by
//! `/<package.Service>/<method>`, HTTP by path (`/metrics`, and the gateway's whole API).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceExt;

use crate::error::KitError;
use crate::service::ServiceName;
use crate::telemetry;

/// How long open connections (long-lived streams included) get to finish after shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);

/// The gRPC side of a service: grpc.health.v1 and reflection are always there.
pub struct Grpc {
    // A plain axum Router rather than tonic's `Routes`: that one carries a fallback, and axum
    // can't merge two routers with fallbacks (the engine API brings its own problem-JSON 404).
    routes: Router,
    health: HealthReporter,
}

impl Grpc {
    /// Health (overall status SERVING) plus reflection over every Flowork proto.
    pub fn new() -> Self {
        let (health, health_svc) = tonic_health::server::health_reporter();
        let mut routes = with_service(Router::new(), health_svc);
        match tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(flowork_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
        {
            Ok(reflection) => routes = with_service(routes, reflection),
            // The descriptor sets are compiled in; this only fails if the build is broken.
            Err(e) => tracing::error!(error = %e, "gRPC reflection unavailable"),
        }
        Self { routes, health }
    }

    /// Adds a gRPC service.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.routes = with_service(self.routes, svc);
        self
    }

    /// The health reporter, to flip a service between SERVING and NOT_SERVING.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Marks `name`'s own API as SERVING (see [`ServiceName::health_name`]), and NOT_SERVING
    /// whenever the process's integrity check finds drift (see [`crate::integrity`]).
    pub async fn set_serving(&self, name: ServiceName) {
        let Some(mut changes) = crate::integrity::subscribe() else {
            self.health
                .set_service_status(name.health_name(), ServingStatus::Serving)
                .await;
            return;
        };
        let health = self.health.clone();
        let status = |degraded: bool| {
            if degraded {
                ServingStatus::NotServing
            } else {
                ServingStatus::Serving
            }
        };
        let degraded = changes.borrow_and_update().is_degraded();
        health
            .set_service_status(name.health_name(), status(degraded))
            .await;
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let degraded = changes.borrow_and_update().is_degraded();
                health
                    .set_service_status(name.health_name(), status(degraded))
                    .await;
            }
        });
    }

    /// The routes as an axum router, with `/metrics` added.
    pub fn into_router(self) -> Router {
        self.routes.merge(http_base())
    }
}

/// Routes `/<package.Service>/*` to a tonic service, as tonic's own `Routes` does.
fn with_service<S>(router: Router, svc: S) -> Router
where
    S: tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    let svc =
        svc.map_request(|req: http::Request<axum::body::Body>| req.map(tonic::body::Body::new));
    router.route_service(&format!("/{}/{{*rest}}", S::NAME), svc)
}

impl Default for Grpc {
    fn default() -> Self {
        Self::new()
    }
}

/// What every HTTP side has: `/metrics`.
pub fn http_base() -> Router {
    Router::new().route("/metrics", axum::routing::get(telemetry::metrics_handler))
}

/// Serves `router` on `listener` (HTTP/1.1 and h2c, so gRPC works) until `shutdown` is cancelled,
/// then lets open connections drain for a few seconds.
pub async fn serve(
    name: ServiceName,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    // Install the recorder before the first request, or its metrics would go nowhere.
    telemetry::prometheus();
    let router = router.layer(axum::middleware::from_fn(telemetry::track_http));
    match listener.local_addr() {
        Ok(addr) => tracing::info!(service = %name, %addr, "listening"),
        Err(_) => tracing::info!(service = %name, "listening"),
    }
    let signal = shutdown.clone();
    // Peer addresses reach handlers as `ConnectInfo` (the gateway rate-limits logins by them).
    // No Nagle: small frames (gRPC, EngineLink's tunneled requests) must leave at once, not wait
    // for the peer's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { signal.cancelled().await });
    let served = tokio::select! {
        r = server => r,
        () = async { shutdown.cancelled().await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!(service = %name, "connections still open after {DRAIN:?}; closing them");
            Ok(())
        }
    };
    served.map_err(|e| KitError::Serve {
        service: name.as_str(),
        reason: e.to_string(),
    })?;
    tracing::info!(service = %name, "stopped");
    Ok(())
}
