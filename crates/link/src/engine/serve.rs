//! Serving tunneled requests on a live link: one task per request, calling the engine's Router.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use flowork_proto::v1 as pb;
use pb::engine_frame::Frame as Up;
use pb::gateway_frame::Frame as Down;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tower::ServiceExt;
use tracing::Instrument;

use super::session::frame;
use crate::flow::{self, Credit, Inbox};
use crate::{LinkError, wire};

/// A request being served.
struct Served {
    /// Where the rest of its body goes; `None` once complete or no longer wanted.
    body: Option<Inbox>,
    /// Window for the response body we send.
    credit: Credit,
    task: AbortHandle,
}

/// A live link's serving loop.
pub(super) struct Link {
    router: Router,
    out: mpsc::Sender<pb::EngineFrame>,
    streams: HashMap<u64, Served>,
    tasks: JoinSet<u64>,
    permits: Arc<Semaphore>,
}

fn body_frame(chunk: pb::BodyChunk) -> pb::EngineFrame {
    frame(Up::Body(chunk))
}

fn window_frame(update: pb::WindowUpdate) -> pb::EngineFrame {
    frame(Up::Window(update))
}

impl Link {
    pub(super) fn new(router: Router, out: mpsc::Sender<pb::EngineFrame>, limit: u32) -> Self {
        Self {
            router,
            out,
            streams: HashMap::new(),
            tasks: JoinSet::new(),
            permits: Arc::new(Semaphore::new(limit.max(1) as usize)),
        }
    }

    /// Serves until the link ends; returns why. Dropping `self` aborts requests still running:
    /// their answers have nowhere to go.
    pub(super) async fn serve(
        mut self,
        mut inbound: tonic::Streaming<pb::GatewayFrame>,
        events: &mut mpsc::Receiver<pb::ExecutionEvent>,
        ping_every: Duration,
    ) -> LinkError {
        let mut ticker = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        let mut nonce = 0u64;
        let out = self.out.clone();
        loop {
            tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(f)) => {
                        heard = Instant::now();
                        if let Some(f) = f.frame {
                            self.dispatch(f);
                        }
                    }
                    Ok(None) => return LinkError::Disconnected,
                    Err(status) => return LinkError::Refused(status),
                },
                Some(done) = self.tasks.join_next_with_id() => self.finished(done),
                // Holding an outbound slot first means an event taken is never dropped.
                (slot, event) = async { (out.reserve().await, events.recv().await) } => {
                    match (slot, event) {
                        (Ok(slot), Some(event)) => slot.send(frame(Up::Event(event))),
                        _ => return LinkError::Disconnected,
                    }
                }
                _ = ticker.tick() => {
                    if heard.elapsed() > ping_every * 3 {
                        tracing::warn!(silent = ?heard.elapsed(), "the gateway fell silent");
                        return LinkError::Disconnected;
                    }
                    nonce += 1;
                    let _ = self.out.try_send(frame(Up::Ping(pb::Ping { nonce })));
                }
            }
        }
    }

    fn dispatch(&mut self, f: Down) {
        match f {
            Down::RequestHead(head) => self.start(head),
            Down::Body(chunk) => self.on_chunk(chunk),
            Down::Cancel(c) => {
                if let Some(s) = self.streams.remove(&c.stream_id) {
                    tracing::debug!(stream = c.stream_id, reason = %c.reason, "request cancelled");
                    s.task.abort();
                }
            }
            Down::Window(w) => {
                if let Some(s) = self.streams.get(&w.stream_id) {
                    s.credit.grant(w.bytes);
                }
            }
            Down::Ping(p) => {
                let _ = self
                    .out
                    .try_send(frame(Up::Pong(pb::Pong { nonce: p.nonce })));
            }
            Down::Pong(_) | Down::Welcome(_) => {}
        }
    }

    fn start(&mut self, head: pb::HttpRequestHead) {
        let id = head.stream_id;
        if self.streams.contains_key(&id) {
            return self.refuse(id, "stream id already in use");
        }
        // The path without its query: webhook URLs may carry secrets there.
        let path = head.path_and_query.split('?').next().unwrap_or_default();
        let span = tracing::debug_span!("tunneled", stream = id, method = %head.method, path);
        let (inbox, body) = if head.empty_body {
            (None, Body::empty())
        } else {
            let (inbox, body) = flow::inbox(id, self.out.clone(), window_frame, ());
            (Some(inbox), body)
        };
        let req = match wire::request_from_head(head, body) {
            Ok(req) => req,
            Err(e) => return self.refuse(id, &e.to_string()),
        };
        let credit = Credit::new();
        let call = answer(
            self.router.clone(),
            req,
            id,
            self.out.clone(),
            credit.clone(),
        );
        let permits = self.permits.clone();
        let task = self.tasks.spawn(
            async move {
                // The gateway keeps within our limit; this only waits out requests it cancelled
                // that have not stopped yet.
                let _permit = permits.acquire_owned().await;
                call.await;
                id
            }
            .instrument(span),
        );
        self.streams.insert(
            id,
            Served {
                body: inbox,
                credit,
                task,
            },
        );
    }

    fn on_chunk(&mut self, chunk: pb::BodyChunk) {
        let id = chunk.stream_id;
        let Some(inbox) = self.streams.get_mut(&id).and_then(|s| s.body.as_ref()) else {
            return;
        };
        match inbox.push(chunk.data) {
            Ok(()) if !chunk.end => {}
            // Complete, or the handler dropped its body: either way nothing more goes to it.
            Ok(()) | Err(LinkError::Disconnected) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.body = None;
                }
            }
            Err(e) => {
                if let Some(s) = self.streams.remove(&id) {
                    s.task.abort();
                }
                self.refuse(id, &e.to_string());
            }
        }
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, u64), tokio::task::JoinError>) {
        match done {
            Ok((_, id)) => {
                self.streams.remove(&id);
            }
            Err(e) if e.is_panic() => {
                let task = e.id();
                let id = self
                    .streams
                    .iter()
                    .find(|(_, s)| s.task.id() == task)
                    .map(|(id, _)| *id);
                if let Some(id) = id {
                    tracing::error!(stream = id, "request handler panicked");
                    self.streams.remove(&id);
                    self.refuse(id, "the engine failed to serve the request");
                }
            }
            Err(_) => {} // aborted: already forgotten on Cancel
        }
    }

    /// Tells the gateway we cannot serve `id`, so it fails fast instead of at its deadline.
    fn refuse(&self, id: u64, message: &str) {
        let error = pb::StreamError {
            stream_id: id,
            message: message.to_owned(),
        };
        let out = self.out.clone();
        // Off the reader loop: a full queue must not stall it, nor lose the answer.
        tokio::spawn(async move { out.send(frame(Up::StreamError(error))).await });
    }
}

/// Calls the router and streams its answer back.
async fn answer(
    router: Router,
    req: http::Request<Body>,
    id: u64,
    out: mpsc::Sender<pb::EngineFrame>,
    credit: Credit,
) {
    let Ok(res) = router.oneshot(req).await;
    let (parts, body) = res.into_parts();
    let empty = wire::body_is_empty(&body);
    let head = wire::response_head(id, &parts, empty);
    if out.send(frame(Up::ResponseHead(head))).await.is_err() || empty {
        return;
    }
    if let Err(e) = flow::pump(body, id, credit, out.clone(), body_frame).await {
        tracing::warn!(stream = id, error = %e, "response body failed midway");
        let error = pb::StreamError {
            stream_id: id,
            message: "response body failed".into(),
        };
        let _ = out.send(frame(Up::StreamError(error))).await;
    }
}
