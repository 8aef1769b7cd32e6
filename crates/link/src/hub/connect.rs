//! `EngineLink.Connect`: authenticate, wait for Hello, register the session, start its loop.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use flowork_proto::v1 as pb;
use flowork_proto::v1::engine_link_server::EngineLink;
use futures::{Stream, StreamExt};
use pb::engine_frame::Frame as In;
use pb::gateway_frame::Frame as Out;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::session::{self, Session};
use super::{Hub, Inner};
use crate::{ENGINE_ID_HEADER, EngineId, LinkError};

/// Frames queued towards one engine; bounds what a stalled connection holds.
const OUTBOUND_FRAMES: usize = 32;

type FrameStream = Pin<Box<dyn Stream<Item = Result<pb::GatewayFrame, Status>> + Send>>;

#[tonic::async_trait]
impl EngineLink for Hub {
    type ConnectStream = FrameStream;

    async fn connect(
        &self,
        req: Request<Streaming<pb::EngineFrame>>,
    ) -> Result<Response<FrameStream>, Status> {
        let inner = &self.inner;
        if inner.closed.is_cancelled() {
            return Err(Status::unavailable("the gateway is shutting down"));
        }
        let peer = peer_ip(&req);
        let (engine, token) = credentials(&req)?;
        if !inner.limiter.allows(peer, engine.as_str()) {
            tracing::warn!(%engine, peer = ?peer, "engine connect refused: too many failures");
            return Err(Status::resource_exhausted(
                "too many failed attempts; retry later",
            ));
        }
        let identity = match inner.auth.verify(&engine, &token).await {
            Ok(identity) => identity,
            Err(LinkError::Unauthenticated) => {
                inner.limiter.failed(peer, engine.as_str());
                // Never the token: only who tried, from where.
                tracing::warn!(%engine, peer = ?peer, "engine connect refused: bad credentials");
                return Err(Status::unauthenticated("engine id or token refused"));
            }
            Err(e) => {
                tracing::error!(%engine, error = %e, "engine auth unavailable");
                return Err(Status::unavailable("cannot check engine credentials now"));
            }
        };
        let mut inbound = req.into_inner();
        let hello = hello(inner, &mut inbound).await?;
        if hello.engine_id != identity.engine.as_str() {
            return Err(Status::invalid_argument("Hello names another engine"));
        }
        Ok(Response::new(start(
            self.inner.clone(),
            identity.engine,
            hello,
            inbound,
        )))
    }
}

/// Registers the session and returns the frames to send it; they end when the session closes.
fn start(
    inner: Arc<Inner>,
    engine: EngineId,
    hello: pb::Hello,
    inbound: Streaming<pb::EngineFrame>,
) -> FrameStream {
    let config = &inner.config;
    let concurrency = hello
        .max_concurrency
        .clamp(1, config.max_concurrency.max(1));
    let (out, rx) = mpsc::channel(OUTBOUND_FRAMES);
    let welcome = pb::Welcome {
        gateway_id: config.gateway_id.clone(),
        ping_interval_ms: u32::try_from(config.ping_interval.as_millis()).unwrap_or(u32::MAX),
    };
    // The queue is new and empty: this cannot fail.
    let _ = out.try_send(session::frame(Out::Welcome(welcome)));
    let session = Arc::new(Session::new(
        engine.clone(),
        inner.next_serial(),
        out,
        concurrency as usize,
    ));
    tracing::info!(
        %engine,
        version = %hello.engine_version,
        concurrency,
        "engine connected"
    );
    inner.register(session.clone());
    let ping = config.ping_interval;
    tokio::spawn(session::drive(
        inner.clone(),
        session.clone(),
        inbound,
        ping,
    ));
    let closed = session.closed.clone();
    Box::pin(
        ReceiverStream::new(rx)
            .map(Ok)
            .take_until(closed.cancelled_owned()),
    )
}

/// The engine id and bearer token from the metadata.
fn credentials(req: &Request<Streaming<pb::EngineFrame>>) -> Result<(EngineId, String), Status> {
    let md = req.metadata();
    let engine = md
        .get(ENGINE_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Status::unauthenticated("missing flowork-engine-id"))?;
    let token = md
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
    Ok((EngineId::new(engine), token.to_owned()))
}

/// The connecting peer's address: tonic's own, or axum's when the gateway serves gRPC inside
/// its axum router.
fn peer_ip<T>(req: &Request<T>) -> Option<IpAddr> {
    req.remote_addr()
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0)
        })
        .map(|a| a.ip())
}

async fn hello(
    inner: &Inner,
    inbound: &mut Streaming<pb::EngineFrame>,
) -> Result<pb::Hello, Status> {
    let first = tokio::time::timeout(inner.config.hello_timeout, inbound.message())
        .await
        .map_err(|_| Status::deadline_exceeded("no Hello in time"))??;
    match first.and_then(|f| f.frame) {
        Some(In::Hello(hello)) => Ok(hello),
        _ => Err(Status::invalid_argument("the first frame must be Hello")),
    }
}
