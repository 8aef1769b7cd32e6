//! The README's curl session, through a real `flowork up`: the local engine is registered once,
//! links to the gateway, and a workflow created through the gateway runs from a public webhook.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowork_cli::up::{Stack, launch};
use flowork_gateway::AdminBootstrap;
use flowork_kit::{CancellationToken, Config, ServiceName};
use serde_json::{Value, json};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The scheduler's health entry for its link (`flowork_scheduler::link::LINK_HEALTH`).
const LINK_HEALTH: &str = "flowork.v1.EngineLink";

fn config(data_dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    cfg.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Waits until `check` holds, polling.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The scheduler's grpc health for the link (`flowork.v1.EngineLink`).
async fn link_health(stack: &Stack) -> Option<ServingStatus> {
    let (_, addr) = stack
        .services
        .iter()
        .find(|(n, _)| *n == ServiceName::Scheduler)?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let mut client = HealthClient::new(channel);
    let req = HealthCheckRequest {
        service: LINK_HEALTH.into(),
    };
    let res = client.check(req).await.ok()?;
    Some(res.into_inner().status())
}

async fn stop(stack: Stack, token: CancellationToken) {
    token.cancel();
    let code = tokio::time::timeout(Duration::from_secs(10), stack.wait())
        .await
        .expect("stops");
    assert_eq!(code, ExitCode::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_engine_is_registered_once_links_and_runs_webhooks_through_the_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Arc::new(config(dir.path()));
    let http = reqwest::Client::new();
    let token = CancellationToken::new();
    let stack = launch(cfg.clone(), token.clone()).await.expect("starts");
    let AdminBootstrap::Generated(password) = &stack.admin else {
        panic!("a fresh data dir generates the admin password (is FLOWORK_ADMIN_PASSWORD set?)");
    };
    let engine = stack.engine_id.to_string();
    let base = format!("http://{}", stack.gateway_addr);
    let (status, pair) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"username": "admin", "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access").to_owned();
    let get = |path: String| {
        let (http, access) = (http.clone(), access.clone());
        async move { call(&http, reqwest::Method::GET, path, Some(&access), None).await }
    };
    eventually("the local engine is online", || {
        let url = format!("{base}/api/v1/engines/{engine}");
        async move { get(url).await.1["online"] == true }
    })
    .await;
    eventually("the engine reports its link as SERVING", || async {
        link_health(&stack).await == Some(ServingStatus::Serving)
    })
    .await;

    // The README's session: create a workflow through the gateway, fire its webhook, read the run.
    let doc = json!({"name": "Orders", "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "orders/new"}},
        {"id": "total", "type": "core.set", "params": {"value": "{total: (.input.body.items | map(.price) | add)}"}}],
      "edges": [{"from": "hook", "to": "total"}]});
    let (status, wf) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/engines/{engine}/workflows"),
        Some(&access),
        Some(doc),
    )
    .await;
    assert_eq!(status, 201, "{wf}");
    let wf_id = wf["id"].as_str().expect("workflow id");
    let (status, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/v1/engines/{engine}/workflows/{wf_id}/activate"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, fired) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/webhook/{engine}/orders/new"),
        None,
        Some(json!({"items": [{"price": 2}, {"price": 40}]})),
    )
    .await;
    assert_eq!(status, 202, "{fired}");
    let exec = fired["execution_id"]
        .as_str()
        .expect("execution id")
        .to_owned();
    let url = format!("{base}/api/v1/engines/{engine}/executions/{exec}");
    eventually("the execution succeeds", || {
        let url = url.clone();
        async move { get(url).await.1["status"] == "succeeded" }
    })
    .await;
    let (_, run) = get(url).await;
    assert_eq!(run["output"], json!({"total": 42}), "{run}");
    stop(stack, token).await;

    // Same data dir: the same engine, not a second registration, and it links again.
    let token = CancellationToken::new();
    let stack = launch(cfg, token.clone()).await.expect("restarts");
    assert_eq!(stack.engine_id.to_string(), engine, "registered once");
    let base = format!("http://{}", stack.gateway_addr);
    let (_, list) = get(format!("{base}/api/v1/engines")).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    eventually("the local engine is online again", || {
        let url = format!("{base}/api/v1/engines/{engine}");
        async move { get(url).await.1["online"] == true }
    })
    .await;
    stop(stack, token).await;
}
