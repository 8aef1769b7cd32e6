//! Flow control: a reader that stops reading holds up its own stream, never the link.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use flowork_link::WINDOW;
use futures::StreamExt;

use crate::support::*;

/// Sends and answers /hello a few times; each must be quick.
async fn link_still_answers(gw: &Gateway) {
    for _ in 0..5 {
        let res = tokio::time::timeout(Duration::from_secs(1), gw.get("/hello"))
            .await
            .expect("the link is stalled")
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn an_unread_download_stops_at_the_window_and_blocks_nothing_else() {
    let (gw, engine, probe) = linked(8).await;
    let res = gw.get("/big/16").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    link_still_answers(&gw).await;
    let produced = probe.produced.load(Ordering::SeqCst);
    // The window, plus what the engine's pump holds while it waits for credit.
    assert!(
        produced <= WINDOW + 256 * 1024,
        "produced {produced} bytes unread"
    );

    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body.len(), 16 << 20);
    assert_eq!(probe.produced.load(Ordering::SeqCst), 16 << 20);
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn an_unread_upload_stops_at_the_window_and_blocks_nothing_else() {
    let (gw, engine, probe) = linked(8).await;
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let upload = futures::stream::iter(0..256).map(move |_| {
        counter.fetch_add(64 * 1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 64 * 1024]))
    });
    let req = http::Request::post("/hold")
        .body(Body::from_stream(upload))
        .unwrap();
    let hub = gw.hub.clone();
    let call = tokio::spawn(async move { hub.forward(&ENGINE.into(), req, in_secs(10)).await });
    tokio::time::timeout(Duration::from_secs(2), probe.started.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();
    tokio::time::sleep(Duration::from_millis(300)).await;
    link_still_answers(&gw).await;
    let taken = sent.load(Ordering::SeqCst);
    assert!(
        taken <= WINDOW + 256 * 1024,
        "took {taken} bytes nobody reads"
    );

    // Giving up on it cancels the handler (and with it the pump).
    let dropped = probe.dropped_notify.notified();
    call.abort();
    tokio::time::timeout(Duration::from_secs(2), dropped)
        .await
        .expect("handler kept running");
    engine.stop().await;
    gw.stop().await;
}
