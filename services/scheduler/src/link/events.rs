//! Execution events up the link, for the gateway's live views.
//!
//! The engine only builds events while someone subscribes, so the forwarder subscribes only
//! while the link is up: an engine whose gateway is away pays nothing for them, and events
//! from while it was away would be stale anyway (the execution record is in the store).

use flowork_link::{EventSender, ExecutionEvent, LinkState};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::events::Event;

/// Forwards events while the link is connected, until the link stops.
pub(super) fn spawn_forwarder(
    engine: Engine,
    sender: EventSender,
    mut state: watch::Receiver<LinkState>,
) {
    tokio::spawn(async move {
        loop {
            // Wait for the link to come up (or stop for good).
            let up = state
                .wait_for(|s| matches!(s, LinkState::Connected | LinkState::Stopped))
                .await
                .map(|s| *s == LinkState::Connected);
            if !matches!(up, Ok(true)) {
                return;
            }
            let mut events = engine.events();
            loop {
                tokio::select! {
                    got = events.recv() => match got {
                        Ok(ev) => {
                            // A full link queue drops the event: live views are best effort.
                            let _ = sender.send(frame(ev));
                        }
                        Err(RecvError::Lagged(n)) => {
                            tracing::debug!(missed = n, "execution events dropped: the link is slower than the engine");
                        }
                        Err(RecvError::Closed) => return,
                    },
                    changed = state.changed() => {
                        if changed.is_err() || *state.borrow() != LinkState::Connected {
                            break;
                        }
                    }
                }
            }
        }
    });
}

/// The wire form of an event.
fn frame(ev: Event) -> ExecutionEvent {
    ExecutionEvent {
        execution_id: ev.execution_id.to_string(),
        workflow_id: ev.workflow_id.to_string(),
        kind: ev.kind.as_str().to_owned(),
        node_id: ev.node_id,
        data_json: serde_json::to_vec(&ev.data).unwrap_or_default(),
        at_unix_ms: ev.at.millis(),
    }
}
