//! The scenario, step by step, against the processes of a [`Stack`].

use std::collections::BTreeSet;

use serde_json::json;

use crate::api::{Api, eventually};
use crate::steps::{
    HOOK_KEY, assert_waiting_gets_503, buffer_one, each_ran_once, fire_while_online, register,
    workflows,
};
use crate::{PASSWORD, Stack};

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

    // The store service restarts under the engine: it carries on over a new connection.
    stack.store.kill();
    stack.store.start();
    let store = stack.store_addr;
    eventually("the store service is back", 20, || async move {
        std::net::TcpStream::connect(store).ok().map(drop)
    })
    .await;
    let after = json!({"n": BUFFERED + 3});
    let res = eventually("the engine reaches its store again", 20, || async {
        let res = api.webhook(&engine, "now", &after, Some(HOOK_KEY)).await;
        (res.status == 202).then_some(res)
    })
    .await;
    assert!(res.body["execution_id"].is_string(), "{}", res.body);
    each_ran_once(&api, &engine, &now, BUFFERED + 3).await;
    stack.engine.assert_running();
    stack.mark("store service restarted: the engine still runs webhooks");

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
