//! EngineLink (DESIGN §3): the one gRPC stream an engine dials out to the gateway, both ends.
//!
//! - [`Hub`] (gateway side) serves `EngineLink.Connect`, authenticates engines through
//!   [`EngineAuth`], keeps a registry of live sessions and tunnels HTTP requests to them with
//!   [`Hub::forward`].
//! - [`LinkClient`] (engine side) dials the gateway, reconnects forever, and serves every tunneled
//!   request with the engine's own axum `Router`. It listens on no port.
//!
//! Requests are multiplexed by `stream_id`; bodies travel as chunks of at most [`CHUNK_SIZE`]
//! under a per-stream window of [`WINDOW`] bytes, so memory stays bounded whatever the body size
//! and a slow reader stalls only its own stream.
//!
//! Wiring, gateway side:
//! ```text
//! let hub = Hub::new(HubConfig::default(), DbAuth { .. });  // DbAuth: impl EngineAuth
//! grpc = grpc.add_service(hub.service());                    // same port as the REST API
//! // The URI must already be the engine's own path; LinkError is IntoResponse (problem JSON).
//! let res = hub.forward(&engine_id, req, Instant::now() + timeout).await;
//! ```
//! Engine side:
//! ```text
//! let client = LinkClient::new(LinkClientConfig::new(gateway_url, engine_id, token), router);
//! let events = client.events();        // EventSender for ExecutionEvents
//! let state = client.state();          // watch::Receiver<LinkState>, for health
//! tokio::spawn(client.run(shutdown));  // redials until shutdown
//! ```
//! Throughput per stream is bounded by [`WINDOW`] per round trip (1 MiB / 50 ms = 20 MB/s);
//! the whole link, engine → gateway, also by the gateway server's HTTP/2 connection window
//! (hyper's default is 1 MiB), which a gateway with many busy engines may want to raise.

mod backoff;
mod engine;
mod error;
mod flow;
mod hub;
mod id;
mod wire;

pub use engine::{EventSender, LinkClient, LinkClientConfig, LinkState};
pub use error::LinkError;
pub use flowork_proto::v1::ExecutionEvent;
pub use hub::{EngineAuth, EngineEvent, EngineEvents, EngineIdentity, Hub, HubConfig, Presence};
pub use id::EngineId;

/// The largest body slice one frame carries.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Body bytes a side may have in flight per stream before the reader grants more (the proto's
/// `WindowUpdate` contract; both sides must agree, so it is not configurable).
pub const WINDOW: usize = 1024 * 1024;
/// gRPC metadata naming the engine on `Connect`.
pub const ENGINE_ID_HEADER: &str = "flowork-engine-id";
