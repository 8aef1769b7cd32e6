//! `core.wait` over real SQLite with the real runner: executions park (`waiting`) without
//! holding a worker, resume when due, re-park when run early, and survive a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_scheduler::{Engine, Runner, StartRequest};
use flowork_storage::{Execution, NewWorkflow, NodeRun, Store, WorkflowVersion};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    flowork_storage::connect(&url, 4).await.expect("store")
}

async fn save(store: &Arc<dyn Store>, doc: Value) -> WorkflowId {
    let id = WorkflowId::new();
    let new = NewWorkflow {
        id,
        name: "t".into(),
        active: true,
    };
    store.create_workflow(new).await.expect("create");
    let v = WorkflowVersion {
        workflow_id: id,
        version: 1,
        hash: "00".repeat(32),
        previous_hash: None,
        author_id: None,
        signed: false,
        record: json!({ "workflow": doc }),
        created_at: Timestamp::now(),
    };
    store.append_version(v).await.expect("version");
    id
}

fn request(workflow_id: WorkflowId, input: Value) -> StartRequest {
    StartRequest {
        workflow_id,
        version: 1,
        trigger: "api".into(),
        input,
        parent_id: None,
    }
}

/// Polls until the execution's status satisfies `done`, or panics after `limit`.
async fn until(
    store: &Arc<dyn Store>,
    id: ExecutionId,
    limit: Duration,
    done: impl Fn(ExecutionStatus) -> bool,
) -> Execution {
    let deadline = Instant::now() + limit;
    loop {
        let exec = store.get_execution(id).await.expect("execution");
        if done(exec.status) {
            return exec;
        }
        assert!(Instant::now() < deadline, "stuck at {:?}", exec.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn runs_of<'a>(runs: &'a [NodeRun], node: &str) -> Vec<&'a NodeRun> {
    runs.iter().filter(|r| r.node_id == node).collect()
}

fn waiting_flow(ms: u64) -> Value {
    json!({ "name": "wait",
      "nodes": [
        {"id": "a", "type": "core.set", "params": {"value": "{x: .input.x}"}},
        {"id": "w", "type": "core.wait", "params": {"duration_ms": ms}},
        {"id": "side", "type": "core.set", "params": {"value": "{side: .input.x}"}},
        {"id": "b", "type": "core.set", "params": {"value": "{done: .input.x}"}}
      ],
      "edges": [{"from": "a", "to": "w"}, {"from": "w", "to": "b"}, {"from": "a", "to": "side"}]})
}

#[tokio::test]
async fn a_wait_parks_the_execution_then_it_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let wf = save(&store, waiting_flow(300)).await;
    let runner = Runner::new(Engine::new(store.clone()), CancellationToken::new());
    let started = Instant::now();
    let exec = runner
        .start(request(wf, json!({"x": 7})))
        .await
        .expect("start");

    let parked = until(&store, exec.id, Duration::from_secs(5), |s| {
        s != ExecutionStatus::Queued && s != ExecutionStatus::Running
    })
    .await;
    assert_eq!(parked.status, ExecutionStatus::Waiting);
    let runs = store.list_node_runs(exec.id).await.expect("runs");
    assert_eq!(runs_of(&runs, "w")[0].status, NodeRunStatus::Waiting);
    // The other branch ran to its end before the execution parked.
    assert_eq!(runs_of(&runs, "side")[0].status, NodeRunStatus::Succeeded);
    assert!(runs_of(&runs, "b").is_empty());

    let done = until(&store, exec.id, Duration::from_secs(5), |s| s.is_terminal()).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"done": 7})));
    assert!(started.elapsed() >= Duration::from_millis(300));
    let runs = store.list_node_runs(exec.id).await.expect("runs");
    let w = runs_of(&runs, "w");
    assert_eq!(w.len(), 1, "the wait keeps its one attempt");
    assert_eq!(w[0].status, NodeRunStatus::Succeeded);
    assert_eq!(
        w[0].output,
        Some(json!({"x": 7})),
        "a wait passes its input on"
    );
}

#[tokio::test]
async fn a_wait_run_early_parks_again_until_it_is_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let wf = save(&store, waiting_flow(60_000)).await;
    let engine = Engine::new(store.clone());
    let new = flowork_storage::NewExecution {
        id: ExecutionId::new(),
        workflow_id: wf,
        version: 1,
        trigger: "api".into(),
        input: json!({"x": 1}),
        parent_id: None,
        started: false,
    };
    let id = store.create_execution(new).await.expect("execution").id;
    let first = engine.run(id, CancellationToken::new()).await.expect("run");
    assert_eq!(first.status, ExecutionStatus::Waiting);
    let before = store.list_node_runs(id).await.expect("runs");
    let again = engine
        .resume(id, CancellationToken::new())
        .await
        .expect("run");
    let flowork_scheduler::engine::Outcome::Parked { execution, until } = again else {
        panic!("an early run must park again");
    };
    assert_eq!(execution.status, ExecutionStatus::Waiting);
    assert!(until.millis() - Timestamp::now().millis() > 50_000);
    let after = store.list_node_runs(id).await.expect("runs");
    assert_eq!(
        before, after,
        "nothing ran again, the wait kept its due time"
    );
}

#[tokio::test]
async fn a_wait_survives_a_restart_without_rerunning_earlier_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store1 = store(&dir).await;
    let wf = save(&store1, waiting_flow(1_500)).await;
    let shutdown = CancellationToken::new();
    let runner = Runner::new(Engine::new(store1.clone()), shutdown.clone());
    let exec = runner
        .start(request(wf, json!({"x": 3})))
        .await
        .expect("start");
    until(&store1, exec.id, Duration::from_secs(5), |s| {
        s == ExecutionStatus::Waiting
    })
    .await;
    let before = store1.list_node_runs(exec.id).await.expect("runs");
    // The process goes away while the execution waits.
    shutdown.cancel();
    drop(runner);

    let store2 = store(&dir).await;
    let _runner = Runner::new(Engine::new(store2.clone()), CancellationToken::new());
    let done = until(&store2, exec.id, Duration::from_secs(10), |s| {
        s.is_terminal()
    })
    .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.output, Some(json!({"done": 3})));
    let after = store2.list_node_runs(exec.id).await.expect("runs");
    for node in ["a", "side"] {
        assert_eq!(
            runs_of(&after, node),
            runs_of(&before, node),
            "{node} ran again"
        );
        assert_eq!(runs_of(&after, node).len(), 1);
    }
    assert_eq!(runs_of(&after, "w").len(), 1);
    assert_eq!(runs_of(&after, "b")[0].status, NodeRunStatus::Succeeded);
}

#[tokio::test]
async fn a_waiting_execution_can_be_cancelled_and_stays_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let wf = save(&store, waiting_flow(300)).await;
    let runner = Runner::new(Engine::new(store.clone()), CancellationToken::new());
    let exec = runner
        .start(request(wf, json!({"x": 1})))
        .await
        .expect("start");
    until(&store, exec.id, Duration::from_secs(5), |s| {
        s == ExecutionStatus::Waiting
    })
    .await;
    let cancelled = runner.cancel(exec.id).await.expect("cancel");
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    // Past the due time the job comes back, finds the execution finished, and drops it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = store.get_execution(exec.id).await.expect("execution");
    assert_eq!(after.status, ExecutionStatus::Cancelled);
    let runs = store.list_node_runs(exec.id).await.expect("runs");
    assert!(
        runs_of(&runs, "b").is_empty(),
        "nothing ran after the cancel"
    );
}
