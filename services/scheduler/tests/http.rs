//! `core.http` against a real local axum server, through the engine and a real SQLite store and
//! vault: templating, JSON bodies, credentials (and that they leak nowhere), status classes and
//! retries, size limits, bad URLs, body decoding and timeouts.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_scheduler::Engine;
use flowork_storage::{Execution, NewExecution, NewWorkflow, NodeRun, Store, WorkflowVersion};
use flowork_vault::{MasterKey, Secret, Vault};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What the test server saw and how often `/flaky` was called.
#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<Value>>>,
    flaky: Arc<Mutex<u32>>,
}

/// Echoes everything, credentials included (in the body and a header), so redaction is tested.
async fn echo(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(String::from_utf8_lossy(v.as_bytes()))))
        .collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let seen_req = json!({"method": method.as_str(), "uri": uri.to_string(), "query": query,
                          "headers": headers, "body": body});
    seen.requests.lock().expect("lock").push(seen_req.clone());
    let auth = headers.get("authorization").cloned().unwrap_or(json!(""));
    let key = headers.get("x-api-key").cloned().unwrap_or(json!(""));
    let mut resp = axum::Json(seen_req).into_response();
    let h = resp.headers_mut();
    h.insert(
        "x-echo-auth",
        auth.as_str().unwrap_or("").parse().expect("header value"),
    );
    h.insert(
        "x-api-key",
        key.as_str().unwrap_or("").parse().expect("header value"),
    );
    h.append("x-multi", "a".parse().expect("header value"));
    h.append("x-multi", "b".parse().expect("header value"));
    resp
}

async fn flaky(State(seen): State<Seen>) -> Response {
    let mut n = seen.flaky.lock().expect("lock");
    *n += 1;
    if *n < 3 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response();
    }
    axum::Json(json!({"call": *n})).into_response()
}

/// Rejects the request, quoting the credential it got (as some APIs do).
async fn deny(headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = format!("invalid credentials {}", auth.unwrap_or_default());
    (StatusCode::UNAUTHORIZED, body).into_response()
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> Response {
    let to = q.get("to").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn chunked() -> Response {
    let chunk = vec![b'x'; 64 * 1024];
    let endless = futures::stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(endless),
    )
        .into_response()
}

async fn server() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/echo/{id}", any(echo))
        .route("/flaky", get(flaky))
        .route("/deny", get(deny))
        .route("/redirect", get(redirect))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .route("/big", get(|| async { vec![b'y'; 2_000_000] }))
        .route("/chunked", get(chunked))
        .route("/text", get(|| async { "hello, world" }))
        .route(
            "/binary",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0u8, 159, 146, 150],
                )
            }),
        )
        .route(
            "/bad-json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{oops") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (base, seen)
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    engine: Engine,
    vault: Arc<Vault>,
    base: String,
    seen: Seen,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    let vault = Arc::new(
        Vault::open(store.clone(), MasterKey::generate().expect("key"))
            .await
            .expect("vault"),
    );
    let engine = Engine::new(store.clone()).with_vault(vault.clone());
    let (base, seen) = server().await;
    Harness {
        _dir: dir,
        store,
        engine,
        vault,
        base,
        seen,
    }
}

impl Harness {
    /// Runs `in` (manual trigger, given `input`) → `call` (`core.http` with `node`'s fields).
    async fn run(&self, node: Value, input: Value) -> (Execution, Vec<NodeRun>) {
        run_on(&self.engine, &self.store, node, input).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn run_on(
    engine: &Engine,
    store: &Arc<dyn Store>,
    node: Value,
    input: Value,
) -> (Execution, Vec<NodeRun>) {
    let mut call = json!({"id": "call", "type": "core.http"});
    call.as_object_mut()
        .expect("object")
        .extend(node.as_object().expect("object").clone());
    let doc = json!({"name": "http", "nodes": [{"id": "in", "type": "trigger.manual"}, call],
                     "edges": [{"from": "in", "to": "call"}]});
    let wf = WorkflowId::new();
    store
        .create_workflow(NewWorkflow {
            id: wf,
            name: "t".into(),
            active: true,
        })
        .await
        .expect("workflow");
    let version = WorkflowVersion {
        workflow_id: wf,
        version: 1,
        hash: "00".repeat(32),
        previous_hash: None,
        author_id: None,
        signed: false,
        record: json!({ "workflow": doc }),
        created_at: Timestamp::now(),
    };
    store.append_version(version).await.expect("version");
    let new = NewExecution {
        id: ExecutionId::new(),
        workflow_id: wf,
        version: 1,
        trigger: String::new(),
        input,
        parent_id: None,
        started: false,
    };
    let id = store.create_execution(new).await.expect("execution").id;
    let exec = engine
        .run(id, CancellationToken::new())
        .await
        .expect("engine runs");
    let runs = store.list_node_runs(id).await.expect("runs");
    (exec, runs)
}

fn calls(runs: &[NodeRun]) -> Vec<&NodeRun> {
    runs.iter().filter(|r| r.node_id == "call").collect()
}

fn failed_with(exec: &Execution, runs: &[NodeRun], attempts: usize, needle: &str) {
    assert_eq!(exec.status, ExecutionStatus::Failed, "{:?}", exec.output);
    let error = exec.error.as_deref().unwrap_or_default();
    assert!(error.contains(needle), "{needle:?} not in {error:?}");
    assert_eq!(calls(runs).len(), attempts, "{runs:#?}");
}

#[tokio::test]
async fn get_renders_url_query_and_headers() {
    let h = harness().await;
    let node = json!({"params": {
        "url": format!("{}/echo/{{{{ .input.id }}}}", h.base),
        "query": {"q": "{{ .input.term }}", "n": "{{ .input.n }}", "obj": "{{ .input.obj }}"},
        "headers": {"x-trace": "t-{{ .input.id }}"}}});
    let input = json!({"id": 42, "term": "a b&c", "n": 7, "obj": {"k": [1]}});
    let (exec, _) = h.run(node, input).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let out = exec.output.expect("output");
    assert_eq!(out["status"], 200);
    assert_eq!(out["headers"]["content-type"], "application/json");
    assert_eq!(out["headers"]["x-multi"], "a, b");
    let body = &out["body"];
    assert_eq!(body["method"], "GET");
    assert!(
        body["uri"]
            .as_str()
            .expect("string")
            .starts_with("/echo/42?")
    );
    assert_eq!(
        body["query"],
        json!({"q": "a b&c", "n": "7", "obj": "{\"k\":[1]}"})
    );
    assert_eq!(body["headers"]["x-trace"], "t-42");
    let ua = body["headers"]["user-agent"].as_str().expect("string");
    assert!(ua.starts_with("flowork/"), "{ua}");
}

#[tokio::test]
async fn post_sends_the_body_expression_as_json() {
    let h = harness().await;
    let node = json!({"params": {"method": "POST", "url": h.url("/echo/orders"),
                                 "body": "{order: .input.id, total: (.input.items | add)}"}});
    let (exec, _) = h.run(node, json!({"id": 9, "items": [1, 2, 3]})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let body = &exec.output.expect("output")["body"];
    assert_eq!(body["method"], "POST");
    assert_eq!(body["body"], json!({"order": 9, "total": 6}));
    assert_eq!(body["headers"]["content-type"], "application/json");
}

/// Stores `secret` as credential `name`, calls `/echo` with it, and checks the server got
/// `expect_seen` while the secret is nowhere in the records.
async fn credential_case(secret: Value, secret_text: &str, check: impl Fn(&Value)) {
    let h = harness().await;
    h.vault
        .create("api", "http", Secret::new(secret))
        .await
        .expect("credential");
    let node =
        json!({"params": {"url": h.url("/echo/c"), "credential": "api", "query": {"plain": "1"}}});
    let (exec, runs) = h.run(node, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let seen = h
        .seen
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("a request");
    check(&seen);
    let recorded = serde_json::to_string(&(&exec, &runs)).expect("json");
    assert!(!recorded.contains(secret_text), "secret leaked: {recorded}");
    let out = exec.output.expect("output");
    assert_eq!(out["body"]["query"]["plain"], "1");
}

#[tokio::test]
async fn bearer_credential_is_sent_and_never_recorded() {
    let secret = json!({"type": "bearer", "token": "tok-9f8e7d6c"});
    credential_case(secret, "tok-9f8e7d6c", |seen| {
        assert_eq!(seen["headers"]["authorization"], "Bearer tok-9f8e7d6c");
    })
    .await;
}

#[tokio::test]
async fn basic_credential_is_sent_and_never_recorded() {
    let secret = json!({"type": "basic", "username": "ann", "password": "pw-hunter2"});
    credential_case(secret, "pw-hunter2", |seen| {
        // base64("ann:pw-hunter2")
        assert_eq!(
            seen["headers"]["authorization"],
            "Basic YW5uOnB3LWh1bnRlcjI="
        );
    })
    .await;
    // The encoded form is a secret too.
    let secret = json!({"type": "basic", "username": "ann", "password": "pw-hunter2"});
    credential_case(secret, "YW5uOnB3LWh1bnRlcjI=", |_| {}).await;
}

#[tokio::test]
async fn header_credential_is_sent_and_never_recorded() {
    let secret = json!({"type": "header", "name": "X-Api-Key", "value": "key-31415926"});
    credential_case(secret, "key-31415926", |seen| {
        assert_eq!(seen["headers"]["x-api-key"], "key-31415926");
    })
    .await;
}

#[tokio::test]
async fn query_credential_is_sent_and_never_recorded() {
    let secret = json!({"type": "query", "name": "api_key", "value": "q/s3cr3t+v&1"});
    credential_case(secret, "q/s3cr3t+v&1", |seen| {
        assert_eq!(seen["query"]["api_key"], "q/s3cr3t+v&1");
    })
    .await;
    let secret = json!({"type": "query", "name": "api_key", "value": "q/s3cr3t+v&1"});
    credential_case(secret, "q%2Fs3cr3t%2Bv%261", |_| {}).await;
}

#[tokio::test]
async fn credential_errors_name_the_credential_never_its_content() {
    let h = harness().await;
    let secret = json!({"type": "oauth9", "token": "zz-top-secret"});
    h.vault
        .create("odd", "http", Secret::new(secret))
        .await
        .expect("credential");
    let node = json!({"params": {"url": h.url("/echo/x"), "credential": "odd"}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 1, "credential odd: unknown shape");
    assert!(
        !serde_json::to_string(&(&exec, &runs))
            .expect("json")
            .contains("zz-top-secret")
    );

    let node = json!({"params": {"url": h.url("/echo/x"), "credential": "nope"}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 1, "credential nope: not found");

    let bare = Engine::new(h.store.clone());
    let node = json!({"params": {"url": h.url("/echo/x"), "credential": "odd"}});
    let (exec, runs) = run_on(&bare, &h.store, node, json!({})).await;
    failed_with(
        &exec,
        &runs,
        1,
        "credential odd: this engine has no vault (set FLOWORK_MASTER_KEY)",
    );
    assert!(
        h.seen.requests.lock().expect("lock").is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let h = harness().await;
    let node =
        json!({"params": {"url": h.url("/flaky")}, "retry": {"max_attempts": 3, "backoff_ms": 10}});
    let (exec, runs) = h.run(node, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(exec.output.expect("output")["body"], json!({"call": 3}));
    let calls = calls(&runs);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].status, NodeRunStatus::Failed);
    let first = calls[0].error.as_deref().expect("error");
    assert!(
        first.contains("HTTP 500") && first.contains("try later"),
        "{first}"
    );
    assert_eq!(calls[2].status, NodeRunStatus::Succeeded);
}

#[tokio::test]
async fn client_errors_fail_without_retry() {
    let h = harness().await;
    let node = json!({"params": {"url": h.url("/missing")}, "retry": {"max_attempts": 3, "backoff_ms": 10}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 1, "HTTP 404 Not Found from GET");
    assert!(
        exec.error
            .expect("error")
            .ends_with("/missing: no such thing")
    );
}

#[tokio::test]
async fn oversized_bodies_fail_loudly() {
    let h = harness().await;
    for path in ["/big", "/chunked"] {
        let node = json!({"params": {"url": h.url(path), "max_response_bytes": 1_000_000},
                          "retry": {"max_attempts": 3, "backoff_ms": 10}});
        let (exec, runs) = h.run(node, json!({})).await;
        failed_with(
            &exec,
            &runs,
            1,
            "response body exceeds max_response_bytes (1000000)",
        );
    }
    let node = json!({"params": {"url": h.url("/big")}});
    let (exec, _) = h.run(node, json!({})).await;
    assert_eq!(
        exec.status,
        ExecutionStatus::Succeeded,
        "the default limit is 10 MiB"
    );
}

#[tokio::test]
async fn bad_urls_fail_naming_the_parameter() {
    let h = harness().await;
    for url in [
        "not a url {{ .input.x }}",
        "ftp://example.com/x",
        "{{ .input.n }}",
    ] {
        let (exec, runs) = h
            .run(
                json!({"params": {"url": url}}),
                json!({"x": "here", "n": 5}),
            )
            .await;
        failed_with(&exec, &runs, 1, "params.url: ");
    }
    let (exec, _) = h
        .run(
            json!({"params": {"url": "nope{{ .input.x }}"}}),
            json!({"x": "here"}),
        )
        .await;
    assert!(exec.error.expect("error").contains("\"nopehere\""));
}

#[tokio::test]
async fn text_binary_and_broken_json_bodies() {
    let h = harness().await;
    let (exec, _) = h
        .run(json!({"params": {"url": h.url("/text")}}), json!({}))
        .await;
    let out = exec.output.expect("output");
    assert_eq!(out["body"], "hello, world");
    assert!(
        out["headers"]["content-type"]
            .as_str()
            .expect("string")
            .starts_with("text/plain")
    );

    let (exec, _) = h
        .run(json!({"params": {"url": h.url("/binary")}}), json!({}))
        .await;
    let out = exec.output.expect("output");
    assert_eq!(out["body"], Value::Null);
    assert_eq!(out["body_base64"], "AJ+Slg==");

    let node = json!({"params": {"url": h.url("/bad-json")}, "retry": {"max_attempts": 2, "backoff_ms": 10}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(
        &exec,
        &runs,
        2,
        "the response says it is JSON but does not parse",
    );
}

#[tokio::test]
async fn node_timeout_stops_a_slow_server() {
    let h = harness().await;
    let started = std::time::Instant::now();
    let node = json!({"params": {"url": h.url("/slow")}, "timeout_ms": 300});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 1, "timed out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn refused_connections_are_retryable() {
    let h = harness().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/x", closed.local_addr().expect("addr"));
    drop(closed);
    let node = json!({"params": {"url": url}, "retry": {"max_attempts": 2, "backoff_ms": 10}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 2, "GET http://127.0.0.1");
}

#[tokio::test]
async fn a_rejected_credential_is_scrubbed_from_the_error() {
    let h = harness().await;
    let secret = json!({"type": "bearer", "token": "tok-rejected-1"});
    h.vault
        .create("api", "http", Secret::new(secret))
        .await
        .expect("credential");
    let node = json!({"params": {"url": h.url("/deny"), "credential": "api"}});
    let (exec, runs) = h.run(node, json!({})).await;
    failed_with(&exec, &runs, 1, "HTTP 401 Unauthorized from GET");
    let error = exec.error.clone().expect("error");
    assert!(
        error.ends_with("invalid credentials Bearer [redacted]"),
        "{error}"
    );
    assert!(
        !serde_json::to_string(&(&exec, &runs))
            .expect("json")
            .contains("tok-rejected-1")
    );
}

#[tokio::test]
async fn header_credentials_do_not_follow_cross_origin_redirects() {
    let h = harness().await;
    let secret = json!({"type": "header", "name": "x-api-key", "value": "key-27182818"});
    h.vault
        .create("api", "http", Secret::new(secret))
        .await
        .expect("credential");
    let elsewhere = h.url("/echo/r").replace("127.0.0.1", "localhost");
    let same = h.url("/echo/r");
    let node = |to: &str, cred: bool| {
        let mut params = json!({"url": h.url("/redirect"), "query": {"to": to}});
        if cred {
            params["credential"] = json!("api");
        }
        json!({"params": params})
    };
    let (exec, runs) = h.run(node(&elsewhere, true), json!({})).await;
    failed_with(
        &exec,
        &runs,
        1,
        "redirect to another origin (http://localhost:",
    );
    let (exec, _) = h.run(node(&same, true), json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let (exec, _) = h.run(node(&elsewhere, false), json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let seen = h.seen.requests.lock().expect("lock");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["headers"]["x-api-key"], "key-27182818");
    assert!(seen[1]["headers"].get("x-api-key").is_none());
}
