//! EngineLink end to end: a real gateway on a socket, a real engine dialing in (see
//! `fake_engine`): forwarding with ownership and identity, offline answers, webhooks online and
//! buffered (in order, once, across a gateway restart), live events as SSE.

use std::time::{Duration, Instant};

use flowork_link::ExecutionEvent;
use flowork_model::{ExecutionId, Role};
use serde_json::{Value, json};

use crate::fake_engine::{Engine, Seen, Served, eventually, owner_with_engine};
use crate::harness::Fixture;

pub async fn forwarding_reaches_only_the_owners_engine(fx: &Fixture) {
    let (alice, engine, token) = owner_with_engine(fx, "alice").await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    let served = Served::start(fx.gw.clone()).await;
    let seen = Seen::default();
    let eng = Engine::start(&served.base, &engine.to_string(), &token, seen.clone());
    served.wait_online(&engine.to_string(), true).await;
    let http = reqwest::Client::new();
    let api = served.url(&format!("/api/v1/engines/{engine}/workflows?limit=5&x=%2F"));

    let res = http
        .get(&api)
        .bearer_auth(&alice)
        .header("x-flowork-user-id", "usr_forged")
        .header("x-request-id", "trace-7")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["query"], "limit=5&x=%2F");
    assert_eq!(body["role"], "user");
    let me: Value = http
        .get(served.url("/api/v1/auth/me"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["user_id"], me["id"],
        "the gateway's identity, not the forged one"
    );
    assert_eq!(
        body["authorization"],
        Value::Null,
        "credentials stay at the gateway"
    );
    assert_eq!(body["request_id"], "trace-7");

    // A body goes through; a workflow change makes the gateway re-read the webhook table.
    let lists = seen.webhook_lists.load(std::sync::atomic::Ordering::SeqCst);
    let res = http
        .post(&api)
        .bearer_auth(&alice)
        .json(&json!({"name": "w"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["body"], r#"{"name":"w"}"#);
    eventually("the webhook table is fetched again", || {
        seen.webhook_lists.load(std::sync::atomic::Ordering::SeqCst) > lists
    })
    .await;

    // An engine that does not answer in time: 504, after the forward timeout (2 s here).
    let started = Instant::now();
    let slow = served.url(&format!("/api/v1/engines/{engine}/slow"));
    let res = http
        .get(&slow)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Bob cannot tell alice's engine exists; nobody gets in without credentials.
    let res = http.get(&api).bearer_auth(&bob).send().await.expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(http.get(&api).send().await.expect("get").status(), 401);

    // Listed as online, with last_seen.
    let list: Value = http
        .get(served.url("/api/v1/engines"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"][0]["online"], true, "{list}");
    assert!(list["items"][0]["last_seen"].is_string(), "{list}");

    // Rotating the token cuts the link: the engine's redial with the old token is refused.
    let res = http
        .post(served.url(&format!("/api/v1/engines/{engine}/rotate-token")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("rotate");
    assert_eq!(res.status(), 200);
    served.wait_online(&engine.to_string(), false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !served
            .gw
            .hub()
            .is_online(&flowork_link::EngineId::new(engine.to_string()))
    );

    // Offline: 503 problem with Retry-After, at once.
    eng.stop().await;
    let started = Instant::now();
    let res = http
        .get(&api)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let list: Value = http
        .get(served.url("/api/v1/engines"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"][0]["online"], false, "{list}");
    served.stop().await;
}

pub async fn webhooks_are_buffered_offline_and_delivered_in_order_once(fx: &Fixture) {
    let (_, engine, token) = owner_with_engine(fx, "hooks").await;
    let id = engine.to_string();
    let served = Served::start(fx.gw.clone()).await;
    let seen = Seen::default();
    let eng = Engine::start(&served.base, &id, &token, seen.clone());
    served.wait_online(&id, true).await;
    let http = reqwest::Client::new();
    let hook = |path: &str| served.url(&format!("/webhook/{id}/{path}"));

    // Online: the engine answers itself (after the table was fetched on connect).
    eventually("the table is fetched on connect", || {
        seen.webhook_lists.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    let res = http
        .post(hook("orders/new?live=1"))
        .body("live")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 202);
    assert_eq!(
        res.json::<Value>().await.expect("json")["execution_id"],
        "ex_fake"
    );
    assert_eq!(seen.hooks()[0].body, "live");
    assert_eq!(seen.hooks()[0].delivery_id, None);

    // Offline: immediate-mode webhooks are buffered; waiting ones and unknown paths are not.
    eng.stop().await;
    served.wait_online(&id, false).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let res = http
            .post(hook(&format!("orders/new?n={n}")))
            .header("x-flowork-signature", "sha256=ab")
            .body(format!("body {n}"))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 202);
        let v: Value = res.json().await.expect("json");
        ids.push(v["delivery_id"].as_str().expect("delivery id").to_owned());
    }
    let res = http.get(hook("wait")).send().await.expect("get");
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "7");
    assert_eq!(
        http.post(hook("nope")).send().await.expect("post").status(),
        404
    );
    assert_eq!(
        http.get(hook("orders/new"))
            .send()
            .await
            .expect("get")
            .status(),
        404,
        "POST only"
    );
    let res = http
        .post(hook("orders/new"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 413);
    let other = flowork_model::EngineId::new();
    let res = http
        .post(served.url(&format!("/webhook/{other}/orders/new")))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);

    // The gateway restarts while the engine is away: the buffer and the table survive.
    served.stop().await;
    let served = Served::start(fx.restarted().await).await;
    let res = http
        .post(served.url(&format!("/webhook/{id}/orders/new?n=4")))
        .body("body 4")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 202, "the stored table still knows the path");
    ids.push(
        res.json::<Value>().await.expect("json")["delivery_id"]
            .as_str()
            .expect("id")
            .to_owned(),
    );

    // Now the buffer is full: 503 + Retry-After, nothing stored.
    let res = http
        .post(served.url(&format!("/webhook/{id}/orders/new")))
        .body("one more")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "7");

    // The engine comes back struggling: the first attempt fails, then all go in order, once.
    seen.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
    let eng = Engine::start(&served.base, &id, &token, seen.clone());
    eventually("all four delivered", || seen.hooks().len() == 5).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let hooks = seen.hooks();
    assert_eq!(hooks.len(), 5, "delivered exactly once: {hooks:?}");
    let delivered: Vec<_> = hooks[1..]
        .iter()
        .map(|h| h.delivery_id.clone().expect("id"))
        .collect();
    assert_eq!(delivered, ids);
    for (n, h) in hooks[1..].iter().enumerate() {
        assert_eq!(h.body, format!("body {}", n + 1));
        assert_eq!(h.query.as_deref(), Some(format!("n={}", n + 1).as_str()));
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "orders/new"));
        if n < 3 {
            assert_eq!(h.signature.as_deref(), Some("sha256=ab"), "headers kept");
        }
    }
    assert_eq!(
        fx.accounts
            .webhook_backlog(engine)
            .await
            .expect("backlog")
            .count,
        0
    );

    // Back online with an empty buffer: straight through again.
    let res = http
        .post(served.url(&format!("/webhook/{id}/orders/new")))
        .body("after")
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.json::<Value>().await.expect("json")["execution_id"],
        "ex_fake"
    );
    eng.stop().await;
    served.stop().await;
}

pub async fn live_events_stream_as_sse(fx: &Fixture) {
    let (alice, engine, token) = owner_with_engine(fx, "watcher").await;
    let (_, bob) = fx.user_token("peeker", Role::User).await;
    let served = Served::start(fx.gw.clone()).await;
    let eng = Engine::start(&served.base, &engine.to_string(), &token, Seen::default());
    served.wait_online(&engine.to_string(), true).await;
    let http = reqwest::Client::new();
    let exec = ExecutionId::new().to_string();
    let url = served.url(&format!(
        "/api/v1/engines/{engine}/executions/{exec}/events"
    ));
    assert_eq!(
        http.get(&url)
            .bearer_auth(&bob)
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
    let missing = served.url(&format!(
        "/api/v1/engines/{engine}/executions/{}/events",
        "ex_00000000000000000000000000000000"
    ));
    assert_eq!(
        http.get(&missing)
            .bearer_auth(&alice)
            .send()
            .await
            .expect("get")
            .status(),
        404
    );

    let mut res = http
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let event = |exec: &str, kind: &str, node: Option<&str>| ExecutionEvent {
        execution_id: exec.to_owned(),
        workflow_id: "wf_1".into(),
        kind: kind.into(),
        node_id: node.map(str::to_owned),
        data_json: br#"{"status":"succeeded"}"#.to_vec(),
        at_unix_ms: 1_700_000_000_000,
    };
    let other = ExecutionId::new().to_string();
    for e in [
        event(&other, "node_started", Some("a")),
        event(&exec, "node_started", Some("a")),
        event(&exec, "node_finished", Some("a")),
        event(&exec, "execution_finished", None),
        event(&exec, "node_started", Some("late")),
    ] {
        assert!(eng.events.send(e));
    }
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = res.chunk().await.expect("chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the stream did not end after execution_finished: {text}"
    );
    let kinds: Vec<_> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        ["node_started", "node_finished", "execution_finished"],
        "{text}"
    );
    let first: Value = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("json"))
        .expect("data");
    assert_eq!(first["execution_id"], exec.as_str());
    assert_eq!(first["node_id"], "a");
    assert_eq!(first["data"]["status"], "succeeded");
    assert!(!text.contains("late"));
    // An execution already over: one execution_finished, then the end.
    let done = served.url(&format!(
        "/api/v1/engines/{engine}/executions/{}/events",
        "ex_0190c5f4a2b37c3d8e9f00000000ffff"
    ));
    let res = http
        .get(&done)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(5), res.text())
        .await
        .expect("ends at once")
        .expect("text");
    assert!(text.contains("event: execution_finished"), "{text}");
    assert!(text.contains(r#""status":"succeeded""#), "{text}");

    // Offline: 503 at once, not a stream that never speaks.
    eng.stop().await;
    served.wait_online(&engine.to_string(), false).await;
    let res = http
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    served.stop().await;
}
