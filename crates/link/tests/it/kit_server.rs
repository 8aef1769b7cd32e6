//! The hub served the way the gateway serves it: inside kit's axum router, next to REST.

use std::time::Duration;

use flowork_kit::server::{Grpc, serve};
use flowork_kit::{CancellationToken, ServiceName};
use flowork_link::{Hub, LinkState};
use tokio::net::TcpListener;
use tonic::Code;

use crate::auth::raw_connect;
use crate::support::*;

#[tokio::test]
async fn the_hub_works_inside_the_kit_router_and_limits_by_peer_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = hub_config();
    config.auth_failures_per_minute = 1;
    let hub = Hub::new(config, Tokens::one());
    let router = Grpc::new().add_service(hub.service()).into_router();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        ServiceName::Gateway,
        listener,
        router,
        shutdown.clone(),
    ));

    let probe = Probe::new();
    let mut engine = Engine::start(engine_config(url.clone(), TOKEN, 4), engine_router(probe));
    engine.wait_state(LinkState::Connected).await;
    let req = http::Request::get("/hello?via=kit")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = hub.forward(&ENGINE.into(), req, in_secs(3)).await.unwrap();
    assert_eq!(text(res).await, "hello via=kit");

    // Four failures from one address, each for another id: the address itself is now blocked,
    // which only works if the hub found the peer address in axum's ConnectInfo.
    for i in 0..4 {
        let err = raw_connect(&url, &format!("eng_spray{i}"), "nope")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = raw_connect(&url, "eng_fresh", "nope").await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);

    hub.close();
    engine.stop().await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
