//! Who may link: bad credentials are refused, logged and rate-limited.

use std::time::Duration;

use flowork_link::{ENGINE_ID_HEADER, LinkState};
use flowork_proto::v1 as pb;
use flowork_proto::v1::engine_link_client::EngineLinkClient;
use tonic::Code;

use crate::support::*;

/// Opens a raw link the way an engine would, and keeps it open.
pub async fn raw_connect(
    url: &str,
    engine: &str,
    token: &str,
) -> Result<tonic::Streaming<pb::GatewayFrame>, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let hello = pb::EngineFrame {
        frame: Some(pb::engine_frame::Frame::Hello(pb::Hello {
            engine_id: engine.to_owned(),
            engine_version: "test".into(),
            max_concurrency: 4,
        })),
    };
    let frames =
        futures::StreamExt::chain(futures::stream::iter([hello]), futures::stream::pending());
    let mut req = tonic::Request::new(frames);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.metadata_mut()
        .insert(ENGINE_ID_HEADER, engine.parse().unwrap());
    EngineLinkClient::new(channel)
        .connect(req)
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn wrong_tokens_are_refused_then_rate_limited() {
    let gw = Gateway::start(hub_config()).await;
    let url = gw.url();
    for _ in 0..3 {
        let err = raw_connect(&url, ENGINE, "wrong").await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(
            !err.message().contains("wrong"),
            "the token must not be echoed"
        );
    }
    // Out of attempts: refused before the (right) token is even checked.
    let err = raw_connect(&url, ENGINE, TOKEN).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(!gw.hub.is_online(&ENGINE.into()));

    // Another engine behind the same address still gets its token checked.
    let err = raw_connect(&url, "eng_other", "nope").await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    gw.stop().await;
}

#[tokio::test]
async fn an_engine_with_a_bad_token_reports_refused_and_keeps_trying() {
    let gw = Gateway::start(hub_config()).await;
    let mut engine = Engine::start(
        engine_config(gw.url(), "wrong", 4),
        engine_router(Probe::new()),
    );
    engine.wait_state(LinkState::Refused).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!gw.hub.is_online(&ENGINE.into()));
    assert_eq!(*engine.state.borrow(), LinkState::Refused);
    engine.stop().await;
    gw.stop().await;
}

#[tokio::test]
async fn a_right_token_gets_welcome() {
    let gw = Gateway::start(hub_config()).await;
    let mut frames = raw_connect(&gw.url(), ENGINE, TOKEN).await.unwrap();
    let first = frames.message().await.unwrap().unwrap().frame;
    let Some(pb::gateway_frame::Frame::Welcome(w)) = first else {
        panic!("{first:?}")
    };
    assert_eq!(w.gateway_id, "gw-test");
    assert_eq!(w.ping_interval_ms, 200);
    assert!(gw.hub.is_online(&ENGINE.into()));
    gw.stop().await;
}
