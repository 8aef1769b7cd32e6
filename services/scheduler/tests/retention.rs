//! Execution history retention against a real SQLite store: one pass deletes what finished before
//! the cutoff (in as many batches as it takes), keeps what finished after it and everything
//! unfinished; `retention_days = 0` keeps history forever.

use std::sync::Arc;
use std::time::Duration;

use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_scheduler::retention;
use flowork_storage::{
    ExecutionFilter, ExecutionUpdate, NewExecution, NewWorkflow, NodeRun, Page, StorageError, Store,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(86_400);

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    wf: WorkflowId,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    let wf = WorkflowId::new();
    let new = NewWorkflow {
        id: wf,
        name: "r".into(),
        active: true,
    };
    store.create_workflow(new).await.expect("workflow");
    Harness {
        _dir: dir,
        store,
        wf,
    }
}

impl Harness {
    /// An execution with one node run, moved to `status` (its finished_at is "now" if terminal).
    async fn execution(&self, status: ExecutionStatus) -> ExecutionId {
        let s = &self.store;
        let new = NewExecution {
            id: ExecutionId::new(),
            workflow_id: self.wf,
            version: 1,
            trigger: "manual".into(),
            input: json!({}),
            parent_id: None,
            started: false,
        };
        let id = s.create_execution(new).await.expect("create").id;
        let run = NodeRun {
            execution_id: id,
            node_id: "a".into(),
            attempt: 1,
            status: NodeRunStatus::Succeeded,
            input: json!({}),
            output: Some(json!(1)),
            port: None,
            error: None,
            gas: 0,
            started_at: Timestamp::now(),
            finished_at: Some(Timestamp::now()),
        };
        s.put_node_run(run).await.expect("node run");
        if status != ExecutionStatus::Queued {
            let update = ExecutionUpdate {
                status,
                output: None,
                error: None,
            };
            s.update_execution(id, update).await.expect("status");
        }
        id
    }

    async fn exists(&self, id: ExecutionId) -> bool {
        match self.store.get_execution(id).await {
            Ok(_) => {
                assert!(
                    !self
                        .store
                        .list_node_runs(id)
                        .await
                        .expect("runs")
                        .is_empty()
                );
                true
            }
            Err(StorageError::NotFound { .. }) => {
                assert!(
                    self.store
                        .list_node_runs(id)
                        .await
                        .expect("runs")
                        .is_empty(),
                    "node runs go with their execution"
                );
                false
            }
            Err(e) => panic!("get execution: {e}"),
        }
    }
}

/// Waits until the clock has moved on, so "before" and "after" are distinct milliseconds.
async fn tick() -> Timestamp {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let t = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pass_deletes_old_finished_and_keeps_recent_and_unfinished() {
    let h = harness().await;
    // Unfinished ones created first, so they are the oldest of all.
    let mut unfinished = Vec::new();
    for st in [
        ExecutionStatus::Queued,
        ExecutionStatus::Running,
        ExecutionStatus::Waiting,
    ] {
        unfinished.push(h.execution(st).await);
    }
    let mut old = Vec::new();
    for st in [
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Cancelled,
    ] {
        old.push(h.execution(st).await);
    }
    let cutoff = tick().await;
    let recent = h.execution(ExecutionStatus::Succeeded).await;

    // 30 days after the cutoff, a 30-day retention deletes what finished before the cutoff.
    let now = cutoff.after(30 * DAY);
    assert_eq!(
        retention::pass(h.store.as_ref(), now, 0)
            .await
            .expect("days 0"),
        0,
        "0 keeps history forever"
    );
    assert_eq!(
        retention::pass(h.store.as_ref(), now, 31)
            .await
            .expect("31 days"),
        0,
        "nothing is 31 days old yet"
    );
    assert_eq!(
        retention::pass(h.store.as_ref(), now, 30)
            .await
            .expect("pass"),
        3
    );
    for id in &old {
        assert!(!h.exists(*id).await, "finished long ago: deleted");
    }
    assert!(h.exists(recent).await, "finished recently: kept");
    for id in &unfinished {
        assert!(h.exists(*id).await, "unfinished: kept");
    }
    assert_eq!(
        retention::pass(h.store.as_ref(), now, 30)
            .await
            .expect("again"),
        0,
        "a second pass finds nothing"
    );

    // Far in the future everything finished goes, and still nothing unfinished.
    let far = Timestamp::now().after(400 * DAY);
    assert_eq!(
        retention::pass(h.store.as_ref(), far, 30)
            .await
            .expect("far"),
        1
    );
    let left = h
        .store
        .list_executions(ExecutionFilter::default(), Page::default())
        .await
        .expect("list");
    let mut left: Vec<_> = left.into_iter().map(|e| e.id).collect();
    left.sort();
    unfinished.sort();
    assert_eq!(left, unfinished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_runs_batches_until_one_comes_back_short() {
    let h = harness().await;
    let n = retention::BATCH as usize + 5;
    for _ in 0..n {
        h.execution(ExecutionStatus::Succeeded).await;
    }
    let keep = h.execution(ExecutionStatus::Running).await;
    let now = Timestamp::now().after(31 * DAY);
    assert_eq!(
        retention::pass(h.store.as_ref(), now, 30)
            .await
            .expect("pass"),
        n as u64
    );
    assert!(h.exists(keep).await);
}

#[tokio::test]
async fn spawn_is_off_for_0_days_and_stops_on_shutdown() {
    let h = harness().await;
    let shutdown = CancellationToken::new();
    assert!(retention::spawn(h.store.clone(), 0, shutdown.clone()).is_none());
    let task = retention::spawn(h.store.clone(), 30, shutdown.clone()).expect("on by default");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .expect("no panic");
}

#[tokio::test]
async fn a_pass_also_drops_claims_as_old_as_the_history() {
    let h = harness().await;
    let s = &h.store;
    for ns in ["executions", "deliveries", "other"] {
        s.kv_put(ns, "k", b"v".to_vec(), flowork_storage::Expect::Any)
            .await
            .expect("claim");
    }
    // As of 31 days from now, with 30 days of history, today's claims are a day too old.
    let later = Timestamp(Timestamp::now().millis() + 31 * DAY.as_millis() as i64);
    retention::pass(s.as_ref(), later, 30).await.expect("pass");
    for ns in ["executions", "deliveries"] {
        assert!(
            s.kv_get(ns, "k").await.expect("get").is_none(),
            "{ns} claim kept"
        );
    }
    assert!(
        s.kv_get("other", "k").await.expect("get").is_some(),
        "not retention's to drop"
    );
    // With 40 days of history they are recent: nothing goes.
    s.kv_put(
        "executions",
        "k",
        b"v".to_vec(),
        flowork_storage::Expect::Any,
    )
    .await
    .expect("claim");
    retention::pass(s.as_ref(), later, 40).await.expect("pass");
    assert!(s.kv_get("executions", "k").await.expect("get").is_some());
}
