//! Two `flowork-gateway` processes sharing one SQLite file, one Redis and the gateway secret,
//! and one engine: whichever process a request reaches, it reaches the engine.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};

use serde_json::{Value, json};

use crate::fake_engine::{Engine, Seen};
use crate::replicas::{RedisScope, forged_calls_are_refused, listed_online, within};

const ADMIN_PASSWORD: &str = "a long admin password for the test";

/// One gateway process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    async fn start(dir: &Path, name: &str, redis: &RedisScope, secret: &str) -> Process {
        // A free port: the process must be told it, so the test knows where to call.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowork-gateway"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLOWORK_")) {
            cmd.env_remove(k);
        }
        let data = dir.join(name);
        std::fs::create_dir_all(&data).expect("data dir");
        let db = format!("sqlite://{}", dir.join("shared.db").display());
        let child = cmd
            .env("RUST_LOG", "warn")
            .env("FLOWORK_DATA_DIR", &data)
            .env("FLOWORK_DATABASE__URL", db)
            .env("FLOWORK_GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("FLOWORK_GATEWAY__REDIS_URL", &redis.url)
            .env("FLOWORK_GATEWAY__REDIS_PREFIX", &redis.prefix)
            .env("FLOWORK_GATEWAY_SECRET", secret)
            .env("FLOWORK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .spawn()
            .expect("spawn flowork-gateway");
        let p = Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let ready = format!("{}/readyz", p.base);
        within(20, "the gateway process is ready", || {
            let req = http.get(&ready).send();
            async move { req.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        p
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateway_processes_reach_one_engine() {
    let Some(url) = flowork_testkit::redis() else {
        return;
    };
    let scope = RedisScope::new(&url);
    let outcome = {
        use futures::FutureExt as _;
        std::panic::AssertUnwindSafe(two_processes(&scope))
            .catch_unwind()
            .await
    };
    scope.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn two_processes(scope: &RedisScope) {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    // One at a time: the first creates the schema and the admin.
    let a = Process::start(dir.path(), "a", scope, &secret).await;
    let b = Process::start(dir.path(), "b", scope, &secret).await;
    let http = reqwest::Client::new();
    let login: Value = http
        .post(b.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let admin = login["access_token"].as_str().expect("token").to_owned();
    let created: Value = http
        .post(a.url("/api/v1/engines"))
        .bearer_auth(&admin)
        .json(&json!({"name": "one engine"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let token = created["token"].as_str().expect("token").to_owned();

    let seen = Seen::default();
    let eng = Engine::start(&a.base, &id, &token, seen.clone());
    within(10, "online on A", || {
        listed_online(&http, &a.base, &admin, &id)
    })
    .await;
    within(5, "online on B", || {
        listed_online(&http, &b.base, &admin, &id)
    })
    .await;

    // Through B, the process without the link.
    let res = http
        .get(b.url(&format!("/api/v1/engines/{id}/workflows?via=b")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        (body["query"].as_str(), body["role"].as_str()),
        (Some("via=b"), Some("admin"))
    );
    let res = http
        .post(b.url(&format!("/webhook/{id}/orders/new")))
        .body("hook-via-b")
        .send()
        .await
        .expect("hook");
    assert_eq!(res.status(), 202);
    assert_eq!(seen.hooks().last().expect("hook").body, "hook-via-b");
    forged_calls_are_refused(&http, &b.base, &id, &admin).await;
    forged_calls_are_refused(&http, &a.base, &id, &admin).await;

    // The engine moves to B; A follows it.
    eng.stop().await;
    within(10, "offline on both", || async {
        !listed_online(&http, &a.base, &admin, &id).await
            && !listed_online(&http, &b.base, &admin, &id).await
    })
    .await;
    let eng = Engine::start(&b.base, &id, &token, seen.clone());
    within(10, "online on A again", || {
        listed_online(&http, &a.base, &admin, &id)
    })
    .await;
    let res = http
        .get(a.url(&format!("/api/v1/engines/{id}/workflows?via=a")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["query"], "via=a");

    // The holder dies: A cannot reach it and says so (503 + Retry-After) instead of hanging.
    drop(b);
    let res = http
        .get(a.url(&format!("/api/v1/engines/{id}/workflows")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    eng.stop().await;
    drop(a);
}
