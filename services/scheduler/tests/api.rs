//! The engine API over real HTTP on loopback, over a real SQLite store.

use std::time::Duration;

use flowork_scheduler::{Engine, Runner};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Api {
    _dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
}

async fn api() -> Api {
    serve(false).await
}

async fn serve(with_vault: bool) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    let mut engine = Engine::new(store.clone());
    if with_vault {
        let key = flowork_vault::MasterKey::generate().expect("key");
        let vault = flowork_vault::Vault::open(store, key).await.expect("vault");
        engine = engine.with_vault(std::sync::Arc::new(vault));
    }
    let runner = Runner::new(engine, CancellationToken::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = flowork_scheduler::api::router(runner);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api {
        _dir: dir,
        base,
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn orders() -> Value {
    json!({"name": "Orders over 100",
      "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "total", "type": "core.set", "params": {"value": "{order: .input.id, total: (.input.items | map(.price) | add)}"}},
        {"id": "big", "type": "core.if", "params": {"condition": ".input.total > 100"}},
        {"id": "yes", "type": "core.set", "params": {"value": "{big: .input.order}"}}],
      "edges": [{"from": "start", "to": "total"}, {"from": "total", "to": "big"}, {"from": "big", "port": "true", "to": "yes"}]})
}

#[tokio::test]
async fn create_run_and_inspect_a_workflow() {
    let api = api().await;
    let (code, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(orders()))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{wf}");
    assert_eq!(wf["version"], 1);
    let id = wf["id"].as_str().expect("id").to_owned();

    let input = json!({"id": 7, "items": [{"price": 80}, {"price": 70}]});
    let (code, exec) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            Some(input),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{exec}");
    assert_eq!(exec["status"], "succeeded");
    assert_eq!(exec["output"], json!({"big": 7}));

    let ex = exec["id"].as_str().expect("id");
    let (code, detail) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/executions/{ex}"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let runs = detail["node_runs"].as_array().expect("node runs");
    assert_eq!(runs.len(), 4);
    let big = runs.iter().find(|r| r["node_id"] == "big").expect("big");
    assert_eq!(
        (big["status"].as_str(), big["port"].as_str()),
        (Some("succeeded"), Some("true"))
    );

    let (code, list) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/executions?workflow_id={id}&status=succeeded"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Asynchronous run: 202 at once, then it finishes.
    let (code, exec) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/run"),
            Some(json!({"id": 1, "items": []})),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{exec}");
    let ex = exec["id"].as_str().expect("id").to_owned();
    let mut status = String::new();
    for _ in 0..100 {
        let (_, e) = api
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/executions/{ex}"),
                None,
            )
            .await;
        status = e["status"].as_str().unwrap_or_default().to_owned();
        if status == "succeeded" || status == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An empty `add` is null, `null > 100` is false, so `yes` is skipped and the run succeeds.
    assert_eq!(status, "succeeded");
}

#[tokio::test]
async fn versions_chain_and_stale_edits_conflict() {
    let api = api().await;
    let (_, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(orders()))
        .await;
    let id = wf["id"].as_str().expect("id").to_owned();
    let mut edited = orders();
    edited["name"] = json!("Renamed");
    let res = api
        .http
        .put(format!("{}/api/v1/workflows/{id}", api.base))
        .header("if-match", "1")
        .json(&edited)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), StatusCode::OK);
    let res = api
        .http
        .put(format!("{}/api/v1/workflows/{id}", api.base))
        .header("if-match", "1")
        .json(&edited)
        .send()
        .await
        .expect("put");
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "someone saved version 2 first"
    );
    let (_, got) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/workflows/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (got["name"].as_str(), got["version"].as_u64()),
        (Some("Renamed"), Some(2))
    );
    assert_eq!(got["workflow"]["name"], "Renamed");
}

#[tokio::test]
async fn bad_input_gets_problem_json_naming_the_field() {
    let api = api().await;
    let mut bad = orders();
    bad["nodes"][1]["params"]["value"] = json!("{order: .input.id");
    let (code, p) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(bad))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(
        (p["node"].as_str(), p["field"].as_str()),
        (Some("total"), Some("params.value")),
        "{p}"
    );
    assert!(p["errors"].as_array().is_some_and(|e| !e.is_empty()));

    let res = api
        .http
        .post(format!("{}/api/v1/workflows", api.base))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    for (path, field) in [
        ("/api/v1/workflows/nope", "id"),
        ("/api/v1/executions/wf_nope", "id"),
        ("/api/v1/executions?status=bogus", "status"),
        ("/api/v1/executions?limit=-1", "limit"),
    ] {
        let (code, p) = api.call(reqwest::Method::GET, path, None).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{path}: {p}");
        assert_eq!(p["field"], field, "{path}: {p}");
    }
    let missing = flowork_model::WorkflowId::new();
    let (code, _) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/workflows/{missing}"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{missing}/run"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn yaml_workflows_catalog_and_openapi() {
    let api = api().await;
    let yaml = "name: Hello\nnodes:\n  - id: start\n    type: trigger.manual\n  - id: hi\n    type: core.set\n    params: {value: '\"hi \\(.input.name)\"'}\nedges: [{from: start, to: hi}]\n";
    let res = api
        .http
        .post(format!("{}/api/v1/workflows", api.base))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, exec) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            Some(json!({"name": "Ada"})),
        )
        .await;
    assert_eq!(exec["output"], "hi Ada");

    let (code, nodes) = api.call(reqwest::Method::GET, "/api/v1/nodes", None).await;
    assert_eq!(code, StatusCode::OK);
    let http = nodes
        .as_array()
        .and_then(|n| n.iter().find(|n| n["type"] == "core.http"))
        .expect("core.http");
    assert_eq!(
        http["params_schema"]["properties"]["url"]["x-flowork-template"],
        true
    );

    let (code, doc) = api
        .call(reqwest::Method::GET, "/api/openapi.json", None)
        .await;
    assert_eq!(code, StatusCode::OK);
    for path in [
        "/api/v1/workflows",
        "/api/v1/workflows/{id}",
        "/api/v1/workflows/{id}/run",
        "/api/v1/executions",
        "/api/v1/executions/{id}",
        "/api/v1/executions/{id}/cancel",
        "/api/v1/nodes",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn credentials_are_write_only() {
    let api = serve(true).await;
    let secret = "s3cr3t-token-value";
    let body =
        json!({"name": "github", "kind": "bearer", "secret": {"type": "bearer", "token": secret}});
    let (code, created) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/credentials",
            Some(body.clone()),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["name"].as_str(), created["kind"].as_str()),
        (Some("github"), Some("bearer"))
    );
    let (code, dup) = api
        .call(reqwest::Method::POST, "/api/v1/credentials", Some(body))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{dup}");
    let mut seen = vec![created, dup];
    for path in ["/api/v1/credentials", "/api/v1/credentials/github"] {
        let (code, v) = api.call(reqwest::Method::GET, path, None).await;
        assert_eq!(code, StatusCode::OK);
        seen.push(v);
    }
    let (code, v) = api
        .call(
            reqwest::Method::PUT,
            "/api/v1/credentials/github",
            Some(json!({"secret": {"type": "bearer", "token": "new-secret-value"}})),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    seen.push(v);
    for v in &seen {
        let text = v.to_string();
        assert!(
            !text.contains(secret)
                && !text.contains("new-secret-value")
                && !text.contains("sealed"),
            "{text}"
        );
    }
    let (code, p) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/credentials",
            Some(json!({"name": "bad name!", "kind": "bearer", "secret": {}})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(p["field"], "name", "{p}");
    let (code, p) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/credentials",
            Some(json!({"name": "x", "kind": "bearer"})),
        )
        .await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("secret"))
    );
    let (code, _) = api
        .call(reqwest::Method::DELETE, "/api/v1/credentials/github", None)
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, _) = api
        .call(reqwest::Method::GET, "/api/v1/credentials/github", None)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    let (code, p) = api_without_vault_lists_credentials().await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{p}");
}

async fn api_without_vault_lists_credentials() -> (StatusCode, Value) {
    api()
        .await
        .call(reqwest::Method::GET, "/api/v1/credentials", None)
        .await
}

#[tokio::test]
async fn replay_reruns_from_a_node_with_recorded_inputs_and_edited_params() {
    let api = api().await;
    let (_, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(orders()))
        .await;
    let id = wf["id"].as_str().expect("id").to_owned();
    let input = json!({"id": 7, "items": [{"price": 80}, {"price": 70}]});
    let (_, first) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            Some(input),
        )
        .await;
    let old = first["id"].as_str().expect("id").to_owned();

    let body =
        json!({"from": "big", "params": {"yes": {"value": "{big: .input.order, replayed: true}"}}});
    let (code, replay) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/executions/{old}/replay?wait=true"),
            Some(body),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{replay}");
    assert_eq!(replay["status"], "succeeded");
    assert_eq!(replay["parent_id"], old.as_str());
    assert_eq!(replay["version"], 2, "the edit was saved as a new version");
    assert_eq!(replay["output"], json!({"big": 7, "replayed": true}));

    let (_, before) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/executions/{old}"),
            None,
        )
        .await;
    let (_, after) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/executions/{}", replay["id"].as_str().expect("id")),
            None,
        )
        .await;
    let run_of = |e: &Value, node: &str| {
        e["node_runs"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["node_id"] == node).cloned())
            .expect("run")
    };
    // Upstream nodes are the recorded checkpoints, not new runs.
    assert_eq!(
        run_of(&before, "total")["started_at"],
        run_of(&after, "total")["started_at"]
    );
    assert_eq!(
        run_of(&before, "total")["output"],
        run_of(&after, "total")["output"]
    );
    assert_eq!(
        run_of(&after, "big")["input"],
        json!({"order": 7, "total": 150})
    );

    let (code, p) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/executions/{old}/replay"),
            Some(json!({"from": "nope"})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{p}");
    let (code, p) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/executions/{old}/replay"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("from"))
    );
}

#[tokio::test]
async fn webhooks_start_active_workflows_and_answer_with_the_result() {
    let api = serve(true).await;
    let doc = json!({"name": "hook", "active": false, "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "orders/new", "method": "POST", "respond": "last_node"}},
        {"id": "total", "type": "core.set", "params": {"value": "{total: (.input.body.items | map(.price) | add), q: .input.query.src}"}},
        {"id": "reply", "type": "core.respond", "params": {"status": 201, "headers": {"x-total": "{{ .input.total }}"}, "body": ".input"}}],
      "edges": [{"from": "hook", "to": "total"}, {"from": "total", "to": "reply"}]});
    let (_, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(doc))
        .await;
    let id = wf["id"].as_str().expect("id").to_owned();
    let hook = format!("{}/webhook/orders/new?src=shop", api.base);
    let body = json!({"items": [{"price": 2}, {"price": 3}]});

    let res = api.http.post(&hook).json(&body).send().await.expect("post");
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a workflow saved with \"active\": false does not listen"
    );
    assert_eq!(wf["active"], json!(false));
    assert!(
        wf["workflow"].get("active").is_none(),
        "a save option, not part of the document"
    );
    // Saved without it: live at once.
    let live = json!({"name": "live", "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "live", "respond": "last_node"}}]});
    let (code, saved) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(live))
        .await;
    assert_eq!(
        (code, saved["active"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    let res = api
        .http
        .post(format!("{}/webhook/live", api.base))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/activate"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);

    let res = api.http.post(&hook).json(&body).send().await.expect("post");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["x-total"], "5");
    assert_eq!(
        res.json::<Value>().await.expect("json"),
        json!({"total": 5, "q": "shop"})
    );
    let res = api.http.get(&hook).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "only POST is wired");

    let (code, _) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/workflows/{id}/deactivate"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let res = api.http.post(&hook).json(&body).send().await.expect("post");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signed_webhooks_need_a_valid_hmac_and_immediate_ones_answer_202() {
    use hmac::Mac;
    let api = serve(true).await;
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/credentials",
            Some(json!({"name": "hook-secret", "kind": "hmac", "secret": {"secret": "shh"}})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let doc = json!({"name": "signed", "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "signed", "secret": "hook-secret"}},
        {"id": "log", "type": "core.set", "params": {"value": ".input.body"}}],
      "edges": [{"from": "hook", "to": "log"}]});
    let (_, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(doc))
        .await;
    api.call(
        reqwest::Method::POST,
        &format!(
            "/api/v1/workflows/{}/activate",
            wf["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let url = format!("{}/webhook/signed", api.base);
    let body = br#"{"event":"paid"}"#;

    let res = api
        .http
        .post(&url)
        .body(body.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "unsigned");
    let res = api
        .http
        .post(&url)
        .header("x-flowork-signature", "sha256=00")
        .body(body.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "wrong signature");

    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"shh").expect("key");
    mac.update(body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let res = api
        .http
        .post(&url)
        .header("x-flowork-signature", sig)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let ex = res.json::<Value>().await.expect("json")["execution_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, e) = api
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/executions/{ex}"),
                None,
            )
            .await;
        status = e["status"].clone();
        if status == "succeeded" {
            assert_eq!(e["output"], json!({"event": "paid"}));
            assert_eq!(e["trigger"], "hook");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "succeeded");
}

#[tokio::test]
async fn clients_that_hang_up_leave_no_execution_stuck_queued() {
    let api = api().await;
    let (_, wf) = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(orders()))
        .await;
    let run = format!(
        "{}/api/v1/workflows/{}/run",
        api.base,
        wf["id"].as_str().expect("id")
    );
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(2))
        .build()
        .expect("client");
    for _ in 0..60 {
        let _ = impatient
            .post(&run)
            .json(&json!({"id": 1, "items": []}))
            .send()
            .await;
    }
    let mut stuck = usize::MAX;
    for _ in 0..200 {
        let (_, list) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/executions?status=queued",
                None,
            )
            .await;
        let (_, running) = api
            .call(
                reqwest::Method::GET,
                "/api/v1/executions?status=running",
                None,
            )
            .await;
        stuck = list.as_array().map_or(0, Vec::len) + running.as_array().map_or(0, Vec::len);
        if stuck == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        stuck, 0,
        "executions left queued or running after their clients hung up"
    );
}
