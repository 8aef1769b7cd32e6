//! The training service: AITrainingService: datasets and local fine-tuning jobs. Built by issue #8.
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
    flowork_kit::placeholder::serve(ServiceName::Training, listener, shutdown).await?;
    Ok(())
}
