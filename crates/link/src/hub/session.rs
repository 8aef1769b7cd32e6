//! One engine's live link at the hub: its in-flight streams and the loop reading its frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowork_kit::CancellationToken;
use flowork_proto::v1 as pb;
use pb::engine_frame::Frame as In;
use pb::gateway_frame::Frame as Out;
use tokio::sync::{Semaphore, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Streaming;

use super::Inner;
use crate::flow::{Credit, Inbox};
use crate::{EngineEvent, EngineId, LinkError};

/// Where a response head goes once the engine sends it.
pub(crate) type HeadTx = oneshot::Sender<Result<pb::HttpResponseHead, LinkError>>;

/// One tunneled request in flight.
pub(crate) struct Slot {
    pub(crate) head: Option<HeadTx>,
    pub(crate) body: Inbox,
    /// Window for the request body we send.
    pub(crate) credit: Credit,
    /// Stops the request body pump.
    pub(crate) stop: CancellationToken,
}

/// A connected engine.
pub(crate) struct Session {
    pub(crate) engine: EngineId,
    /// Tells this connection from a newer one of the same engine.
    pub(crate) serial: u64,
    pub(crate) out: tokio::sync::mpsc::Sender<pb::GatewayFrame>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) closed: CancellationToken,
    streams: Mutex<HashMap<u64, Slot>>,
    next_stream: AtomicU64,
}

pub(crate) fn frame(f: Out) -> pb::GatewayFrame {
    pb::GatewayFrame { frame: Some(f) }
}

impl Session {
    pub(crate) fn new(
        engine: EngineId,
        serial: u64,
        out: tokio::sync::mpsc::Sender<pb::GatewayFrame>,
        concurrency: usize,
    ) -> Self {
        Self {
            engine,
            serial,
            out,
            permits: Arc::new(Semaphore::new(concurrency)),
            closed: CancellationToken::new(),
            streams: Mutex::new(HashMap::new()),
            next_stream: AtomicU64::new(1),
        }
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a request; false if the link already closed (its slots were drained).
    pub(crate) fn open(&self, id: u64, slot: Slot) -> bool {
        let mut streams = self.streams();
        if self.closed.is_cancelled() {
            return false;
        }
        streams.insert(id, slot);
        true
    }

    /// Forgets stream `id`, failing whoever still waits on it; tells the engine to stop if
    /// `cancel` names why. Does nothing for a stream already over.
    pub(crate) fn end(&self, id: u64, error: LinkError, cancel: Option<&str>) {
        let Some(slot) = self.streams().remove(&id) else {
            return;
        };
        slot.stop.cancel();
        match slot.head {
            Some(head) => {
                let _ = head.send(Err(error));
            }
            None => slot.body.fail(error),
        }
        if let Some(reason) = cancel {
            let f = frame(Out::Cancel(pb::Cancel {
                stream_id: id,
                reason: reason.to_owned(),
            }));
            // Never wait here (this runs in Drop); a full queue gets a task of its own.
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(f)) = self.out.try_send(f) {
                let out = self.out.clone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move { out.send(f).await });
                }
            }
        }
    }

    /// Fails every stream in flight: the link is gone.
    fn fail_all(&self) {
        let ids: Vec<u64> = self.streams().keys().copied().collect();
        for id in ids {
            self.end(id, LinkError::Disconnected, None);
        }
    }

    fn send_now(&self, f: Out) {
        // Pings and pongs are never worth blocking the reader for; a full queue means frames
        // are flowing anyway.
        let _ = self.out.try_send(frame(f));
    }

    fn dispatch(&self, inner: &Inner, f: In) {
        match f {
            In::ResponseHead(head) => self.on_head(head),
            In::Body(chunk) => self.on_chunk(chunk),
            In::StreamError(e) => self.end(e.stream_id, LinkError::Engine(e.message), None),
            In::Window(w) => {
                if let Some(slot) = self.streams().get(&w.stream_id) {
                    slot.credit.grant(w.bytes);
                }
            }
            In::Ping(p) => self.send_now(Out::Pong(pb::Pong { nonce: p.nonce })),
            In::Pong(_) => {}
            In::Event(event) => {
                let _ = inner.events.send(EngineEvent {
                    engine: self.engine.clone(),
                    event,
                });
            }
            In::Hello(_) => tracing::debug!(engine = %self.engine, "repeated Hello ignored"),
        }
    }

    fn on_head(&self, head: pb::HttpResponseHead) {
        let id = head.stream_id;
        let empty = head.empty_body;
        let delivered = {
            let mut streams = self.streams();
            let Some(tx) = streams.get_mut(&id).and_then(|slot| slot.head.take()) else {
                return;
            };
            let delivered = tx.send(Ok(head)).is_ok();
            if delivered && empty {
                // Nothing follows: the stream is over.
                if let Some(slot) = streams.remove(&id) {
                    slot.stop.cancel();
                }
            }
            delivered
        };
        if !delivered {
            // The caller gave up as the head arrived; make sure the engine hears it.
            self.end(id, LinkError::Disconnected, Some("the gateway gave up"));
        }
    }

    fn on_chunk(&self, chunk: pb::BodyChunk) {
        let id = chunk.stream_id;
        let pushed = match self.streams().get(&id) {
            Some(slot) if slot.head.is_none() => slot.body.push(chunk.data),
            Some(_) => Err(LinkError::Protocol("body before response head".into())),
            None => return,
        };
        match pushed {
            Ok(()) if chunk.end => {
                // Dropping the slot's inbox ends the body once it is read.
                if let Some(slot) = self.streams().remove(&id) {
                    slot.stop.cancel();
                }
            }
            Ok(()) => {}
            Err(LinkError::Disconnected) => {} // the reader dropped it; its guard cancels
            Err(e) => self.end(id, e, Some("protocol error")),
        }
    }
}

/// Reads the engine's frames until the link ends, pinging it and dropping it if it falls silent.
pub(crate) async fn drive(
    inner: Arc<Inner>,
    session: Arc<Session>,
    mut inbound: Streaming<pb::EngineFrame>,
    ping_every: Duration,
) {
    let mut ticker = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    let mut nonce = 0u64;
    let why = loop {
        tokio::select! {
            () = session.closed.cancelled() => break "closed at the gateway".to_owned(),
            msg = inbound.message() => match msg {
                Ok(Some(pb::EngineFrame { frame: Some(f) })) => {
                    heard = Instant::now();
                    session.dispatch(&inner, f);
                }
                Ok(Some(_)) => heard = Instant::now(),
                Ok(None) => break "the engine closed the link".to_owned(),
                Err(status) => break format!("stream error: {}", status.message()),
            },
            _ = ticker.tick() => {
                if heard.elapsed() > ping_every * 3 {
                    break format!("silent for {:?}", heard.elapsed());
                }
                nonce += 1;
                session.send_now(Out::Ping(pb::Ping { nonce }));
            }
        }
    };
    tracing::info!(engine = %session.engine, reason = %why, "engine link closed");
    session.closed.cancel();
    session.fail_all();
    inner.unregister(&session);
}
