//! Bodies over the link: chunking and per-stream flow control (the proto's `WindowUpdate`).
//!
//! The frame reader on either side never waits on one stream's consumer: a peer may have at most
//! [`WINDOW`] bytes of a stream unacknowledged, so the reader queues chunks without blocking and
//! the consumer grants bytes back as it reads. A slow client thus stalls its own stream only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use bytes::Bytes;
use flowork_proto::v1 as pb;
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};

use crate::{CHUNK_SIZE, LinkError, WINDOW};

/// Grant bytes back once this many were read, not per chunk, to spare frames.
const ACK_EVERY: usize = WINDOW / 4;

/// Body bytes we may still send on one stream; the peer's `WindowUpdate`s refill it.
#[derive(Clone)]
pub(crate) struct Credit(Arc<Semaphore>);

impl Credit {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Semaphore::new(WINDOW)))
    }

    /// Adds bytes the peer granted back (capped: a confused peer must not overflow the count).
    pub(crate) fn grant(&self, bytes: u32) {
        let room = (WINDOW * 2).saturating_sub(self.0.available_permits());
        self.0.add_permits((bytes as usize).min(room));
    }

    async fn take(&self, bytes: usize) -> bool {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        match self.0.acquire_many(n).await {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        }
    }
}

/// Streams `body` as chunks of stream `stream_id`, never more than the credit allows ahead.
pub(crate) async fn pump<F>(
    body: Body,
    stream_id: u64,
    credit: Credit,
    out: mpsc::Sender<F>,
    frame: fn(pb::BodyChunk) -> F,
) -> Result<(), LinkError> {
    let mut data = body.into_data_stream();
    while let Some(next) = data.next().await {
        let bytes = next.map_err(|e| LinkError::Body(e.to_string()))?;
        for piece in bytes.chunks(CHUNK_SIZE) {
            if !credit.take(piece.len()).await {
                return Err(LinkError::Disconnected);
            }
            let chunk = pb::BodyChunk {
                stream_id,
                data: piece.to_vec(),
                end: false,
            };
            out.send(frame(chunk))
                .await
                .map_err(|_| LinkError::Disconnected)?;
        }
    }
    let end = pb::BodyChunk {
        stream_id,
        data: Vec::new(),
        end: true,
    };
    out.send(frame(end))
        .await
        .map_err(|_| LinkError::Disconnected)
}

/// The frame reader's end of a received body.
pub(crate) struct Inbox {
    tx: mpsc::UnboundedSender<Result<Bytes, LinkError>>,
    held: Arc<AtomicUsize>,
}

impl Inbox {
    /// Queues a chunk. Fails if the peer overran the window, or with `Disconnected` if the body
    /// was dropped (the reader no longer wants it).
    pub(crate) fn push(&self, data: Vec<u8>) -> Result<(), LinkError> {
        let held = self.held.fetch_add(data.len(), Ordering::AcqRel) + data.len();
        if held > WINDOW {
            return Err(LinkError::Protocol("peer overran the stream window".into()));
        }
        self.tx
            .send(Ok(Bytes::from(data)))
            .map_err(|_| LinkError::Disconnected)
    }

    /// Ends the body with an error, so the reader cannot mistake it for a complete one.
    pub(crate) fn fail(&self, e: LinkError) {
        let _ = self.tx.send(Err(e));
    }
}

struct Reading<F, G> {
    rx: mpsc::UnboundedReceiver<Result<Bytes, LinkError>>,
    held: Arc<AtomicUsize>,
    unacked: usize,
    stream_id: u64,
    out: mpsc::Sender<F>,
    frame: fn(pb::WindowUpdate) -> F,
    // Dropped with the body: the gateway's stream guard lives here.
    _guard: G,
}

/// A body fed by the returned [`Inbox`]; reading it grants window back to the peer.
/// Dropping the [`Inbox`] without `fail` ends the body normally; `guard` is dropped with the body.
pub(crate) fn inbox<F, G>(
    stream_id: u64,
    out: mpsc::Sender<F>,
    frame: fn(pb::WindowUpdate) -> F,
    guard: G,
) -> (Inbox, Body)
where
    F: Send + 'static,
    G: Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let held = Arc::new(AtomicUsize::new(0));
    let state = Reading {
        rx,
        held: held.clone(),
        unacked: 0,
        stream_id,
        out,
        frame,
        _guard: guard,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        match s.rx.recv().await {
            Some(Ok(bytes)) => {
                s.held.fetch_sub(bytes.len(), Ordering::AcqRel);
                s.unacked += bytes.len();
                if s.unacked >= ACK_EVERY {
                    let bytes = u32::try_from(s.unacked).unwrap_or(u32::MAX);
                    let update = pb::WindowUpdate {
                        stream_id: s.stream_id,
                        bytes,
                    };
                    // A closed link fails the body through `fail` or the dropped sender.
                    let _ = s.out.send((s.frame)(update)).await;
                    s.unacked = 0;
                }
                Some((Ok(bytes), s))
            }
            Some(Err(e)) => Some((Err(e), s)),
            None => None,
        }
    });
    (Inbox { tx, held }, Body::from_stream(stream))
}
