//! The scenario, step by step, against the processes of a [`Stack`].

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, eventually};
use crate::{PASSWORD, Stack};

/// The credential holding the HMAC key the buffered webhook must be signed with.
const HOOK_KEY: &str = "e2e-hmac-key-0123456789";
/// Webhooks sent while the engine is dead, before the gateway restarts (one more comes after).
const BUFFERED: u64 = 5;

pub async fn run(stack: &mut Stack) {
    let api = login(stack).await;
    stack.mark("gateway up, admin logged in");
    let (engine, token) = register(&api).await;
    stack
        .engine
        .env("FLOWORK_SCHEDULER__ENGINE_ID", &engine)
        .env("FLOWORK_ENGINE_TOKEN", token);
    let store = stack.store_addr;
    eventually("the store service accepts connections", 20, || async move {
        std::net::TcpStream::connect(store).ok().map(drop)
    })
    .await;
    stack.engine.start();
    wait_online(stack, &api, &engine).await;
    stack.mark("engine linked");
    assert_listens_nowhere(stack);

    let (now, wait) = workflows(&api, &engine).await;
    let first = fire_while_online(&api, &engine, &now, &wait).await;
    stack.mark("both webhooks ran through the gateway");

    stack.engine.kill();
    eventually("the gateway sees the engine offline", 20, || async {
        (!api.online(&engine).await).then_some(())
    })
    .await;
    let mut delivery_ids = BTreeSet::new();
    for n in 1..=BUFFERED {
        delivery_ids.insert(buffer_one(&api, &engine, n).await);
    }
    assert_waiting_gets_503(&api, &engine).await;
    stack.mark("engine killed: 5 webhooks buffered, the waiting one 503");

    stack.gateway.kill();
    let buffered = crate::buffer::pending(stack.gateway.data_dir(), &engine).await;
    assert_eq!(buffered.len() as u64, BUFFERED, "durably buffered");
    stack.gateway.start();
    let api = login(stack).await;
    assert_waiting_gets_503(&api, &engine).await;
    delivery_ids.insert(buffer_one(&api, &engine, BUFFERED + 1).await);
    assert_eq!(
        delivery_ids.len() as u64,
        BUFFERED + 1,
        "distinct delivery ids"
    );
    stack.mark("gateway restarted with the buffer; one more buffered");

    stack.engine.start();
    wait_online(stack, &api, &engine).await;
    assert_listens_nowhere(stack);
    let ran = each_ran_once(&api, &engine, &now, BUFFERED + 1).await;
    assert!(ran.contains(&first));
    stack.mark("engine back: every buffered webhook ran once");

    // The gateway dies after the engine ran the first five but before it forgot them: on
    // restart it delivers them again, and the engine drops each by its delivery id.
    stack.gateway.kill();
    assert!(
        crate::buffer::pending(stack.gateway.data_dir(), &engine)
            .await
            .is_empty()
    );
    crate::buffer::restore(stack.gateway.data_dir(), &buffered).await;
    stack.gateway.start();
    let api = login(stack).await;
    wait_online(stack, &api, &engine).await;
    let delivered = "flowork_gateway_webhooks_delivered_total";
    eventually("the gateway redelivers the five", 30, || async {
        (api.counter(delivered).await >= BUFFERED as f64).then_some(())
    })
    .await;
    let late = json!({"n": BUFFERED + 2});
    let res = api.webhook(&engine, "now", &late, Some(HOOK_KEY)).await;
    assert_eq!(res.status, 202, "{}", res.body);
    each_ran_once(&api, &engine, &now, BUFFERED + 2).await;
    stack.mark("gateway restarted and redelivered five: none ran twice");

    let engine_dir = stack.engine.data_dir();
    assert!(
        !engine_dir.join("flowork.db").exists(),
        "the engine opened a database of its own"
    );
    assert!(stack.store.data_dir().join("flowork.db").exists());
    stack.assert_running();
}

async fn login(stack: &mut Stack) -> Api {
    let url = stack.gateway_url.clone();
    let mut tries = 0;
    loop {
        if let Some(api) = Api::login(&url, PASSWORD).await {
            return api;
        }
        stack.gateway.assert_running();
        tries += 1;
        assert!(
            tries < 400,
            "the gateway at {url} does not log in within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `POST /api/v1/engines`: the new engine's id and token.
async fn register(api: &Api) -> (String, String) {
    let body = json!({"name": "split"});
    let (status, reg) = api.call(Method::POST, "/api/v1/engines", Some(body)).await;
    assert_eq!(status, 201, "{reg}");
    let text = |k: &str| reg[k].as_str().expect("id and token").to_owned();
    (text("id"), text("token"))
}

async fn wait_online(stack: &mut Stack, api: &Api, engine: &str) {
    let mut tries = 0;
    while !api.online(engine).await {
        stack.engine.assert_running();
        tries += 1;
        assert!(tries < 600, "the engine is not online within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[cfg(target_os = "linux")]
fn assert_listens_nowhere(stack: &Stack) {
    let sockets = flowork_testkit::procfs::sockets(stack.engine.pid()).expect("/proc");
    assert!(!sockets.held.is_empty(), "the engine holds its sockets");
    assert!(
        sockets.listening.is_empty(),
        "the engine listens on TCP: {sockets:?}"
    );
}

/// The credential, then `now` (immediate, signed with it) and `wait` (`respond: last_node`).
async fn workflows(api: &Api, engine: &str) -> (String, String) {
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
async fn fire_while_online(api: &Api, engine: &str, now: &str, wait: &str) -> String {
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
async fn buffer_one(api: &Api, engine: &str, n: u64) -> String {
    let res = api
        .webhook(engine, "now", &json!({"n": n}), Some(HOOK_KEY))
        .await;
    assert_eq!(res.status, 202, "buffered #{n}: {}", res.body);
    let id = res.body["delivery_id"].as_str();
    id.unwrap_or_else(|| panic!("a delivery id: {}", res.body))
        .to_owned()
}

async fn assert_waiting_gets_503(api: &Api, engine: &str) {
    let res = api.webhook(engine, "wait", &json!({"n": 1}), None).await;
    assert_eq!(res.status, 503, "{}", res.body);
    let after = res.retry_after.expect("Retry-After");
    assert!(after.parse::<u64>().is_ok_and(|s| s > 0), "{after}");
}

/// Waits until `now` has run `n` buffered webhooks besides the first (n = 0): each payload
/// exactly once, all succeeded. Returns the execution ids.
async fn each_ran_once(api: &Api, engine: &str, now: &str, n: u64) -> BTreeSet<String> {
    let runs = eventually("every buffered webhook runs", 30, || async {
        let runs = api.executions(engine, now).await;
        let done = runs.iter().all(|r| r["status"] == "succeeded");
        (runs.len() as u64 > n && done).then_some(runs)
    })
    .await;
    let mut seen: Vec<u64> = runs
        .iter()
        .map(|r| r["output"]["n"].as_u64().expect("the payload came through"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..=n).collect::<Vec<_>>(), "each payload once");
    runs.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}
