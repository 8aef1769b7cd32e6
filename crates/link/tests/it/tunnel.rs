//! Requests through the tunnel: heads, bodies, concurrency, limits, deadlines.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use flowork_link::{EngineId, LinkError};
use futures::StreamExt;
use tokio::time::Instant;

use crate::support::*;

#[tokio::test]
async fn get_and_post_round_trip_with_headers_and_status() {
    let (gw, engine, _) = linked(8).await;

    let req = http::Request::get("/hello?name=ada")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let res = gw
        .hub
        .forward(&ENGINE.into(), req, in_secs(3))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-echo-request-id"], "req-42");
    assert_eq!(res.headers()["x-engine"], ENGINE);
    assert_eq!(text(res).await, "hello name=ada");

    let req = http::Request::post("/items")
        .header("content-type", "text/plain")
        .body(Body::from("a new item"))
        .unwrap();
    let res = gw
        .hub
        .forward(&ENGINE.into(), req, in_secs(3))
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(text(res).await, "text/plain A NEW ITEM");

    let res = gw.get("/teapot").await.unwrap();
    assert_eq!(res.status(), 418);
    assert_eq!(text(res).await, "");
    let res = gw.get("/nowhere").await.unwrap();
    assert_eq!(res.status(), 404);

    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn two_hundred_requests_share_the_link_at_once() {
    let (gw, engine, _) = linked(256).await;
    let started = Instant::now();
    let calls = (0..200u64).map(|i| {
        let hub = gw.hub.clone();
        async move {
            let req = http::Request::get(format!("/slow/{}", 100 + i % 5))
                .body(Body::empty())
                .unwrap();
            let res = hub.forward(&ENGINE.into(), req, in_secs(4)).await.unwrap();
            (i, text(res).await)
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (i, body) in answers {
        assert_eq!(
            body,
            format!("slept {}", 100 + i % 5),
            "answer {i} crossed with another"
        );
    }
    // 200 sequential calls would take 20 s; multiplexed they overlap.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn an_unknown_engine_is_offline_at_once() {
    let gw = Gateway::start(hub_config()).await;
    let started = Instant::now();
    let req = http::Request::get("/hello").body(Body::empty()).unwrap();
    let err = gw
        .hub
        .forward(&EngineId::new("eng_nobody"), req, in_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::Offline(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(err.to_problem().status, 503);
    gw.stop().await;
}

#[tokio::test]
async fn a_saturated_engine_refuses_at_once_and_recovers() {
    let (gw, engine, probe) = linked(2).await;
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            let hub = gw.hub.clone();
            tokio::spawn(async move {
                let req = http::Request::get("/block").body(Body::empty()).unwrap();
                text(hub.forward(&ENGINE.into(), req, in_secs(4)).await.unwrap()).await
            })
        })
        .collect();
    let both = tokio::time::timeout(Duration::from_secs(2), probe.started.acquire_many(2));
    both.await.unwrap().unwrap().forget();

    let started = Instant::now();
    let err = gw.get("/hello").await.unwrap_err();
    assert!(matches!(err, LinkError::Saturated(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "queued instead of refused"
    );

    probe.release.notify_waiters();
    for b in blocked {
        assert_eq!(b.await.unwrap(), "released");
    }
    let res = gw.get("/hello").await.unwrap();
    assert_eq!(res.status(), 200, "permits come back once answers are read");
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn a_deadline_times_out_and_cancels_the_handler() {
    let (gw, engine, probe) = linked(8).await;
    let started = Instant::now();
    let req = http::Request::get("/hang").body(Body::empty()).unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    let err = gw
        .hub
        .forward(&ENGINE.into(), req, deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(600));
    assert_eq!(err.to_problem().status, 504);

    let dropped = probe.dropped_notify.notified();
    if probe.dropped.load(Ordering::SeqCst) == 0 {
        tokio::time::timeout(Duration::from_secs(2), dropped)
            .await
            .expect("the engine never dropped the handler");
    }
    assert_eq!(probe.dropped.load(Ordering::SeqCst), 1);
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn dropping_the_response_future_cancels_the_handler() {
    let (gw, engine, probe) = linked(8).await;
    let hub = gw.hub.clone();
    let call = tokio::spawn(async move {
        let req = http::Request::get("/hang").body(Body::empty()).unwrap();
        hub.forward(&ENGINE.into(), req, in_secs(10)).await
    });
    tokio::time::timeout(Duration::from_secs(2), probe.started.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();
    let dropped = probe.dropped_notify.notified();
    call.abort();
    tokio::time::timeout(Duration::from_secs(2), dropped)
        .await
        .expect("the engine never dropped the handler");
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn an_engine_going_away_mid_request_fails_it_promptly() {
    let (gw, engine, probe) = linked(8).await;
    let hub = gw.hub.clone();
    let call = tokio::spawn(async move {
        let req = http::Request::get("/hang").body(Body::empty()).unwrap();
        hub.forward(&ENGINE.into(), req, in_secs(10)).await
    });
    tokio::time::timeout(Duration::from_secs(2), probe.started.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();
    let started = Instant::now();
    engine.stop().await;
    let err = tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .expect("forward hung after the engine left")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, LinkError::Disconnected), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!gw.hub.is_online(&ENGINE.into()));
    gw.stop().await;
}

#[tokio::test]
async fn execution_events_reach_subscribers() {
    let (gw, engine, _) = linked(8).await;
    let mut events = gw.hub.events(&ENGINE.into());
    let sent = flowork_link::ExecutionEvent {
        execution_id: "ex_1".into(),
        workflow_id: "wf_1".into(),
        kind: "node_finished".into(),
        node_id: Some("n1".into()),
        data_json: br#"{"ok":true}"#.to_vec(),
        at_unix_ms: 1_700_000_000_000,
    };
    assert!(engine.events.send(sent.clone()));
    let got = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .expect("no event")
        .unwrap();
    assert_eq!(got, sent);
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn a_handler_that_panics_fails_fast_and_the_link_survives() {
    let (gw, engine, _) = linked(8).await;
    let started = Instant::now();
    let err = gw.get("/panic").await.unwrap_err();
    assert!(matches!(err, LinkError::Engine(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited for the deadline"
    );
    assert_eq!(err.to_problem().status, 502);
    let res = gw.get("/hello").await.unwrap();
    assert_eq!(res.status(), 200);
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn an_upload_that_breaks_off_fails_and_cancels_the_handler() {
    let (gw, engine, probe) = linked(8).await;
    let parts = futures::stream::iter(0..3).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if i < 2 {
            Ok(bytes::Bytes::from_static(b"part"))
        } else {
            Err(std::io::Error::other("client went away"))
        }
    });
    let dropped = probe.dropped_notify.notified();
    let req = http::Request::post("/hold")
        .body(Body::from_stream(parts))
        .unwrap();
    let err = gw
        .hub
        .forward(&ENGINE.into(), req, in_secs(4))
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::Body(_)), "{err:?}");
    assert_eq!(err.to_problem().status, 400);
    tokio::time::timeout(Duration::from_secs(2), dropped)
        .await
        .expect("the handler kept running");
    engine.stop().await;
    gw.stop().await;
}
