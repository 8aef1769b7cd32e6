//! The link's life: presence, replacement, liveness, reconnecting after a gateway restart.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowork_link::{LinkState, Presence};
use flowork_proto::v1 as pb;
use flowork_proto::v1::engine_link_server::{EngineLink, EngineLinkServer};
use futures::Stream;
use tokio::net::TcpListener;

use crate::auth::raw_connect;
use crate::support::*;

async fn next_presence(rx: &mut tokio::sync::broadcast::Receiver<Presence>) -> Presence {
    tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .expect("no presence")
        .unwrap()
}

#[tokio::test]
async fn the_engine_relinks_after_a_gateway_restart() {
    let (gw, mut engine, _) = linked(8).await;
    let addr = gw.addr;
    gw.stop().await;
    engine.wait_state(LinkState::Disconnected).await;

    let gw = Gateway::start_on(addr, hub_config()).await;
    let mut presence = gw.hub.presence();
    engine.wait_state(LinkState::Connected).await;
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );
    let res = gw.get("/hello").await.unwrap();
    assert_eq!(text(res).await, "hello ");
    engine.stop().await;
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Disconnected(ENGINE.into())
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_newer_link_replaces_the_older_one() {
    let gw = Gateway::start(hub_config()).await;
    let mut presence = gw.hub.presence();
    let mut first = raw_connect(&gw.url(), ENGINE, TOKEN).await.unwrap();
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );
    let second = raw_connect(&gw.url(), ENGINE, TOKEN).await.unwrap();
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );

    // The old stream ends (after its Welcome); the engine stays online through the new one.
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = first.message().await {}
    });
    ended.await.expect("the replaced link was not closed");
    assert!(gw.hub.is_online(&ENGINE.into()));
    assert!(
        presence.try_recv().is_err(),
        "no Disconnected for a replaced link"
    );

    drop(second);
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Disconnected(ENGINE.into())
    );
    assert!(!gw.hub.is_online(&ENGINE.into()));
    gw.stop().await;
}

#[tokio::test]
async fn the_hub_drops_a_silent_engine() {
    let gw = Gateway::start(hub_config()).await;
    let mut presence = gw.hub.presence();
    // Says Hello, then never another word (not even Pong).
    let _silent = raw_connect(&gw.url(), ENGINE, TOKEN).await.unwrap();
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );
    let started = tokio::time::Instant::now();
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Disconnected(ENGINE.into())
    );
    // Three 200 ms ping intervals, give or take a tick.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    gw.stop().await;
}

/// A gateway that welcomes engines and then says nothing more.
#[derive(Clone, Default)]
struct SilentGateway {
    connects: Arc<AtomicUsize>,
}

type Frames = Pin<Box<dyn Stream<Item = Result<pb::GatewayFrame, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl EngineLink for SilentGateway {
    type ConnectStream = Frames;

    async fn connect(
        &self,
        _req: tonic::Request<tonic::Streaming<pb::EngineFrame>>,
    ) -> Result<tonic::Response<Frames>, tonic::Status> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        let welcome = pb::GatewayFrame {
            frame: Some(pb::gateway_frame::Frame::Welcome(pb::Welcome {
                gateway_id: "silent".into(),
                ping_interval_ms: 100,
            })),
        };
        let frames = futures::StreamExt::chain(
            futures::stream::iter([Ok(welcome)]),
            futures::stream::pending(),
        );
        Ok(tonic::Response::new(Box::pin(frames)))
    }
}

#[tokio::test]
async fn the_engine_drops_a_silent_gateway_and_redials() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let silent = SilentGateway::default();
    let server = tonic::transport::Server::builder()
        .add_service(EngineLinkServer::new(silent.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    let server = tokio::spawn(server);

    let engine = Engine::start(engine_config(url, TOKEN, 4), engine_router(Probe::new()));
    let redialed = tokio::time::timeout(Duration::from_secs(3), async {
        while silent.connects.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    redialed.await.expect("the engine kept a silent link");
    engine.stop().await;
    server.abort();
}

/// A TCP relay in front of the gateway whose connections can be cut, like a network blip.
struct Relay {
    url: String,
    conns: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let conns = Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                tracked.lock().unwrap().spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        Self { url, conns, accept }
    }

    /// Drops every relayed connection at once: both ends see the TCP stream die.
    fn cut(&self) {
        self.conns.lock().unwrap().abort_all();
    }
}

#[tokio::test]
async fn a_cut_connection_is_noticed_by_both_sides_and_relinked() {
    let gw = Gateway::start(hub_config()).await;
    let relay = Relay::start(gw.addr).await;
    let mut presence = gw.hub.presence();
    let mut engine = Engine::start(
        engine_config(relay.url.clone(), TOKEN, 4),
        engine_router(Probe::new()),
    );
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );

    relay.cut();
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Disconnected(ENGINE.into())
    );
    assert_eq!(
        next_presence(&mut presence).await,
        Presence::Connected(ENGINE.into())
    );
    engine.wait_state(LinkState::Connected).await;
    let res = gw.get("/hello").await.unwrap();
    assert_eq!(res.status(), 200);

    engine.stop().await;
    relay.accept.abort();
    gw.stop().await;
}
