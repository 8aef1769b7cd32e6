//! The engine linked to a gateway: a real EngineLink hub on loopback, the engine started as the
//! standalone scheduler starts (no listener at all), a real SQLite store. Covers the token file,
//! the API over the link, `GET /api/v1/webhooks`, delivery dedupe and events up the link.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use flowork_kit::server::{self, Grpc};
use flowork_kit::{CancellationToken, Config, ServiceName};
use flowork_link::{EngineAuth, EngineId, EngineIdentity, Hub, HubConfig, LinkError};
use flowork_scheduler::link::{TOKEN_FILE, read_token_file, write_token_file};
use serde_json::{Value, json};

const ENGINE: &str = "eng_linktest";
const TOKEN: &str = "fke_linktestlinktestlinktestlinktestlinktest1";

struct OneEngine;

#[async_trait]
impl EngineAuth for OneEngine {
    async fn verify(&self, engine: &EngineId, token: &str) -> Result<EngineIdentity, LinkError> {
        if engine.as_str() == ENGINE && token == TOKEN {
            Ok(EngineIdentity {
                engine: engine.clone(),
                owner: None,
            })
        } else {
            Err(LinkError::Unauthenticated)
        }
    }
}

/// A hub on loopback (served by kit, as the gateway serves it) and an engine linked to it.
struct Linked {
    hub: Hub,
    _dir: tempfile::TempDir,
    stop: CancellationToken,
    engine: tokio::task::JoinHandle<Result<(), flowork_kit::entry::BoxError>>,
}

/// A hub served by kit on loopback, as the gateway serves it; its URL.
async fn hub(stop: &CancellationToken) -> (Hub, String) {
    let hub = Hub::new(HubConfig::default(), OneEngine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = Grpc::new().add_service(hub.service()).into_router();
    tokio::spawn(server::serve(
        ServiceName::Gateway,
        listener,
        router,
        stop.clone(),
    ));
    (hub, url)
}

async fn wait_online(hub: &Hub) {
    let id = EngineId::new(ENGINE);
    tokio::time::timeout(Duration::from_secs(10), async {
        while !hub.is_online(&id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the engine links");
}

async fn linked() -> Linked {
    let stop = CancellationToken::new();
    let (hub, url) = hub(&stop).await;

    let dir = tempfile::tempdir().expect("tempdir");
    write_token_file(&dir.path().join(TOKEN_FILE), TOKEN).expect("token file");
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.scheduler.gateway_url = Some(url);
    cfg.scheduler.engine_id = Some(ENGINE.into());
    // The tests save plain (unsigned) workflows; signed saves have tests/versions.rs.
    cfg.versions.require_signed = Some(false);
    assert!(!cfg.opens_port(ServiceName::Scheduler));
    let engine = tokio::spawn(flowork_scheduler::start(Arc::new(cfg), None, stop.clone()));
    wait_online(&hub).await;
    Linked {
        hub,
        _dir: dir,
        stop,
        engine,
    }
}

impl Linked {
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let req = req.body(body).expect("request");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let res = self
            .hub
            .forward(&EngineId::new(ENGINE), req, deadline)
            .await
            .expect("forwarded");
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn workflow(&self, name: &str, path: &str, extra: Value) -> String {
        let mut params = json!({"path": path});
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        let doc = json!({"name": name, "nodes": [
            {"id": "hook", "type": "trigger.webhook", "params": params},
            {"id": "echo", "type": "core.set", "params": {"value": ".input.body"}}],
          "edges": [{"from": "hook", "to": "echo"}]});
        let (code, wf) = self.call("POST", "/api/v1/workflows", &[], Some(doc)).await;
        assert_eq!(code, 201, "{wf}");
        let id = wf["id"].as_str().expect("id").to_owned();
        let (code, _) = self
            .call(
                "POST",
                &format!("/api/v1/workflows/{id}/activate"),
                &[],
                None,
            )
            .await;
        assert_eq!(code, 200);
        id
    }

    async fn stop(self) {
        self.stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(10), self.engine)
            .await
            .expect("the engine stops")
            .expect("join");
        assert!(ended.is_ok(), "{ended:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_serves_its_api_over_the_link_and_lists_its_webhooks() {
    let link = linked().await;
    let (code, list) = link.call("GET", "/api/v1/webhooks", &[], None).await;
    assert_eq!((code, &list), (200, &json!({"items": []})));
    let orders = link
        .workflow("orders", "/orders/new/", json!({"respond": "last_node"}))
        .await;
    let any = link.workflow("any", "ping", json!({"method": "ANY"})).await;
    let (code, list) = link.call("GET", "/api/v1/webhooks", &[], None).await;
    assert_eq!(code, 200);
    assert_eq!(
        list,
        json!({"items": [
            {"path": "orders/new", "method": "POST", "respond": "last_node", "workflow_id": orders},
            {"path": "ping", "method": null, "respond": "immediately", "workflow_id": any},
        ]})
    );
    let (code, _) = link
        .call(
            "POST",
            &format!("/api/v1/workflows/{any}/deactivate"),
            &[],
            None,
        )
        .await;
    assert_eq!(code, 200);
    let (_, list) = link.call("GET", "/api/v1/webhooks", &[], None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    link.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_seen_before_does_not_start_the_workflow_again() {
    let link = linked().await;
    let wf = link.workflow("hook", "paid", json!({})).await;
    let mut events = link.hub.events(&EngineId::new(ENGINE));
    let first = [("x-flowork-delivery-id", "dlv_1")];
    let (code, a) = link
        .call("POST", "/webhook/paid", &first, Some(json!({"n": 1})))
        .await;
    assert_eq!(code, 202, "{a}");
    let exec = a["execution_id"].as_str().expect("execution id").to_owned();
    let (code, b) = link
        .call("POST", "/webhook/paid", &first, Some(json!({"n": 1})))
        .await;
    assert_eq!(code, 202, "{b}");
    assert_eq!(b, json!({"duplicate": true, "execution_id": exec}));
    let (code, c) = link
        .call(
            "POST",
            "/webhook/paid",
            &[("x-flowork-delivery-id", "dlv_2")],
            Some(json!({"n": 2})),
        )
        .await;
    assert_eq!(code, 202);
    assert_ne!(c["execution_id"], a["execution_id"], "a new delivery runs");
    let (code, _) = link.call("POST", "/webhook/paid", &[], None).await;
    assert_eq!(code, 202, "no delivery id: no dedupe");

    // A delivery whose request failed is not remembered, so its retry runs.
    let lost = [("x-flowork-delivery-id", "dlv_3")];
    let (code, _) = link.call("POST", "/webhook/nowhere", &lost, None).await;
    assert_eq!(code, 404);
    let (code, d) = link.call("POST", "/webhook/paid", &lost, None).await;
    assert_eq!(code, 202);
    assert!(d.get("duplicate").is_none(), "{d}");

    // A delivery another request is still serving: come back later, it may yet fail.
    let db = format!("sqlite://{}", link._dir.path().join("flowork.db").display());
    let store = flowork_storage::connect(&db, 1)
        .await
        .expect("the engine's store");
    let busy = br#"{"execution_id":null,"done":false}"#.to_vec();
    store
        .kv_put(
            flowork_scheduler::deliveries::NAMESPACE,
            "dlv_busy",
            busy,
            flowork_storage::Expect::Absent,
        )
        .await
        .expect("claim");
    let (code, later) = link
        .call(
            "POST",
            "/webhook/paid",
            &[("x-flowork-delivery-id", "dlv_busy")],
            None,
        )
        .await;
    assert_eq!(code, 503, "{later}");

    let (code, bad) = link
        .call(
            "POST",
            "/webhook/paid",
            &[("x-flowork-delivery-id", "")],
            None,
        )
        .await;
    assert_eq!(code, 400, "{bad}");

    let (code, runs) = link
        .call(
            "GET",
            &format!("/api/v1/executions?workflow_id={wf}"),
            &[],
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(runs.as_array().map(Vec::len), Some(4), "{runs}");

    // The engine's execution events come up the link while it is linked.
    let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event in time")
        .expect("an event");
    assert_eq!(ev.workflow_id, wf);
    assert!(
        ["node_started", "node_finished", "execution_finished"].contains(&ev.kind.as_str()),
        "{ev:?}"
    );
    link.stop().await;
}

#[test]
fn the_token_file_must_be_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(TOKEN_FILE);
    assert!(read_token_file(&path).expect("absent is fine").is_none());
    write_token_file(&path, TOKEN).expect("write");
    assert_eq!(
        read_token_file(&path)
            .expect("read")
            .as_deref()
            .map(String::as_str),
        Some(TOKEN)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = read_token_file(&path)
            .expect_err("a readable token is refused")
            .to_string();
        assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
        assert!(
            !err.contains(TOKEN),
            "the error never shows the token: {err}"
        );
    }
    std::fs::write(&path, "\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    assert!(read_token_file(&path).is_err(), "an empty token is refused");
}

#[tokio::test]
async fn a_linked_engine_without_a_token_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.scheduler.gateway_url = Some("http://127.0.0.1:9".into());
    cfg.scheduler.engine_id = Some(ENGINE.into());
    if std::env::var_os(flowork_scheduler::link::ENGINE_TOKEN_ENV).is_some() {
        return; // the environment supplies one
    }
    let err = flowork_scheduler::start(Arc::new(cfg), None, CancellationToken::new())
        .await
        .expect_err("no token");
    assert!(err.to_string().contains("FLOWORK_ENGINE_TOKEN"), "{err}");
}

/// The `flowork-scheduler` binary with a gateway and no `listen`: it links and listens nowhere.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_binary_links_and_opens_no_port() {
    let stop = CancellationToken::new();
    let (hub, url) = hub(&stop).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flowork-scheduler"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLOWORK_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .args(["--data-dir", dir.path().to_str().expect("utf8")])
        .env("RUST_LOG", "warn")
        .env("FLOWORK_SCHEDULER__GATEWAY_URL", &url)
        .env("FLOWORK_SCHEDULER__ENGINE_ID", ENGINE)
        .env("FLOWORK_ENGINE_TOKEN", TOKEN)
        .spawn()
        .expect("spawn flowork-scheduler");
    wait_online(&hub).await;
    let sockets = flowork_testkit::procfs::sockets(child.id()).expect("/proc");
    let _ = child.kill();
    let _ = child.wait();
    assert!(!sockets.held.is_empty(), "it holds its link socket");
    assert!(
        sockets.listening.is_empty(),
        "flowork-scheduler listens on a port"
    );
    stop.cancel();
}

#[tokio::test]
async fn an_engine_whose_store_service_is_down_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_token_file(&dir.path().join(TOKEN_FILE), TOKEN).expect("token file");
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    cfg.scheduler.gateway_url = Some("http://127.0.0.1:9".into());
    cfg.scheduler.engine_id = Some(ENGINE.into());
    cfg.scheduler.store_url = Some("http://127.0.0.1:9".into());
    let err = flowork_scheduler::start(Arc::new(cfg), None, CancellationToken::new())
        .await
        .expect_err("no store service");
    assert!(err.to_string().contains("scheduler.store_url"), "{err}");
    assert!(
        !dir.path().join("flowork.db").exists(),
        "with a store_url the engine never opens a database of its own"
    );
}
