//! The whole stack on loopback: gateway, store and every other service, as `flowork up` runs them.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use flowork_cli::up::{Stack, launch};
use flowork_kit::{CancellationToken, Config, ServiceName};
use flowork_model::WorkflowId;
use flowork_storage::{NewWorkflow, WorkflowStore, WorkflowVersion};
use flowork_store::RemoteStore;
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn config(data_dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    cfg.gateway.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    cfg
}

fn addr_of(stack: &Stack, name: ServiceName) -> SocketAddr {
    stack
        .services
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .expect("service listed")
}

async fn stop(stack: Stack, token: CancellationToken) {
    token.cancel();
    let code = tokio::time::timeout(Duration::from_secs(10), stack.wait())
        .await
        .expect("stops in time");
    assert_eq!(code, ExitCode::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_serves_health_and_the_store_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Arc::new(config(dir.path()));

    let token = CancellationToken::new();
    let stack = launch(cfg.clone(), token.clone())
        .await
        .expect("stack starts");
    assert_eq!(
        stack.services.len(),
        ServiceName::ALL.len() - 1,
        "every private service listens"
    );

    // Every service process answers grpc.health.v1; only the store's own API is SERVING.
    for (name, addr) in &stack.services {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut health = HealthClient::new(channel);
        let process = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        assert!(process.is_ok(), "{name} process health: {process:?}");
        let own = health
            .check(HealthCheckRequest {
                service: name.health_name(),
            })
            .await;
        match name {
            ServiceName::Store
            | ServiceName::Scheduler
            | ServiceName::Integrity
            | ServiceName::License => {
                assert!(own.is_ok(), "{name} API: {own:?}")
            }
            _ => assert_eq!(
                own.expect_err("not built yet").code(),
                tonic::Code::NotFound,
                "{name}"
            ),
        }
    }

    // The gateway's /healthz agrees.
    let health: serde_json::Value = reqwest::get(format!("http://{}/healthz", stack.gateway_addr))
        .await
        .expect("GET /healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok", "{health}");

    // Write through the store service's gRPC API.
    let store = RemoteStore::connect(addr_of(&stack, ServiceName::Store))
        .await
        .expect("remote store");
    let id = WorkflowId::new();
    store
        .create_workflow(NewWorkflow {
            id,
            name: "Orders over 100".into(),
            active: false,
        })
        .await
        .expect("create");
    let v1 = WorkflowVersion {
        workflow_id: id,
        version: 1,
        hash: "ab".repeat(32),
        previous_hash: None,
        author_id: None,
        signed: false,
        record: json!({"workflow": {"nodes": [], "edges": []}}),
        created_at: flowork_model::Timestamp::now(),
    };
    store.append_version(v1.clone()).await.expect("append");
    drop(store);

    // The engine API answers on the scheduler's port, over the same store.
    let engine = format!("http://{}", addr_of(&stack, ServiceName::Scheduler));
    let http = reqwest::Client::new();
    let doc = json!({"name": "hello", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "hi", "type": "core.set", "params": {"value": "\"hi \\(.input.name)\""}}],
        "edges": [{"from": "start", "to": "hi"}]});
    let wf: serde_json::Value = http
        .post(format!("{engine}/api/v1/workflows"))
        .json(&doc)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let run = format!(
        "{engine}/api/v1/workflows/{}/run?wait=true",
        wf["id"].as_str().expect("id")
    );
    let exec: serde_json::Value = http
        .post(run)
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (exec["status"].as_str(), exec["output"].as_str()),
        (Some("succeeded"), Some("hi Ada")),
        "{exec}"
    );
    stop(stack, token).await;

    // Start again on the same data dir: the workflow and its version are still there.
    let token = CancellationToken::new();
    let stack = launch(cfg, token.clone()).await.expect("restarts");
    let store = RemoteStore::connect(addr_of(&stack, ServiceName::Store))
        .await
        .expect("remote store");
    let wf = store.get_workflow(id).await.expect("kept");
    assert_eq!((wf.name.as_str(), wf.head_version), ("Orders over 100", 1));
    assert_eq!(
        store.get_version(id, 1).await.expect("version kept").record,
        v1.record
    );
    drop(store);
    stop(stack, token).await;
}

#[tokio::test]
async fn a_second_stack_on_a_taken_gateway_port_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut cfg = config(dir.path());
    cfg.gateway.listen = taken.local_addr().expect("addr");
    let err = launch(Arc::new(cfg), CancellationToken::new())
        .await
        .err()
        .expect("port in use");
    assert_eq!(err.exit_code, 2);
    assert!(
        err.error.to_string().contains("gateway.listen"),
        "{}",
        err.error
    );
    assert!(
        !dir.path().join("flowork.db").exists(),
        "nothing is created when a port is taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_reflection_lists_the_store_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let dir = tempfile::tempdir().expect("tempdir");
    let token = CancellationToken::new();
    let stack = launch(Arc::new(config(dir.path())), token.clone())
        .await
        .expect("stack starts");
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        addr_of(&stack, ServiceName::Store)
    ))
    .expect("endpoint")
    .connect()
    .await
    .expect("connect");
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflection")
        .into_inner();
    let res = stream
        .message()
        .await
        .expect("answer")
        .expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = res.message_response else {
        panic!("unexpected reflection answer: {res:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "flowork.v1.Store",
        "flowork.v1.EngineLink",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    stop(stack, token).await;
}
