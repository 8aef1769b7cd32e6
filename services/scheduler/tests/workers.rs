//! Many schedulers on one Redis work queue: two runners (as two processes would) share the jobs,
//! and every execution runs exactly once. And what a worker does with a job a dead process left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowork_model::{ExecutionStatus, Timestamp, WorkflowId};
use flowork_queue::{RedisConfig, RedisQueue};
use flowork_scheduler::{Engine, Runner, StartRequest};
use flowork_storage::{NewWorkflow, Store, WorkflowVersion};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn runner(
    store: Arc<dyn Store>,
    url: &str,
    prefix: &str,
    shutdown: &CancellationToken,
) -> Runner {
    let mut rc = RedisConfig::new(url, "executions");
    rc.prefix = prefix.to_owned();
    rc.lease = Duration::from_secs(5);
    let queue = RedisQueue::connect(rc).await.expect("redis queue");
    Runner::with_queue(
        Engine::new(store),
        Arc::new(queue),
        8,
        Duration::from_secs(5),
        shutdown.child_token(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_share_a_redis_queue_and_run_each_execution_once() {
    let Some(url) = flowork_testkit::redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&db, 8).await.expect("store");
    let prefix = format!("flowork-test:{}", WorkflowId::new());
    let shutdown = CancellationToken::new();
    let a = runner(store.clone(), &url, &prefix, &shutdown).await;
    let b = runner(store.clone(), &url, &prefix, &shutdown).await;

    let id = WorkflowId::new();
    store
        .create_workflow(NewWorkflow {
            id,
            name: "count".into(),
            active: false,
        })
        .await
        .expect("create");
    let doc = json!({"name": "count", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "double", "type": "core.set", "params": {"value": ".input.n * 2"}}],
      "edges": [{"from": "start", "to": "double"}]});
    let version = WorkflowVersion {
        workflow_id: id,
        version: 1,
        hash: "00".repeat(32),
        previous_hash: None,
        author_id: None,
        signed: false,
        record: json!({"workflow": doc}),
        created_at: Timestamp::now(),
    };
    store.append_version(version).await.expect("version");

    // Half the executions are started through each runner; either may run any of them.
    let mut ids = Vec::new();
    for n in 0..40 {
        let via = if n % 2 == 0 { &a } else { &b };
        let req = StartRequest {
            workflow_id: id,
            version: 1,
            trigger: "api".into(),
            input: json!({"n": n}),
            parent_id: None,
        };
        ids.push((n, via.start(req).await.expect("start").id));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for (n, ex) in ids {
        let exec = loop {
            let e = store.get_execution(ex).await.expect("execution");
            if e.status.is_terminal() || Instant::now() > deadline {
                break e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            exec.status,
            ExecutionStatus::Succeeded,
            "execution {n}: {:?}",
            exec.error
        );
        assert_eq!(exec.output, Some(json!(n * 2)));
        let runs = store.list_node_runs(ex).await.expect("runs");
        assert_eq!(
            runs.iter().filter(|r| r.node_id == "double").count(),
            1,
            "execution {n} ran once"
        );
    }
    shutdown.cancel();
    let client = redis::Client::open(url.as_str()).expect("redis client");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut con)
            .await
            .expect("cleanup");
    }
}

/// A process that pushed a job leased to itself (a start) and died before recording the
/// execution leaves a job with nothing to run: once the lease ends, a worker drops it (no retry
/// loop, nothing run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_execution_was_never_recorded_is_dropped() {
    use flowork_queue::{EmbeddedQueue, JobQueue, QueueJob};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&db, 4).await.expect("store");
    let lease = Duration::from_millis(300);
    let queue = EmbeddedQueue::new(store.clone(), "executions").with_lease(lease);
    let ghost = flowork_model::ExecutionId::new();
    let job = QueueJob::new("run", json!({ "execution_id": ghost.to_string() }));
    queue
        .push_leased(&job, "a-dead-process")
        .await
        .expect("push")
        .expect("the embedded queue pushes leased jobs");
    let shutdown = CancellationToken::new();
    let _runner = Runner::embedded(Engine::new(store.clone()), 2, lease, shutdown.clone());
    let started = Instant::now();
    while queue.len().await.expect("len") > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the orphan job is still queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "taken before its lease ended"
    );
    assert!(matches!(
        store.get_execution(ghost).await,
        Err(flowork_storage::StorageError::NotFound { .. })
    ));
    shutdown.cancel();
}
