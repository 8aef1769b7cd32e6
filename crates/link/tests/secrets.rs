//! Tokens never reach the logs, even at trace level. Its own test binary: it installs the
//! process-wide tracing subscriber.

#![allow(clippy::unwrap_used)]

#[path = "it/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use flowork_link::LinkState;

use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_is_logged_at_trace_level() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let (gw, engine, _) = linked(4).await;
    let req = http::Request::post("/items")
        .header("authorization", "Bearer user-api-key-123")
        .body(Body::from("x"))
        .unwrap();
    let res = gw
        .hub
        .forward(&ENGINE.into(), req, in_secs(3))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let mut refused = Engine::start(
        engine_config(gw.url(), "wrong-token-456", 4),
        engine_router(Probe::new()),
    );
    refused.wait_state(LinkState::Refused).await;
    refused.stop().await;
    engine.stop().await;
    gw.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("bad credentials"), "the refusal is logged");
    assert!(text.contains("linked to the gateway"), "the link is logged");
    for secret in [TOKEN, "wrong-token-456", "user-api-key-123"] {
        assert!(!text.contains(secret), "{secret} appears in the logs");
    }
}
