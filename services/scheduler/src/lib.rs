//! The scheduler: Flowork's engine ("Async Orchestrator", DESIGN §4).
//!
//! Built so far: the [`engine`] that runs one execution of a workflow version as a DAG, with
//! independent branches in parallel, durable checkpoints through the store, retries and
//! timeouts; and the core [`nodes`]. Not built yet (issue #3 continues): the queue and workers,
//! cron and webhook triggers, `core.http`/`core.wait`/`core.subworkflow`, the engine API, and the
//! EngineLink client. Until then the service process serves health only and says so.

pub mod api;
pub mod engine;
pub mod nodes;
pub mod runner;
pub mod versions;

use std::sync::Arc;

use flowork_kit::entry::BoxError;
use flowork_kit::{CancellationToken, Config, ServiceName};
use tokio::net::TcpListener;

pub use engine::{Engine, EngineError};
pub use runner::{Runner, StartRequest};

/// Serves until `shutdown` is cancelled (health only, until the engine's service side lands).
pub async fn start(
    _cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    flowork_kit::placeholder::serve(ServiceName::Scheduler, listener, shutdown).await?;
    Ok(())
}
