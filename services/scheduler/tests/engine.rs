//! The executor against a real SQLite store: branches, ports, skips, merges, retries, timeouts,
//! cancellation and resuming from checkpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flowork_model::workflow::{Catalog, CompiledNode, NodeSpec, ParamKind, ParamSpec, Ports};
use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_scheduler::Engine;
use flowork_scheduler::nodes::{NodeContext, NodeError, NodeHandler, NodeOutput, Registry, eval};
use flowork_storage::{NewExecution, NewWorkflow, NodeRun, Store, WorkflowVersion};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

static MS: &[ParamSpec] = &[ParamSpec::required(
    "ms",
    ParamKind::Int {
        min: 0,
        max: 60_000,
    },
    "sleep",
)];
static FAILS: &[ParamSpec] = &[ParamSpec::required(
    "fails",
    ParamKind::Int { min: 0, max: 10 },
    "failures first",
)];

/// Sleeps, then outputs its input; counts how many run at once.
struct Sleep {
    now: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl NodeHandler for Sleep {
    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let ms = eval(&node.params["ms"], &cx.scope)?.as_u64().unwrap_or(0);
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(NodeOutput::main(json!({"slept": ms, "from": node.id})))
    }
}

/// Fails (retryably) its first `fails` calls, then outputs the number of calls.
struct Flaky(AtomicUsize);

#[async_trait]
impl NodeHandler for Flaky {
    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let fails = eval(&node.params["fails"], &cx.scope)?
            .as_u64()
            .unwrap_or(0) as usize;
        let call = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= fails {
            return Err(NodeError::Retryable(format!("flaky failure {call}")));
        }
        Ok(NodeOutput::main(json!({"calls": call})))
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    engine: Engine,
    sleep: Arc<Sleep>,
    flaky: Arc<Flaky>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    let mut catalog = Catalog::builtin();
    let spec = |kind, params| NodeSpec {
        kind,
        title: kind,
        description: "test",
        trigger: false,
        params,
        ports: Ports::Main,
    };
    catalog.register(spec("test.sleep", MS));
    catalog.register(spec("test.flaky", FAILS));
    // Declared but given no handler: how an engine treats a node type it cannot run.
    catalog.register(spec("test.missing", &[]));
    let sleep = Arc::new(Sleep {
        now: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let flaky = Arc::new(Flaky(AtomicUsize::new(0)));
    let mut nodes = Registry::builtin();
    nodes.register("test.sleep", sleep.clone());
    nodes.register("test.flaky", flaky.clone());
    let engine = Engine::with_nodes(store.clone(), catalog, nodes);
    Harness {
        _dir: dir,
        store,
        engine,
        sleep,
        flaky,
    }
}

impl Harness {
    async fn save(&self, doc: Value) -> WorkflowId {
        let id = WorkflowId::new();
        self.store
            .create_workflow(NewWorkflow {
                id,
                name: "t".into(),
                active: true,
            })
            .await
            .expect("create");
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
        self.store.append_version(v).await.expect("version");
        id
    }

    async fn execution(&self, wf: WorkflowId, trigger: &str, input: Value) -> ExecutionId {
        let new = NewExecution {
            id: ExecutionId::new(),
            workflow_id: wf,
            version: 1,
            trigger: trigger.into(),
            input,
            parent_id: None,
            started: false,
        };
        self.store
            .create_execution(new)
            .await
            .expect("execution")
            .id
    }

    async fn run(&self, doc: Value, input: Value) -> (flowork_storage::Execution, Vec<NodeRun>) {
        let wf = self.save(doc).await;
        let id = self.execution(wf, "", input).await;
        let exec = self
            .engine
            .run(id, CancellationToken::new())
            .await
            .expect("engine runs");
        let runs = self.store.list_node_runs(id).await.expect("runs");
        (exec, runs)
    }
}

fn status_of(runs: &[NodeRun], node: &str) -> NodeRunStatus {
    runs.iter()
        .filter(|r| r.node_id == node)
        .max_by_key(|r| r.attempt)
        .map(|r| r.status)
        .unwrap_or_else(|| panic!("no run for {node}"))
}

fn orders() -> Value {
    json!({ "name": "Orders over 100",
      "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "orders", "respond": "last_node"}},
        {"id": "start", "type": "trigger.manual"},
        {"id": "total", "type": "core.set", "params": {"value": "{order: .input.body.id, total: (.input.body.items | map(.price) | add)}"}},
        {"id": "big", "type": "core.if", "params": {"condition": ".input.total > 100"}},
        {"id": "notify", "type": "core.set", "params": {"value": "{notified: .input.order, via: .trigger.path}"}}
      ],
      "edges": [{"from": "hook", "to": "total"}, {"from": "total", "to": "big"}, {"from": "big", "port": "true", "to": "notify"}]})
}

#[tokio::test]
async fn the_taken_branch_runs_and_the_other_is_skipped() {
    let h = harness().await;
    let wf = h.save(orders()).await;
    let input =
        json!({"path": "orders", "body": {"id": 7, "items": [{"price": 80}, {"price": 70}]}});
    let id = h.execution(wf, "hook", input.clone()).await;
    let exec = h
        .engine
        .run(id, CancellationToken::new())
        .await
        .expect("run");
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(exec.output, Some(json!({"notified": 7, "via": "orders"})));
    let runs = h.store.list_node_runs(id).await.expect("runs");
    assert_eq!(
        status_of(&runs, "start"),
        NodeRunStatus::Skipped,
        "the other trigger does not run"
    );
    let big = runs
        .iter()
        .find(|r| r.node_id == "big" && r.status == NodeRunStatus::Succeeded)
        .expect("big");
    assert_eq!(big.port.as_deref(), Some("true"));
    assert_eq!(big.input, json!({"order": 7, "total": 150}));

    let small = json!({"path": "orders", "body": {"id": 8, "items": [{"price": 5}]}});
    let id = h.execution(wf, "hook", small).await;
    let exec = h
        .engine
        .run(id, CancellationToken::new())
        .await
        .expect("run");
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let runs = h.store.list_node_runs(id).await.expect("runs");
    assert_eq!(status_of(&runs, "notify"), NodeRunStatus::Skipped);
    assert_eq!(
        exec.output,
        Some(json!({"order": 8, "total": 5})),
        "the last node that ran"
    );
}

#[tokio::test]
async fn independent_branches_run_concurrently_and_merge_waits_for_both() {
    let h = harness().await;
    let doc = json!({"name": "fan", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "a", "type": "test.sleep", "params": {"ms": 300}},
        {"id": "b", "type": "test.sleep", "params": {"ms": 300}},
        {"id": "c", "type": "test.sleep", "params": {"ms": 300}},
        {"id": "join", "type": "core.merge"}],
      "edges": [{"from": "in", "to": "a"}, {"from": "in", "to": "b"}, {"from": "in", "to": "c"},
                {"from": "a", "to": "join"}, {"from": "b", "to": "join"}, {"from": "c", "to": "join"}]});
    let started = Instant::now();
    let (exec, runs) = h.run(doc, json!({})).await;
    let took = started.elapsed();
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(
        h.sleep.peak.load(Ordering::SeqCst),
        3,
        "all three branches were in flight at once"
    );
    assert!(
        took < Duration::from_millis(850),
        "three 300 ms branches took {took:?}"
    );
    let out = exec.output.expect("output");
    assert_eq!(out["a"]["from"], "a");
    assert_eq!(out["c"]["slept"], 300);
    let join = runs.iter().filter(|r| r.node_id == "join").count();
    assert_eq!(join, 1, "the merge ran once");
}

#[tokio::test]
async fn switch_routes_skips_cascade_and_merge_takes_live_parents_only() {
    let h = harness().await;
    let doc = json!({"name": "route", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "size", "type": "core.switch", "params": {"cases": [
            {"port": "small", "condition": ".input.n < 10"}, {"port": "big", "condition": ".input.n < 100"}]}},
        {"id": "s1", "type": "core.set", "params": {"value": "\"small\""}},
        {"id": "s2", "type": "core.set", "params": {"value": ".input + \"!\""}},
        {"id": "b1", "type": "core.set", "params": {"value": "\"big\""}},
        {"id": "huge", "type": "core.set", "params": {"value": "\"huge\""}},
        {"id": "join", "type": "core.merge", "params": {"mode": "array"}}],
      "edges": [{"from": "in", "to": "size"},
                {"from": "size", "port": "small", "to": "s1"}, {"from": "s1", "to": "s2"},
                {"from": "size", "port": "big", "to": "b1"}, {"from": "size", "port": "default", "to": "huge"},
                {"from": "s2", "to": "join"}, {"from": "b1", "to": "join"}, {"from": "huge", "to": "join"}]});
    let wf = h.save(doc).await;
    for (n, want, skipped) in [
        (5, json!(["small!"]), ["b1", "huge"]),
        (50, json!(["big"]), ["s2", "huge"]),
        (500, json!(["huge"]), ["s1", "b1"]),
    ] {
        let id = h.execution(wf, "", json!({"n": n})).await;
        let exec = h
            .engine
            .run(id, CancellationToken::new())
            .await
            .expect("run");
        assert_eq!(exec.output, Some(want), "n = {n}");
        let runs = h.store.list_node_runs(id).await.expect("runs");
        for s in skipped {
            assert_eq!(
                status_of(&runs, s),
                NodeRunStatus::Skipped,
                "n = {n}, node {s}"
            );
        }
    }
}

#[tokio::test]
async fn retries_back_off_then_succeed_or_fail_for_good() {
    let h = harness().await;
    let doc = |attempts: u32| {
        json!({"name": "flaky", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "f", "type": "test.flaky", "params": {"fails": 2}, "retry": {"max_attempts": attempts, "backoff_ms": 50}}],
      "edges": [{"from": "in", "to": "f"}]})
    };
    let started = Instant::now();
    let (exec, runs) = h.run(doc(3), json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(exec.output, Some(json!({"calls": 3})));
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "backoff 50 then 100 ms"
    );
    let attempts: Vec<(u32, NodeRunStatus)> = runs
        .iter()
        .filter(|r| r.node_id == "f")
        .map(|r| (r.attempt, r.status))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, NodeRunStatus::Failed),
            (2, NodeRunStatus::Failed),
            (3, NodeRunStatus::Succeeded)
        ]
    );

    h.flaky.0.store(0, Ordering::SeqCst);
    let (exec, _) = h.run(doc(2), json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(
        exec.error.as_deref(),
        Some("node \"f\" failed: flaky failure 2")
    );
}

#[tokio::test]
async fn timeouts_fail_cleanly_and_fail_nodes_are_not_retried() {
    let h = harness().await;
    let slow = json!({"name": "slow", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "s", "type": "test.sleep", "params": {"ms": 5000}, "timeout_ms": 100}],
      "edges": [{"from": "in", "to": "s"}]});
    let (exec, _) = h.run(slow, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert!(
        exec.error
            .as_deref()
            .is_some_and(|e| e.contains("timed out after 100 ms")),
        "{:?}",
        exec.error
    );

    let whole = json!({"name": "whole", "settings": {"timeout_ms": 150}, "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "s", "type": "test.sleep", "params": {"ms": 5000}}],
      "edges": [{"from": "in", "to": "s"}]});
    let (exec, _) = h.run(whole, json!({})).await;
    assert!(
        exec.error
            .as_deref()
            .is_some_and(|e| e.contains("workflow timed out after 150 ms")),
        "{:?}",
        exec.error
    );

    let fail = json!({"name": "fail", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "no", "type": "core.fail", "params": {"message": "order {{ .input.id }} is bad"}, "retry": {"max_attempts": 5}}],
      "edges": [{"from": "in", "to": "no"}]});
    let (exec, runs) = h.run(fail, json!({"id": 42})).await;
    assert_eq!(
        exec.error.as_deref(),
        Some("node \"no\" failed: order 42 is bad")
    );
    assert_eq!(
        runs.iter().filter(|r| r.node_id == "no").count(),
        1,
        "core.fail is not retried"
    );
}

#[tokio::test]
async fn cancelling_stops_the_execution() {
    let h = harness().await;
    let doc = json!({"name": "slow", "nodes": [
        {"id": "in", "type": "trigger.manual"}, {"id": "s", "type": "test.sleep", "params": {"ms": 10000}}],
      "edges": [{"from": "in", "to": "s"}]});
    let wf = h.save(doc).await;
    let id = h.execution(wf, "", json!({})).await;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.cancel();
    });
    let started = Instant::now();
    let exec = h.engine.run(id, cancel).await.expect("run");
    assert_eq!(exec.status, ExecutionStatus::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        h.engine.run(id, CancellationToken::new()).await.is_err(),
        "a finished execution does not run again"
    );
}

#[tokio::test]
async fn a_resumed_execution_does_not_rerun_completed_nodes() {
    let h = harness().await;
    let doc = json!({"name": "resume", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "once", "type": "test.flaky", "params": {"fails": 0}},
        {"id": "after", "type": "core.set", "params": {"value": "{calls: .input.calls, first: .nodes.once.calls}"}}],
      "edges": [{"from": "in", "to": "once"}, {"from": "once", "to": "after"}]});
    let wf = h.save(doc).await;
    let id = h.execution(wf, "", json!({"go": true})).await;
    // What a worker that died right after checkpointing `once` leaves behind.
    let now = Timestamp::now();
    let done = |node: &str, output: Value| NodeRun {
        execution_id: id,
        node_id: node.into(),
        attempt: 1,
        status: NodeRunStatus::Succeeded,
        input: json!({"go": true}),
        output: Some(output),
        port: None,
        error: None,
        gas: 0,
        started_at: now,
        finished_at: Some(now),
    };
    h.store
        .put_node_run(done("in", json!({"go": true})))
        .await
        .expect("checkpoint");
    h.store
        .put_node_run(done("once", json!({"calls": 99})))
        .await
        .expect("checkpoint");
    let exec = h
        .engine
        .run(id, CancellationToken::new())
        .await
        .expect("resume");
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(
        h.flaky.0.load(Ordering::SeqCst),
        0,
        "the completed node did not run again"
    );
    assert_eq!(exec.output, Some(json!({"calls": 99, "first": 99})));
}

#[tokio::test]
async fn respond_sets_the_output_and_missing_implementations_fail_loudly() {
    let h = harness().await;
    let doc = json!({"name": "respond", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "r", "type": "core.respond", "params": {"status": 201, "headers": {"x-id": "{{ .input.id }}"}, "body": "{ok: true}"}},
        {"id": "log", "type": "core.set", "params": {"value": "\"after\""}}],
      "edges": [{"from": "in", "to": "r"}, {"from": "r", "to": "log"}]});
    let (exec, _) = h.run(doc, json!({"id": 5})).await;
    assert_eq!(
        exec.output,
        Some(json!({"status": 201, "headers": {"x-id": 5}, "body": {"ok": true}}))
    );

    let missing = json!({"name": "missing", "nodes": [
        {"id": "in", "type": "trigger.manual"}, {"id": "call", "type": "test.missing"}],
      "edges": [{"from": "in", "to": "call"}]});
    let (exec, _) = h.run(missing, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert!(
        exec.error
            .as_deref()
            .is_some_and(|e| e.contains("test.missing is not implemented in this engine yet")),
        "{:?}",
        exec.error
    );
}

#[tokio::test]
async fn an_output_over_the_size_limit_fails_loudly() {
    let h = harness().await;
    let doc = json!({"name": "big", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "big", "type": "core.set", "params": {"value": "[range(0; 20)] | map(\"x\" * 1000000)"}}],
      "edges": [{"from": "in", "to": "big"}]});
    let (exec, runs) = h.run(doc, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    let err = exec.error.unwrap_or_default();
    assert!(err.contains("larger than 16777216 bytes"), "{err}");
    assert!(
        runs.iter()
            .filter(|r| r.node_id == "big")
            .all(|r| r.output.is_none()),
        "nothing oversized was stored"
    );
}

#[tokio::test]
async fn live_events_follow_nodes_and_the_end_of_the_execution() {
    use flowork_scheduler::events::EventKind;
    let h = harness().await;
    let mut rx = h.engine.events();
    let doc = json!({"name": "ev", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "set", "type": "core.set", "params": {"value": ".input.n + 1"}},
        {"id": "boom", "type": "core.fail", "params": {"message": "no"}}],
      "edges": [{"from": "start", "to": "set"}, {"from": "set", "to": "boom"}]});
    let (exec, _) = h.run(doc, json!({"n": 1})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        assert_eq!((e.execution_id, e.workflow_id), (exec.id, exec.workflow_id));
        seen.push((e.kind, e.node_id.clone().unwrap_or_default(), e.data));
    }
    let kinds: Vec<_> = seen
        .iter()
        .map(|(k, n, _)| (k.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("node_started", "start"),
            ("node_finished", "start"),
            ("node_started", "set"),
            ("node_finished", "set"),
            ("node_started", "boom"),
            ("node_failed", "boom"),
            ("execution_finished", ""),
        ]
    );
    assert_eq!(seen[0].2, json!({"attempt": 1}));
    assert!(
        seen[5].2["error"]
            .as_str()
            .is_some_and(|e| e.contains("no"))
    );
    assert_eq!(seen[6].0, EventKind::ExecutionFinished);
    assert_eq!(seen[6].2["status"], json!("failed"));
}
