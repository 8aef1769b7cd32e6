//! [`Hub::forward`]: one HTTP request down an engine's link and its response back.

use std::sync::Arc;

use axum::body::Body;
use flowork_kit::CancellationToken;
use flowork_proto::v1 as pb;
use pb::gateway_frame::Frame as Out;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::{Instant, timeout_at};

use super::Hub;
use super::session::{Session, Slot, frame};
use crate::flow::{self, Credit};
use crate::{EngineId, LinkError, wire};

/// Lives as long as the caller wants the answer: inside the response body once there is one.
/// Dropping it before the stream is over tells the engine to stop (client gone, deadline).
struct StreamGuard {
    session: Arc<Session>,
    id: u64,
    _permit: OwnedSemaphorePermit,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.session.end(
            self.id,
            LinkError::Disconnected,
            Some("the gateway gave up"),
        );
    }
}

fn body_frame(chunk: pb::BodyChunk) -> pb::GatewayFrame {
    frame(Out::Body(chunk))
}

fn window_frame(update: pb::WindowUpdate) -> pb::GatewayFrame {
    frame(Out::Window(update))
}

impl Hub {
    /// Sends `req` to `engine` and returns its response as soon as the head arrives; the body
    /// streams behind it. The request's path and query are passed as they are, so the caller
    /// rewrites the URI to the engine's own routes first.
    ///
    /// Fails fast: `Offline` with no link, `Saturated` when the engine already serves its limit,
    /// `Timeout` when no head came by `deadline`, `Disconnected` if the link drops first. A
    /// timeout, or dropping the future or the response body early, cancels the engine's work.
    #[tracing::instrument(level = "debug", skip_all, fields(%engine, method = %req.method(), path = req.uri().path()))]
    pub async fn forward(
        &self,
        engine: &EngineId,
        req: http::Request<Body>,
        deadline: Instant,
    ) -> Result<http::Response<Body>, LinkError> {
        let session = self
            .inner
            .session(engine)
            .ok_or_else(|| LinkError::Offline(engine.clone()))?;
        let permit = session
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| LinkError::Saturated(engine.clone()))?;
        let id = session.next_id();
        let (parts, body) = req.into_parts();
        let empty = wire::body_is_empty(&body);
        let guard = StreamGuard {
            session: session.clone(),
            id,
            _permit: permit,
        };
        let (inbox, response_body) = flow::inbox(id, session.out.clone(), window_frame, guard);
        let (head_tx, head_rx) = oneshot::channel();
        let credit = Credit::new();
        let stop = CancellationToken::new();
        let slot = Slot {
            head: Some(head_tx),
            body: inbox,
            credit: credit.clone(),
            stop: stop.clone(),
        };
        if !session.open(id, slot) {
            return Err(LinkError::Disconnected);
        }
        let head = wire::request_head(id, &parts, deadline, empty);
        match timeout_at(deadline, session.out.send(frame(Out::RequestHead(head)))).await {
            Err(_) => return Err(LinkError::Timeout),
            Ok(Err(_)) => return Err(LinkError::Disconnected),
            Ok(Ok(())) => {}
        }
        if !empty {
            tokio::spawn(pump_request(session.clone(), id, body, credit, stop));
        }
        let head = match timeout_at(deadline, head_rx).await {
            Err(_) => return Err(LinkError::Timeout),
            Ok(Err(_)) => return Err(LinkError::Disconnected),
            Ok(Ok(head)) => head?,
        };
        // With an empty body the session already forgot the stream; dropping the unused body
        // (and its guard) just frees the permit.
        let body = if head.empty_body {
            Body::empty()
        } else {
            response_body
        };
        wire::response_from_head(head, body)
    }
}

/// Streams the request body to the engine until it is sent or the stream ends.
async fn pump_request(
    session: Arc<Session>,
    id: u64,
    body: Body,
    credit: Credit,
    stop: CancellationToken,
) {
    let sent = tokio::select! {
        r = flow::pump(body, id, credit, session.out.clone(), body_frame) => r,
        () = stop.cancelled() => return,
    };
    if let Err(e) = sent {
        tracing::debug!(engine = %session.engine, stream = id, error = %e, "request body aborted");
        session.end(id, e, Some("request body aborted"));
    }
}
