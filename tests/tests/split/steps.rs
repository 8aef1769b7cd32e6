//! The scenario's requests and what each must answer, through the gateway only.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, eventually};

/// The credential holding the HMAC key the buffered webhook must be signed with.
pub const HOOK_KEY: &str = "e2e-hmac-key-0123456789";

/// `POST /api/v1/engines`: the new engine's id and token.
pub async fn register(api: &Api) -> (String, String) {
    let body = json!({"name": "split"});
    let (status, reg) = api.call(Method::POST, "/api/v1/engines", Some(body)).await;
    assert_eq!(status, 201, "{reg}");
    let text = |k: &str| reg[k].as_str().expect("id and token").to_owned();
    (text("id"), text("token"))
}

/// The credential, then `now` (immediate, signed with it) and `wait` (`respond: last_node`).
pub async fn workflows(api: &Api, engine: &str) -> (String, String) {
    let cred = json!({"name": "hook-key", "kind": "hmac", "secret": {"secret": HOOK_KEY}});
    let path = format!("/api/v1/engines/{engine}/credentials");
    let (status, made) = api.call(Method::POST, &path, Some(cred)).await;
    assert_eq!(status, 201, "{made}");
    let now = workflow(
        api,
        engine,
        "now",
        json!({"secret": "hook-key"}),
        ".input.body",
    )
    .await;
    let doubled = "{doubled: (.input.body.n * 2)}";
    let wait = workflow(
        api,
        engine,
        "wait",
        json!({"respond": "last_node"}),
        doubled,
    )
    .await;
    (now, wait)
}

async fn workflow(api: &Api, engine: &str, hook: &str, params: Value, value: &str) -> String {
    let mut params = params;
    params["path"] = json!(hook);
    let doc = json!({"name": hook, "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": params},
        {"id": "out", "type": "core.set", "params": {"value": value}}],
      "edges": [{"from": "hook", "to": "out"}]});
    let path = format!("/api/v1/engines/{engine}/workflows");
    let (status, wf) = api.call(Method::POST, &path, Some(doc)).await;
    assert_eq!(status, 201, "{wf}");
    let id = wf["id"].as_str().expect("workflow id").to_owned();
    let path = format!("/api/v1/engines/{engine}/workflows/{id}/activate");
    let (status, res) = api.call(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{res}");
    id
}

/// Both webhooks through the gateway, and their executions read back with node runs. Returns
/// the `now` execution's id.
pub async fn fire_while_online(api: &Api, engine: &str, now: &str, wait: &str) -> String {
    let res = api.webhook(engine, "wait", &json!({"n": 21}), None).await;
    assert_eq!((res.status, &res.body), (200, &json!({"doubled": 42})));
    let unsigned = api.webhook(engine, "now", &json!({"n": 0}), None).await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    let res = api
        .webhook(engine, "now", &json!({"n": 0}), Some(HOOK_KEY))
        .await;
    assert_eq!(res.status, 202, "{}", res.body);
    let exec = res.body["execution_id"]
        .as_str()
        .expect("execution id")
        .to_owned();
    let waited = api.executions(engine, wait).await;
    assert_eq!(waited.len(), 1, "{waited:?}");
    for id in [exec.as_str(), waited[0]["id"].as_str().expect("id")] {
        let path = format!("/api/v1/engines/{engine}/executions/{id}");
        let run = eventually("the execution finishes", 20, || async {
            let (_, run) = api.get(&path).await;
            (run["status"] == "succeeded").then_some(run)
        })
        .await;
        let nodes = run["node_runs"].as_array().expect("node runs");
        assert_eq!(nodes.len(), 2, "{run}");
    }
    assert_eq!(api.executions(engine, now).await.len(), 1);
    exec
}

/// An immediate webhook for the dead engine: 202 with a delivery id.
pub async fn buffer_one(api: &Api, engine: &str, n: u64) -> String {
    let res = api
        .webhook(engine, "now", &json!({"n": n}), Some(HOOK_KEY))
        .await;
    assert_eq!(res.status, 202, "buffered #{n}: {}", res.body);
    let id = res.body["delivery_id"].as_str();
    id.unwrap_or_else(|| panic!("a delivery id: {}", res.body))
        .to_owned()
}

pub async fn assert_waiting_gets_503(api: &Api, engine: &str) {
    let res = api.webhook(engine, "wait", &json!({"n": 1}), None).await;
    assert_eq!(res.status, 503, "{}", res.body);
    let after = res.retry_after.expect("Retry-After");
    assert!(after.parse::<u64>().is_ok_and(|s| s > 0), "{after}");
}

/// Waits until `now` has run `n` buffered webhooks besides the first (n = 0): each payload
/// exactly once, in the order sent, all succeeded. Returns the execution ids.
pub async fn each_ran_once(api: &Api, engine: &str, now: &str, n: u64) -> BTreeSet<String> {
    let runs = eventually("every buffered webhook runs", 30, || async {
        let runs = api.executions(engine, now).await;
        let done = runs.iter().all(|r| r["status"] == "succeeded");
        (runs.len() as u64 > n && done).then_some(runs)
    })
    .await;
    let mut seen: Vec<(u64, &str)> = runs
        .iter()
        .map(|r| {
            let n = r["output"]["n"].as_u64().expect("the payload came through");
            (n, r["id"].as_str().expect("id"))
        })
        .collect();
    seen.sort_unstable();
    let payloads: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(payloads, (0..=n).collect::<Vec<_>>(), "each payload once");
    // Sent in order, delivered one by one: created in order too (ids are UUIDv7, time-ordered;
    // `created_at` has only seconds).
    assert!(
        seen.windows(2).all(|w| w[0].1 <= w[1].1),
        "delivered out of order: {seen:?}"
    );
    runs.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}
