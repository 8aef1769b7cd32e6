//! Auth through a real `flowork up`: the first-run admin logs in at the gateway, registers an
//! engine, and the session survives a restart (the signing key persists in the data dir).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use flowork_cli::up::launch;
use flowork_gateway::AdminBootstrap;
use flowork_kit::{CancellationToken, Config};
use serde_json::{Value, json};

fn config(data_dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    cfg.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg
}

async fn post(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = http.post(url).json(&body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_logs_in_and_the_session_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Arc::new(config(dir.path()));
    let http = reqwest::Client::new();

    let token = CancellationToken::new();
    let stack = launch(cfg.clone(), token.clone()).await.expect("starts");
    let AdminBootstrap::Generated(password) = &stack.admin else {
        panic!("a fresh data dir generates the admin password (is FLOWORK_ADMIN_PASSWORD set?)");
    };
    let base = format!("http://{}", stack.gateway_addr);
    let anon = http
        .get(format!("{base}/api/v1/engines"))
        .send()
        .await
        .expect("get");
    assert_eq!(anon.status(), 401);
    let (status, pair) = post(
        &http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": password}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access").to_owned();
    let refresh = pair["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, engine) = post(
        &http,
        format!("{base}/api/v1/engines"),
        Some(&access),
        json!({"name": "laptop"}),
    )
    .await;
    assert_eq!(status, 201, "{engine}");
    token.cancel();
    let code = tokio::time::timeout(Duration::from_secs(10), stack.wait())
        .await
        .expect("stops");
    assert_eq!(code, ExitCode::SUCCESS);
    let key = dir.path().join(flowork_gateway::KEY_FILE);
    assert!(key.is_file(), "the signing key is kept in the data dir");

    // Same data dir: the access token still verifies, the refresh token still rotates.
    let token = CancellationToken::new();
    let stack = launch(cfg, token.clone()).await.expect("restarts");
    assert_eq!(stack.admin, AdminBootstrap::Existing);
    let base = format!("http://{}", stack.gateway_addr);
    let list: Value = http
        .get(format!("{base}/api/v1/engines"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    // `flowork up` registered its own local engine first; ours is the other one.
    let ours = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["id"] == engine["id"]))
        .unwrap_or_else(|| panic!("the engine is still registered: {list}"));
    assert_eq!(ours["online"], false, "nothing dials in as it");
    let (status, _) = post(
        &http,
        format!("{base}/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 200);
    token.cancel();
    let code = tokio::time::timeout(Duration::from_secs(10), stack.wait())
        .await
        .expect("stops");
    assert_eq!(code, ExitCode::SUCCESS);
}
