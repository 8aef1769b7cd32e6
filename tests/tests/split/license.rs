//! The gateway and the license service as two OS processes on one database: the gateway asks
//! `flowork.v1.Permission` over gRPC (`gateway.license_url`) before forwarding, and denies when
//! the service is gone.

use reqwest::Method;
use serde_json::{Value, json};

use crate::PASSWORD;
use crate::api::{Api, eventually};
use crate::procs::{Service, free_addr};

/// `method path` as the user holding `token`: (status, body).
async fn as_user(token: &str, method: Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn login(base: &str, user: &str, password: &str) -> String {
    let (status, pair) = as_user(
        "",
        Method::POST,
        format!("{base}/api/v1/auth/login"),
        Some(json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    pair["access_token"].as_str().expect("token").to_owned()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_gateway_asks_the_license_service_and_denies_without_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", root.path().join("shared.db").display());
    let (gw_addr, lic_addr) = (free_addr(), free_addr());
    let base = format!("http://{gw_addr}");
    let mut license = Service::new(root.path(), "license", Some(lic_addr));
    license.env("FLOWORK_DATABASE__URL", &db);
    let mut gateway = Service::new(root.path(), "gateway", Some(gw_addr));
    gateway
        .env("FLOWORK_DATABASE__URL", &db)
        .env("FLOWORK_ADMIN_PASSWORD", PASSWORD)
        .env("FLOWORK_GATEWAY__LICENSE_URL", format!("http://{lic_addr}"));
    gateway.start();
    let admin = eventually("the gateway answers", 20, || Api::login(&base, PASSWORD)).await;
    license.start();

    let (status, engine) = admin
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(json!({"name": "box"})),
        )
        .await;
    assert_eq!(status, 201, "{engine}");
    let id = engine["id"].as_str().expect("id").to_owned();
    let pw = "bob's long password";
    // Creating a user counts the license's seats, so it waits for the license service too
    // (503 until it answers).
    for name in ["bob", "carol"] {
        eventually("the license service answers", 20, || async {
            let (status, body) = admin
                .call(
                    Method::POST,
                    "/api/v1/users",
                    Some(json!({"username": name, "password": pw})),
                )
                .await;
            assert!(matches!(status, 201 | 503), "{status} {body}");
            (status == 201).then_some(())
        })
        .await;
    }
    let (status, body) = admin
        .call(
            Method::POST,
            &format!("/api/v1/engines/{id}/members"),
            Some(json!({"username": "bob", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let bob = login(&base, "bob", pw).await;
    let api = |rest: &str| format!("{base}/api/v1/engines/{id}/{rest}");
    // A viewer's save is refused by the service; a read passes (and finds the engine offline).
    let (status, problem) = as_user(&bob, Method::POST, api("workflows"), Some(json!({}))).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("editor"),
        "{problem}"
    );
    let (status, _) = as_user(&bob, Method::GET, api("workflows"), None).await;
    assert_eq!(status, 503, "permitted, but no engine is linked");
    let carol = login(&base, "carol", pw).await;
    let (status, _) = as_user(&carol, Method::GET, api("workflows"), None).await;
    assert_eq!(
        status, 404,
        "not a member: the engine does not exist for carol"
    );

    // The license service gone: a question not in the gateway's few-second cache cannot be
    // answered, so it is refused (503), never allowed.
    license.kill();
    let (status, problem) = as_user(
        &bob,
        Method::DELETE,
        format!("{base}/api/v1/engines/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 503, "{problem}");
    gateway.assert_running();
}
