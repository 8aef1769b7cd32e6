//! One connection to the gateway: dial, present credentials, Hello/Welcome, then serve.

use std::time::Duration;

use axum::Router;
use flowork_proto::v1 as pb;
use flowork_proto::v1::engine_link_client::EngineLinkClient;
use pb::engine_frame::Frame as Up;
use pb::gateway_frame::Frame as Down;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::serve::Link;
use super::{LinkClientConfig, LinkState};
use crate::{ENGINE_ID_HEADER, LinkError};

/// Frames queued towards the gateway; bounds what a stalled connection holds.
const OUTBOUND_FRAMES: usize = 32;

/// How a connection ended.
pub(super) struct Ended {
    /// How long it was up after `Welcome`, if it got that far.
    pub(super) connected_for: Option<Duration>,
    pub(super) error: LinkError,
}

impl From<LinkError> for Ended {
    fn from(error: LinkError) -> Self {
        Self {
            connected_for: None,
            error,
        }
    }
}

pub(super) fn frame(f: Up) -> pb::EngineFrame {
    pb::EngineFrame { frame: Some(f) }
}

/// Runs one connection to its end.
pub(super) async fn run(
    cfg: &LinkClientConfig,
    router: &Router,
    events: &mut mpsc::Receiver<pb::ExecutionEvent>,
    state: &watch::Sender<LinkState>,
) -> Ended {
    match connect(cfg).await {
        Ok((out, inbound, welcome)) => {
            let since = Instant::now();
            state.send_replace(LinkState::Connected);
            tracing::info!(
                gateway = %cfg.gateway_url,
                gateway_id = %welcome.gateway_id,
                "linked to the gateway"
            );
            let ping = Duration::from_millis(u64::from(welcome.ping_interval_ms.max(10)));
            let link = Link::new(router.clone(), out, cfg.max_concurrency);
            let error = link.serve(inbound, events, ping).await;
            state.send_replace(LinkState::Disconnected);
            Ended {
                connected_for: Some(since.elapsed()),
                error,
            }
        }
        Err(e) => e.into(),
    }
}

async fn connect(
    cfg: &LinkClientConfig,
) -> Result<
    (
        mpsc::Sender<pb::EngineFrame>,
        tonic::Streaming<pb::GatewayFrame>,
        pb::Welcome,
    ),
    LinkError,
> {
    let channel = dial(cfg).await?;
    let (out, rx) = mpsc::channel(OUTBOUND_FRAMES);
    let hello = pb::Hello {
        engine_id: cfg.engine_id.to_string(),
        engine_version: cfg.engine_version.clone(),
        max_concurrency: cfg.max_concurrency.max(1),
    };
    // The gateway reads Hello before it answers, so it must be queued before we wait.
    let _ = out.try_send(frame(Up::Hello(hello)));
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    let bearer = MetadataValue::try_from(format!("Bearer {}", cfg.token))
        .map_err(|_| LinkError::Protocol("the engine token is not a valid header value".into()))?;
    let engine = MetadataValue::try_from(cfg.engine_id.as_str())
        .map_err(|_| LinkError::Protocol("the engine id is not a valid header value".into()))?;
    req.metadata_mut().insert("authorization", bearer);
    req.metadata_mut().insert(ENGINE_ID_HEADER, engine);
    let mut client = EngineLinkClient::new(channel);
    let answer = tokio::time::timeout(cfg.connect_timeout, client.connect(req))
        .await
        .map_err(|_| LinkError::Timeout)??;
    let mut inbound = answer.into_inner();
    let first = tokio::time::timeout(cfg.connect_timeout, inbound.message())
        .await
        .map_err(|_| LinkError::Timeout)??;
    match first.and_then(|f| f.frame) {
        Some(Down::Welcome(welcome)) => Ok((out, inbound, welcome)),
        _ => Err(LinkError::Protocol(
            "the gateway's first frame was not Welcome".into(),
        )),
    }
}

async fn dial(cfg: &LinkClientConfig) -> Result<Channel, LinkError> {
    let endpoint = Endpoint::from_shared(cfg.gateway_url.clone())?
        .connect_timeout(cfg.connect_timeout)
        .tcp_nodelay(true);
    Ok(endpoint.connect().await?)
}
