//! A real gateway on a socket (`run`) with a real engine dialing in: a `LinkClient` serving a
//! small fake engine API that records what reaches it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use flowork_gateway::{Gateway, LinkSettings};
use flowork_kit::CancellationToken;
use flowork_link::{EventSender, LinkClient, LinkClientConfig};
use flowork_model::{EngineId, Role};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::harness::Fixture;

/// One webhook as the engine received it.
#[derive(Debug, Clone)]
pub struct Hook {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub delivery_id: Option<String>,
    pub signature: Option<String>,
    pub body: String,
}

/// What the fake engine saw, and how it should behave.
#[derive(Clone, Default)]
pub struct Seen {
    pub hooks: Arc<Mutex<Vec<Hook>>>,
    /// Webhook requests to answer 500 before accepting (a struggling engine).
    pub fail_next: Arc<AtomicUsize>,
    pub workflow_posts: Arc<AtomicUsize>,
    pub webhook_lists: Arc<AtomicUsize>,
}

impl Seen {
    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().expect("lock").clone()
    }
}

/// The engine API's few routes the tests need.
pub fn engine_router(seen: Seen) -> Router {
    Router::new()
        .route("/api/v1/webhooks", get(list_webhooks))
        .route("/api/v1/workflows", any(workflows))
        .route("/api/v1/executions/{id}", get(execution))
        .route(
            "/api/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/webhook/{*path}", any(webhook))
        .with_state(seen)
}

async fn list_webhooks(State(seen): State<Seen>) -> Json<Value> {
    seen.webhook_lists.fetch_add(1, Ordering::SeqCst);
    Json(json!({"items": [
        {"path": "orders/new", "method": "POST", "respond": "immediately", "workflow_id": "wf_1"},
        {"path": "wait", "method": null, "respond": "last_node", "workflow_id": "wf_2"},
    ]}))
}

/// Echoes what arrived: method, query, the identity headers, whether credentials leaked.
async fn workflows(
    State(seen): State<Seen>,
    method: Method,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if method == Method::POST {
        seen.workflow_posts.fetch_add(1, Ordering::SeqCst);
    }
    let status = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({
            "method": method.as_str(),
            "query": q,
            "user_id": h("x-flowork-user-id"),
            "role": h("x-flowork-user-role"),
            "engine_role": h("x-flowork-engine-role"),
            "authorization": h("authorization"),
            "request_id": h("x-request-id"),
            "body": String::from_utf8_lossy(&body),
        })),
    )
}

async fn execution(Path(id): Path<String>) -> impl IntoResponse {
    if id.ends_with("0000") {
        return (StatusCode::NOT_FOUND, Json(json!({"status": 404}))).into_response();
    }
    let status = if id.ends_with("ffff") {
        "succeeded"
    } else {
        "running"
    };
    Json(json!({"id": id, "workflow_id": "wf_1", "status": status})).into_response()
}

async fn webhook(
    State(seen): State<Seen>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let failing = seen
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "not now").into_response();
    }
    seen.hooks.lock().expect("lock").push(Hook {
        method: method.to_string(),
        path,
        query,
        delivery_id: headers
            .get("x-flowork-delivery-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        signature: headers
            .get("x-flowork-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({"execution_id": "ex_fake"})),
    )
        .into_response()
}

/// Short timings so the tests stay fast.
pub fn settings() -> LinkSettings {
    let mut s = LinkSettings::default();
    s.hub.ping_interval = Duration::from_millis(200);
    s.hub.hello_timeout = Duration::from_secs(2);
    s.forward_timeout = Duration::from_secs(2);
    s.webhook_max_body = 1024;
    // Four 6-byte bodies fill it.
    s.webhook_max_buffered_bytes = 24;
    s.touch_interval = Duration::from_millis(200);
    s.retry_interval = Duration::from_millis(200);
    s.retry_after = Duration::from_secs(7);
    s
}

/// A gateway served on 127.0.0.1:0 until dropped or stopped.
pub struct Served {
    pub gw: Gateway,
    pub base: String,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Served {
    pub async fn start(gw: Gateway) -> Served {
        let gw = gw.with_link_settings(settings());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let run = flowork_gateway::run(gw.clone(), listener, stop.clone());
        let task = tokio::spawn(async move {
            run.await.expect("gateway served");
        });
        Served {
            gw,
            base,
            stop,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn wait_online(&self, engine: &str, online: bool) {
        let id = flowork_link::EngineId::new(engine);
        tokio::time::timeout(Duration::from_secs(5), async {
            while self.gw.hub().is_online(&id) != online {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("engine presence never changed");
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("gateway stops")
            .expect("join");
    }
}

/// The fake engine, linked to a gateway.
pub struct Engine {
    pub events: EventSender,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Engine {
    pub fn start(base: &str, id: &str, token: &str, seen: Seen) -> Engine {
        let mut cfg = LinkClientConfig::new(base, id, token);
        cfg.backoff_min = Duration::from_millis(20);
        cfg.backoff_max = Duration::from_millis(200);
        cfg.connect_timeout = Duration::from_secs(2);
        let client = LinkClient::new(cfg, engine_router(seen));
        let events = client.events();
        let stop = CancellationToken::new();
        let task = tokio::spawn(client.run(stop.clone()));
        Engine { events, stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("engine stops")
            .expect("join");
    }
}

/// A user, their token, and a registered engine `(id, token)` of theirs.
pub async fn owner_with_engine(fx: &Fixture, name: &str) -> (String, EngineId, String) {
    let (_, access) = fx.user_token(name, Role::User).await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&access),
            Some(json!({"name": format!("{name}'s engine")})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let id = a.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("engine id");
    let token = a.body["token"].as_str().expect("token").to_owned();
    (access, id, token)
}

/// Polls `f` until it is true (or fails the test after 5 s).
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut f: F) {
    let done = tokio::time::timeout(Duration::from_secs(5), async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(done.is_ok(), "never happened: {what}");
}
