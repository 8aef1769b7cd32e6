//! The store service (`flowork.v1.Store`): the storage traits of `flowork-storage` over gRPC.
//!
//! - [`StoreService`] serves any [`Store`] (SQLite or Postgres) and checks every request at the
//!   boundary: a bad id, status, JSON document or number is InvalidArgument naming its field.
//! - [`RemoteStore`] implements every storage trait over a client, so the engine can use an
//!   in-process store or this service interchangeably.
//! - [`run`] serves a store on a bound listener; [`start`] is the standalone binary's entry.

mod convert;
mod remote;
mod server;

use std::sync::Arc;

use flowork_kit::entry::BoxError;
use flowork_kit::server::{self as kit_server, Grpc};
use flowork_kit::{CancellationToken, Config, KitError, ServiceName};
use flowork_storage::Store;
use tokio::net::TcpListener;

pub use remote::RemoteStore;
pub use server::StoreService;

/// The largest gRPC message either side accepts: workflow records and execution outputs can be
/// far beyond tonic's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Serves `store` on `listener` (with grpc.health.v1 reporting `flowork.v1.Store` SERVING) until
/// `shutdown` is cancelled.
pub async fn run(
    store: Arc<dyn Store>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    let grpc = Grpc::new().add_service(StoreService::new(store).into_server());
    grpc.set_serving(ServiceName::Store).await;
    kit_server::serve(ServiceName::Store, listener, grpc.into_router(), shutdown).await
}

/// The standalone `flowork-store`: opens (and migrates) the configured database, then [`run`]s.
pub async fn start(
    cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let store = flowork_storage::open(&cfg).await?;
    run(store, listener, shutdown).await?;
    Ok(())
}
