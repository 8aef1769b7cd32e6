//! Several gateway replicas over one database and one Redis: a request reaching the replica
//! without the engine's link reaches the engine anyway (relayed, signed, to the holder), the
//! engine is online on both, requests follow it when it moves, and the internal routes refuse
//! anything unsigned. Each test uses its own Redis key prefix and deletes its keys.

use std::time::Duration;

use futures::FutureExt as _;
use serde_json::{Value, json};

use crate::fake_engine::{Engine, Seen, Served, owner_with_engine};
use crate::harness::Fixture;

/// A Redis key prefix of one test, and the cleanup of its keys.
pub struct RedisScope {
    pub url: String,
    pub prefix: String,
}

impl RedisScope {
    pub fn new(url: &str) -> RedisScope {
        RedisScope {
            url: url.to_owned(),
            prefix: format!("flowork-test:{}", uuid::Uuid::now_v7().simple()),
        }
    }

    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis")
    }

    /// Deletes the key naming `engine`'s holder (Redis lost it).
    pub async fn forget(&self, engine: &str) {
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{}:engine:{engine}:holder", self.prefix))
            .query_async(&mut self.conn().await)
            .await
            .expect("del");
    }

    pub async fn cleanup(&self) {
        let mut c = self.conn().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut c)
            .await
            .expect("keys");
        for k in keys {
            let _: i64 = redis::cmd("DEL")
                .arg(k)
                .query_async(&mut c)
                .await
                .expect("del");
        }
    }
}

/// `online` for `engine` in `GET /api/v1/engines` at `base`.
pub async fn listed_online(http: &reqwest::Client, base: &str, token: &str, engine: &str) -> bool {
    let list: Value = http
        .get(format!("{base}/api/v1/engines"))
        .bearer_auth(token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|e| e["id"] == engine && e["online"] == true)
}

/// Polls an async condition for up to `secs` seconds.
pub async fn within<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Calls an internal route the way a client (no replica secret) could.
pub async fn forged_calls_are_refused(
    http: &reqwest::Client,
    base: &str,
    engine: &str,
    bearer: &str,
) {
    let ts = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs())
    .to_string();
    let forward = format!("{base}/internal/v1/engines/{engine}/forward/workflows");
    let hook = format!("{base}/internal/v1/engines/{engine}/webhook/orders/new");
    let calls = [
        http.get(&forward),
        http.get(&forward).bearer_auth(bearer),
        http.get(&forward)
            .header("x-flowork-relay-ts", &ts)
            .header(
                "x-flowork-relay-user",
                "usr_0190c5f4a2b37c3d8e9f000000000001",
            )
            .header("x-flowork-relay-role", "admin")
            .header("x-flowork-relay-signature", "00".repeat(32)),
        http.post(&hook).body("forged"),
        http.post(&hook)
            .header("x-flowork-relay-ts", "1")
            .header("x-flowork-relay-signature", "ab".repeat(32))
            .body("forged"),
        http.post(format!("{base}/internal/v1/engines/{engine}/disconnect")),
    ];
    for call in calls {
        let res = call.send().await.expect("internal call");
        assert_eq!(res.status(), 401, "{:?}", res.text().await);
    }
}

pub async fn replicas_reach_the_engine_wherever_it_is_linked(fx: &Fixture) {
    let Some(url) = flowork_testkit::redis() else {
        return;
    };
    let scope = RedisScope::new(&url);
    let outcome = std::panic::AssertUnwindSafe(two_replicas(fx, &scope))
        .catch_unwind()
        .await;
    scope.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn two_replicas(fx: &Fixture, scope: &RedisScope) {
    let (alice, engine, token) = owner_with_engine(fx, "alice").await;
    let id = engine.to_string();
    let a = Served::start(fx.replica(&scope.url, &scope.prefix).await).await;
    let b = Served::start(fx.replica(&scope.url, &scope.prefix).await).await;
    let http = reqwest::Client::new();
    let seen = Seen::default();
    let eng = Engine::start(&a.base, &id, &token, seen.clone());
    a.wait_online(&id, true).await;
    within(5, "B lists the engine online", || {
        listed_online(&http, &b.base, &alice, &id)
    })
    .await;
    assert!(listed_online(&http, &a.base, &alice, &id).await);
    assert!(
        !b.gw
            .hub()
            .is_online(&flowork_link::EngineId::new(id.clone()))
    );

    // An API call through B reaches the engine linked to A, as alice, without her credentials.
    let me: Value = http
        .get(b.url("/api/v1/auth/me"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let api = b.url(&format!("/api/v1/engines/{id}/workflows?limit=5&x=%2F"));
    let res = http
        .get(&api)
        .bearer_auth(&alice)
        .header("x-request-id", "relay-1")
        .send()
        .await
        .expect("get");
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["query"], "limit=5&x=%2F");
    assert_eq!(body["user_id"], me["id"]);
    assert_eq!(body["role"], "user");
    assert_eq!(body["authorization"], Value::Null);
    assert_eq!(body["request_id"], "relay-1");
    let res = http
        .post(&api)
        .bearer_auth(&alice)
        .json(&json!({"name": "w"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.expect("json")["body"],
        r#"{"name":"w"}"#
    );

    // A webhook sent to B reaches the engine live.
    let res = http
        .post(b.url(&format!("/webhook/{id}/orders/new")))
        .header("x-flowork-signature", "sha256=ab")
        .body("via-b")
        .send()
        .await
        .expect("hook");
    assert_eq!(res.status(), 202);
    assert_eq!(
        res.json::<Value>().await.expect("json")["execution_id"],
        "ex_fake"
    );
    let hooks = seen.hooks();
    let last = hooks.last().expect("delivered");
    assert_eq!(
        (last.body.as_str(), last.signature.as_deref()),
        ("via-b", Some("sha256=ab"))
    );
    assert_eq!(
        last.delivery_id, None,
        "delivered live, not from the buffer"
    );

    // Live events through B (the execution is already over: one event and the end).
    let sse = http
        .get(b.url(&format!(
            "/api/v1/engines/{id}/executions/ex_0190c5f4a2b37c3d8e9f00000000ffff/events"
        )))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), 200);
    assert!(
        sse.text()
            .await
            .expect("text")
            .contains("event: execution_finished")
    );

    forged_calls_are_refused(&http, &a.base, &id, &alice).await;
    assert_eq!(
        seen.hooks().len(),
        hooks.len(),
        "nothing forged reached the engine"
    );
    assert!(
        a.gw.hub()
            .is_online(&flowork_link::EngineId::new(id.clone()))
    );

    // The engine moves to B: requests through A follow it.
    eng.stop().await;
    a.wait_online(&id, false).await;
    let eng = Engine::start(&b.base, &id, &token, seen.clone());
    b.wait_online(&id, true).await;
    let through_a = a.url(&format!("/api/v1/engines/{id}/workflows"));
    within(5, "a call through A reaches the engine on B", || async {
        let res = http
            .get(&through_a)
            .bearer_auth(&alice)
            .send()
            .await
            .expect("get");
        res.status() == 200
    })
    .await;
    let res = http
        .post(a.url(&format!("/webhook/{id}/orders/new")))
        .body("via-a")
        .send()
        .await
        .expect("hook");
    assert_eq!(res.status(), 202);
    assert_eq!(seen.hooks().last().expect("hook").body, "via-a");
    assert!(listed_online(&http, &a.base, &alice, &id).await);

    // Redis loses the record: A buffers the next webhook; B puts the record back within a
    // refresh (5 s) and delivers what was buffered meanwhile, without a reconnect.
    scope.forget(&id).await;
    let res = http
        .post(a.url(&format!("/webhook/{id}/orders/new")))
        .body("while-lost")
        .send()
        .await
        .expect("hook");
    assert_eq!(res.status(), 202);
    let delivery = res.json::<Value>().await.expect("json")["delivery_id"]
        .as_str()
        .expect("buffered")
        .to_owned();
    let got = seen.clone();
    within(
        10,
        "the holder drains what another replica buffered",
        || {
            let got = got.clone();
            let delivery = delivery.clone();
            async move {
                got.hooks()
                    .iter()
                    .any(|h| h.delivery_id.as_deref() == Some(delivery.as_str()))
            }
        },
    )
    .await;
    within(10, "B restores the record: online on A", || {
        listed_online(&http, &a.base, &alice, &id)
    })
    .await;

    // Rotating the token at A closes the link held by B; the engine, with its old token, is
    // then offline everywhere, and A answers as a single gateway would.
    let res = http
        .post(a.url(&format!("/api/v1/engines/{id}/rotate-token")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("rotate");
    assert_eq!(res.status(), 200);
    b.wait_online(&id, false).await;
    within(5, "offline on A", || async {
        !listed_online(&http, &a.base, &alice, &id).await
    })
    .await;
    let res = http
        .get(&through_a)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 503);
    eng.stop().await;
    a.stop().await;
    b.stop().await;
}
