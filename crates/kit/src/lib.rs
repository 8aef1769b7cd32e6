//! The shared service kit: everything every Flowork binary does the same way.
//!
//! - [`config`]: one typed config, layered defaults → TOML file → `FLOWORK_` env → flags.
//! - [`telemetry`]: tracing (text or JSON) and the Prometheus registry behind `/metrics`.
//! - [`server`]: gRPC (with grpc.health.v1 and reflection) and HTTP on one listener.
//! - [`shutdown`]: SIGINT/SIGTERM to a cancellation token.
//! - [`problem`]: the one error shape, RFC 7807 JSON on HTTP and `tonic::Status` on gRPC.
//! - [`placeholder`]: what a service whose issue has not landed serves (health, and nothing else).
//! - [`entry`]: the `main()` of every `flowork-<service>` binary.
//! - [`integrity`]: the boot self-check against a signed manifest, and its periodic re-check.

pub mod config;
pub mod entry;
mod error;
pub mod health;
pub mod integrity;
pub mod net;
pub mod placeholder;
pub mod private_file;
pub mod problem;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use error::KitError;
pub use problem::Problem;
pub use service::ServiceName;
pub use tokio_util::sync::CancellationToken;

/// Flowork's version, as every binary reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
