//! What a service whose issue has not landed serves: grpc.health.v1 for the process (so
//! orchestrators see it run) and nothing else. Its own health name stays unknown, so health checks
//! report it as not implemented; no fake behaviour.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::KitError;
use crate::server::{self, Grpc};
use crate::service::ServiceName;

/// Serves health and reflection only, until `shutdown`.
pub async fn serve(
    name: ServiceName,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    tracing::info!(service = %name, "not implemented yet: serving health only");
    server::serve(name, listener, Grpc::new().into_router(), shutdown).await
}
