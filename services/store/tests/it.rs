//! The store service, in-process on `127.0.0.1:0` over a real store, driven through
//! `RemoteStore` (as the engine would) and through the raw gRPC client (as a hostile peer would).

#[path = "it/harness.rs"]
mod harness;
#[path = "it/round_trip.rs"]
mod round_trip;

use std::time::Duration;

use flowork_model::{ExecutionId, WorkflowId};
use flowork_proto::v1 as pb;
use flowork_storage::{
    Backend, CredentialStore, ExecutionStore, KvStore, StorageError, Store, UserStore,
    WorkflowStore,
};
use harness::{Service, problem};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_round_trip_of_every_rpc() {
    let svc = Service::sqlite().await;
    let remote = svc.remote().await;
    round_trip::all(&remote, Backend::Sqlite).await;
    svc.stop_within(Duration::from_secs(6))
        .await
        .expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_round_trip_of_every_rpc() {
    let Some(svc) = Service::postgres().await else {
        return;
    };
    let remote = svc.remote().await;
    // Run on its own task so a failed check still reaches the schema cleanup below.
    let outcome =
        tokio::spawn(async move { round_trip::all(&remote, Backend::Postgres).await }).await;
    svc.stop_within(Duration::from_secs(6))
        .await
        .expect("clean stop");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn not_found_comes_back_with_its_entity_and_id() {
    let svc = Service::sqlite().await;
    let s = svc.remote().await;
    let (wf, ex) = (WorkflowId::new(), ExecutionId::new());
    let expect = |r: Result<_, StorageError>, entity: &str, id: String| match r {
        Err(StorageError::NotFound { entity: e, id: i }) => assert_eq!((e, i), (entity, id)),
        other => panic!("expected {entity} not found, got {other:?}"),
    };
    expect(
        s.get_workflow(wf).await.map(drop),
        "workflow",
        wf.to_string(),
    );
    expect(s.delete_workflow(wf).await, "workflow", wf.to_string());
    expect(
        s.get_version(wf, 3).await.map(drop),
        "workflow version",
        format!("{wf}@3"),
    );
    expect(
        s.get_execution(ex).await.map(drop),
        "execution",
        ex.to_string(),
    );
    expect(
        s.get_credential("nope").await.map(drop),
        "credential",
        "nope".into(),
    );
    expect(
        s.get_user_by_name("nobody").await.map(drop),
        "user",
        "nobody".into(),
    );
}

/// Sends `$call` on the raw client and asserts InvalidArgument naming `$field`.
macro_rules! assert_invalid {
    ($client:expr, $method:ident($req:expr), $field:literal) => {{
        let status = $client
            .$method($req)
            .await
            .expect_err(concat!(stringify!($method), " must fail"));
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            stringify!($method)
        );
        let p = problem(&status);
        assert_eq!(
            (p.status, p.field.as_deref()),
            (400, Some($field)),
            "{}: {p:?}",
            stringify!($method)
        );
        assert!(p.detail.starts_with(concat!($field, ": ")), "{p:?}");
    }};
}

fn json(bytes: &[u8]) -> Option<pb::Json> {
    Some(pb::Json {
        utf8: bytes.to_vec(),
    })
}

#[tokio::test]
async fn invalid_input_is_invalid_argument_naming_the_field() {
    let svc = Service::sqlite().await;
    let mut c = svc.raw().await;
    let wf = WorkflowId::new().to_string();
    let ex = ExecutionId::new().to_string();

    assert_invalid!(
        c,
        get_workflow(pb::WorkflowRef {
            id: "wf_nope".into()
        }),
        "id"
    );
    assert_invalid!(c, list_versions(pb::WorkflowRef { id: ex.clone() }), "id");
    let update = pb::UpdateExecutionRequest {
        id: ex.clone(),
        status: "bogus".into(),
        output: None,
        error: None,
    };
    assert_invalid!(c, update_execution(update), "status");
    let version = pb::WorkflowVersion {
        workflow_id: wf.clone(),
        version: 1,
        hash: "h1".into(),
        record: json(b"{nope"),
        ..Default::default()
    };
    assert_invalid!(c, append_version(version.clone()), "record");
    let import = pb::ImportWorkflowRequest {
        workflow: Some(pb::CreateWorkflowRequest {
            id: wf.clone(),
            name: "w".into(),
            active: true,
        }),
        versions: vec![
            pb::WorkflowVersion {
                record: json(b"{}"),
                ..version.clone()
            },
            version,
        ],
    };
    assert_invalid!(c, import_workflow(import), "versions[1].record");
    assert_invalid!(
        c,
        import_workflow(pb::ImportWorkflowRequest::default()),
        "workflow"
    );
    let exec = pb::CreateExecutionRequest {
        id: ex.clone(),
        workflow_id: wf.clone(),
        version: 1,
        trigger: "manual".into(),
        input: None,
        parent_id: None,
        started: false,
    };
    assert_invalid!(c, create_execution(exec.clone()), "input");
    let orphan = pb::CreateExecutionRequest {
        input: json(b"1"),
        parent_id: Some("ex_123".into()),
        ..exec
    };
    assert_invalid!(c, create_execution(orphan), "parent_id");
    let run = pb::NodeRun {
        execution_id: ex.clone(),
        node_id: "a".into(),
        attempt: 1,
        status: "succeeded".into(),
        input: json(b"null"),
        gas: u64::MAX,
        ..Default::default()
    };
    assert_invalid!(c, put_node_run(run.clone()), "gas");
    assert_invalid!(
        c,
        put_node_run(pb::NodeRun {
            gas: 1,
            started_at: -5,
            ..run.clone()
        }),
        "started_at"
    );
    assert_invalid!(
        c,
        put_node_run(pb::NodeRun {
            gas: 1,
            status: "queued".into(),
            ..run.clone()
        }),
        "status"
    );
    for bad in [String::new(), "a\0b".into(), "p".repeat(65), "ü".repeat(65)] {
        assert_invalid!(
            c,
            put_node_run(pb::NodeRun {
                gas: 1,
                port: Some(bad),
                ..run.clone()
            }),
            "port"
        );
    }
    // 64 characters (128 bytes) is within bounds: the refusal is the missing execution.
    let status = c
        .put_node_run(pb::NodeRun {
            gas: 1,
            port: Some("ü".repeat(64)),
            ..run
        })
        .await
        .expect_err("no such execution");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_invalid!(
        c,
        delete_finished_before(pb::DeleteFinishedBeforeRequest {
            before: -1,
            limit: 10
        }),
        "before"
    );
    assert_invalid!(
        c,
        delete_finished_before(pb::DeleteFinishedBeforeRequest {
            before: 1,
            limit: 0
        }),
        "limit"
    );
    let listing = pb::ListExecutionsRequest {
        workflow_id: None,
        status: Some("done".into()),
        page: None,
    };
    assert_invalid!(c, list_executions(listing), "status");
    let user = pb::CreateUserRequest {
        id: "usr_x".into(),
        username: "a".into(),
        password_hash: "h".into(),
        role: "admin".into(),
    };
    assert_invalid!(c, create_user(user), "id");
    let user = pb::CreateUserRequest {
        id: flowork_model::UserId::new().to_string(),
        username: "a".into(),
        password_hash: "h".into(),
        role: "root".into(),
    };
    assert_invalid!(c, create_user(user), "role");
    let cas = pb::KvPutRequest {
        namespace: "ns".into(),
        key: "k".into(),
        value: vec![],
        expect: Some(pb::kv_put_request::Expect::Absent(false)),
    };
    assert_invalid!(c, kv_put(cas.clone()), "absent");
    assert_invalid!(
        c,
        kv_put(pb::KvPutRequest {
            key: String::new(),
            expect: None,
            ..cas
        }),
        "key"
    );
    assert_invalid!(
        c,
        enqueue(pb::EnqueueRequest {
            queue: "q".into(),
            payload: json(b"[1,"),
            delay_ms: 0
        }),
        "payload"
    );
    assert_invalid!(
        c,
        enqueue(pb::EnqueueRequest {
            queue: "q".into(),
            payload: json(b"1"),
            delay_ms: u64::MAX
        }),
        "delay_ms"
    );
    assert_invalid!(
        c,
        ack(pb::AckRequest {
            id: -1,
            worker: "w".into()
        }),
        "id"
    );
    let extend = pb::ExtendLeaseRequest {
        id: 1,
        worker: "w".into(),
        lease_ms: 1000,
    };
    assert_invalid!(
        c,
        extend_lease(pb::ExtendLeaseRequest {
            id: 0,
            ..extend.clone()
        }),
        "id"
    );
    assert_invalid!(
        c,
        extend_lease(pb::ExtendLeaseRequest {
            worker: String::new(),
            ..extend.clone()
        }),
        "worker"
    );
    assert_invalid!(
        c,
        extend_lease(pb::ExtendLeaseRequest {
            lease_ms: u64::MAX,
            ..extend
        }),
        "lease_ms"
    );
    assert_invalid!(
        c,
        get_credential(pb::CredentialRef {
            name: "a\0b".into()
        }),
        "name"
    );

    // Through RemoteStore the same refusal is a StorageError::Invalid that still names the field.
    let remote = svc.remote().await;
    match remote
        .kv_put("ns", "", vec![], flowork_storage::Expect::Any)
        .await
    {
        Err(StorageError::Invalid(detail)) => assert!(detail.starts_with("key: "), "{detail}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn big_messages_fit() {
    let svc = Service::sqlite().await;
    let s = svc.remote().await;
    let wf = s
        .create_workflow(flowork_storage::NewWorkflow {
            id: WorkflowId::new(),
            name: "big".into(),
            active: true,
        })
        .await
        .expect("create");
    // Twice tonic's 4 MiB default.
    let blob = "x".repeat(8 * 1024 * 1024);
    let v1 = flowork_storage::WorkflowVersion {
        record: serde_json::json!({ "blob": blob }),
        ..round_trip::version(wf.id, 1, None)
    };
    s.append_version(v1.clone())
        .await
        .expect("append a big version");
    assert_eq!(s.get_version(wf.id, 1).await.expect("read it back"), v1);
}

#[tokio::test]
async fn health_reports_the_store_serving() {
    let svc = Service::sqlite().await;
    let mut health = HealthClient::new(svc.channel().await);
    for service in ["", "flowork.v1.Store"] {
        let req = HealthCheckRequest {
            service: service.into(),
        };
        let status = health
            .check(req)
            .await
            .expect("health check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn shutdown_ends_the_server_promptly_with_a_client_connected() {
    let svc = Service::sqlite().await;
    let remote = svc.remote().await;
    remote.ping().await.expect("ping");
    let started = std::time::Instant::now();
    svc.stop_within(Duration::from_secs(4))
        .await
        .expect("clean stop");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        remote.ping().await.is_err(),
        "nothing answers after shutdown"
    );
}

#[tokio::test]
async fn connect_to_nothing_is_a_backend_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    match flowork_store::RemoteStore::connect(addr).await {
        Err(StorageError::Backend(msg)) => assert!(msg.contains(&addr.to_string()), "{msg}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}
