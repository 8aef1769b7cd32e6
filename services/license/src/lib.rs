//! The license service: License and Permission: capabilities and roles. Built by issue #5.
//!
//! Not implemented yet. Until its issue lands it serves grpc.health.v1 for the process and
//! nothing else, so health checks report it as `not_implemented` rather than pretending.

use std::sync::Arc;

use flowork_kit::entry::BoxError;
use flowork_kit::{CancellationToken, Config, ServiceName};
use tokio::net::TcpListener;

/// Serves until `shutdown` is cancelled.
pub async fn start(
    _cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    flowork_kit::placeholder::serve(ServiceName::License, listener, shutdown).await?;
    Ok(())
}
