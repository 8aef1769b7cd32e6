//! A real gateway (tonic server on 127.0.0.1:0 with a Hub) and a real engine (LinkClient with a
//! small Router) for the link tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use flowork_kit::CancellationToken;
use flowork_link::{
    EngineAuth, EngineId, EngineIdentity, EventSender, Hub, HubConfig, LinkClient,
    LinkClientConfig, LinkError, LinkState,
};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

pub const ENGINE: &str = "eng_1";
pub const TOKEN: &str = "s3cret-token";

/// Engines and their tokens.
pub struct Tokens(pub HashMap<String, String>);

impl Tokens {
    pub fn one() -> Self {
        Self(HashMap::from([(ENGINE.to_owned(), TOKEN.to_owned())]))
    }
}

#[async_trait]
impl EngineAuth for Tokens {
    async fn verify(&self, engine: &EngineId, token: &str) -> Result<EngineIdentity, LinkError> {
        match self.0.get(engine.as_str()) {
            Some(t) if t == token => Ok(EngineIdentity {
                engine: engine.clone(),
                owner: None,
            }),
            _ => Err(LinkError::Unauthenticated),
        }
    }
}

/// Short pings so liveness tests stay fast.
pub fn hub_config() -> HubConfig {
    HubConfig {
        gateway_id: "gw-test".into(),
        ping_interval: Duration::from_millis(200),
        max_concurrency: 512,
        hello_timeout: Duration::from_secs(2),
        auth_failures_per_minute: 3,
    }
}

pub struct Gateway {
    pub hub: Hub,
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Gateway {
    pub async fn start(config: HubConfig) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: HubConfig) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = Hub::new(config, Tokens::one());
        let stop = CancellationToken::new();
        let server = tonic::transport::Server::builder()
            .add_service(hub.service())
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                stop.clone().cancelled_owned(),
            );
        let task = tokio::spawn(async move {
            server.await.unwrap();
        });
        Self {
            hub,
            addr,
            stop,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes every link and stops serving (the port is free afterwards).
    pub async fn stop(self) {
        self.hub.close();
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .unwrap()
            .unwrap();
    }

    pub async fn wait_online(&self, engine: &str) {
        let id = EngineId::new(engine);
        tokio::time::timeout(Duration::from_secs(3), async {
            while !self.hub.is_online(&id) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("engine never came online");
    }

    pub async fn get(&self, path: &str) -> Result<http::Response<Body>, LinkError> {
        let req = http::Request::get(path).body(Body::empty()).unwrap();
        self.hub.forward(&ENGINE.into(), req, in_secs(3)).await
    }
}

pub fn in_secs(s: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(s)
}

pub async fn text(res: http::Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// What the engine's handlers saw.
#[derive(Clone)]
pub struct Probe {
    /// Requests that reached /block or /hang.
    pub started: Arc<Semaphore>,
    /// Lets every /block request finish.
    pub release: Arc<Notify>,
    /// Handlers dropped before they finished (cancelled).
    pub dropped: Arc<AtomicUsize>,
    pub dropped_notify: Arc<Notify>,
    /// Body chunks the /echo handler received.
    pub chunks: Arc<AtomicUsize>,
    /// Bytes the /big handler's body has produced so far.
    pub produced: Arc<AtomicUsize>,
}

impl Probe {
    pub fn new() -> Self {
        Self {
            started: Arc::new(Semaphore::new(0)),
            release: Arc::default(),
            dropped: Arc::default(),
            dropped_notify: Arc::default(),
            chunks: Arc::default(),
            produced: Arc::default(),
        }
    }
}

/// Counts a handler dropped before it finished.
struct DropSignal(Probe, bool);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
            self.0.dropped_notify.notify_waiters();
        }
    }
}

/// The "engine API": a few routes exercising heads, bodies, slowness and cancellation.
pub fn engine_router(probe: Probe) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/items", post(create_item))
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route("/slow/{ms}", get(slow))
        .route("/block", get(block))
        .route("/hang", get(hang))
        .route("/echo", post(echo))
        .route("/big/{mib}", get(big))
        .route("/hold", post(hold))
        .route("/panic", get(panics))
        .with_state(probe)
}

async fn hello(RawQuery(q): RawQuery, headers: HeaderMap) -> (HeaderMap, String) {
    let mut out = HeaderMap::new();
    if let Some(v) = headers.get("x-request-id") {
        out.insert("x-echo-request-id", v.clone());
    }
    out.insert("x-engine", ENGINE.parse().unwrap());
    (out, format!("hello {}", q.unwrap_or_default()))
}

async fn create_item(headers: HeaderMap, body: String) -> (StatusCode, HeaderMap, String) {
    let mut out = HeaderMap::new();
    out.insert("content-type", "text/plain".parse().unwrap());
    let kind = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        StatusCode::CREATED,
        out,
        format!("{} {}", kind.unwrap_or_default(), body.to_uppercase()),
    )
}

async fn slow(Path(ms): Path<u64>) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms}")
}

async fn block(State(p): State<Probe>) -> &'static str {
    let mut signal = DropSignal(p.clone(), false);
    let released = p.release.notified();
    p.started.add_permits(1);
    released.await;
    signal.1 = true;
    "released"
}

async fn hang(State(p): State<Probe>) -> &'static str {
    let _signal = DropSignal(p.clone(), false);
    p.started.add_permits(1);
    futures::future::pending::<()>().await;
    "never"
}

/// Streams the request body straight back, counting the chunks that arrive.
async fn echo(State(p): State<Probe>, body: Body) -> Body {
    let counted = body.into_data_stream().inspect(move |_| {
        p.chunks.fetch_add(1, Ordering::Relaxed);
    });
    Body::from_stream(counted)
}

/// Streams `mib` MiB, produced only as fast as the link takes it.
async fn big(State(p): State<Probe>, Path(mib): Path<usize>) -> Body {
    let pieces = futures::stream::iter(0..mib * 16).map(move |_| {
        p.produced.fetch_add(64 * 1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; 64 * 1024]))
    });
    Body::from_stream(pieces)
}

/// Holds its request body without reading it, until cancelled.
async fn hold(State(p): State<Probe>, body: Body) -> &'static str {
    let _body = body;
    hang(State(p)).await
}

async fn panics() -> &'static str {
    panic!("handler bug (expected by a test)")
}

pub struct Engine {
    pub state: watch::Receiver<LinkState>,
    pub events: EventSender,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

pub fn engine_config(url: String, token: &str, max_concurrency: u32) -> LinkClientConfig {
    let mut cfg = LinkClientConfig::new(url, ENGINE, token);
    cfg.max_concurrency = max_concurrency;
    cfg.backoff_min = Duration::from_millis(20);
    cfg.backoff_max = Duration::from_millis(200);
    cfg.refused_backoff = Duration::from_millis(300);
    cfg.connect_timeout = Duration::from_secs(2);
    cfg
}

impl Engine {
    pub fn start(config: LinkClientConfig, router: Router) -> Self {
        let client = LinkClient::new(config, router);
        let state = client.state();
        let events = client.events();
        let stop = CancellationToken::new();
        let task = tokio::spawn(client.run(stop.clone()));
        Self {
            state,
            events,
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .unwrap()
            .unwrap();
    }

    pub async fn wait_state(&mut self, want: LinkState) {
        tokio::time::timeout(Duration::from_secs(4), self.state.wait_for(|s| *s == want))
            .await
            .expect("state never reached")
            .unwrap();
    }
}

/// A gateway with one linked engine serving `engine_router(probe)`.
pub async fn linked(max_concurrency: u32) -> (Gateway, Engine, Probe) {
    let gw = Gateway::start(hub_config()).await;
    let probe = Probe::new();
    let engine = Engine::start(
        engine_config(gw.url(), TOKEN, max_concurrency),
        engine_router(probe.clone()),
    );
    gw.wait_online(ENGINE).await;
    (gw, engine, probe)
}
