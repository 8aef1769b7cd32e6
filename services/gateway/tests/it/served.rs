//! The gateway on a real socket (as `run` serves it): login, a protected call, and the client
//! address reaching the login brake.

use std::sync::Arc;

use flowork_gateway::{Gateway, LoginLimits};
use flowork_kit::{CancellationToken, Config};
use flowork_model::Role;
use flowork_storage::SqliteStore;
use serde_json::{Value, json};

use crate::harness::{Fixture, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_call_over_tcp() {
    let fx = Fixture::sqlite().await.expect("fixture");
    fx.user("tcp", Role::User).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("x.db").to_str().expect("utf8"), 2)
        .await
        .expect("open");
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    // A separate store for health; the accounts are the fixture's.
    let limits = LoginLimits {
        per_address: flowork_gateway::Limit {
            burst: 2,
            refill: std::time::Duration::from_secs(60),
        },
        ..LoginLimits::default()
    };
    let gw = Gateway::new(&cfg, Arc::new(store), fx.accounts.clone(), Vec::new())
        .await
        .expect("gateway")
        .with_login_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(flowork_gateway::run(gw, listener, shutdown.clone()));

    let http = reqwest::Client::new();
    let login = |password: &str| {
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "tcp", "password": password}))
            .send()
    };
    let res = login(PASSWORD).await.expect("login");
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let pair: Value = res.json().await.expect("json");
    let me: Value = http
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(pair["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "tcp");
    // The brake counts this peer (127.0.0.1): its second attempt passes, the third does not.
    assert_eq!(login("wrong one").await.expect("login").status(), 401);
    let limited = login(PASSWORD).await.expect("login");
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));

    shutdown.cancel();
    server.await.expect("join").expect("served");
    fx.cleanup().await;
}
