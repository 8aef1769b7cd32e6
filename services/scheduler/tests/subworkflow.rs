//! `core.subworkflow` and the error workflow over real SQLite with the real runner: awaited and
//! detached children, failures that propagate (and retry), a child started once across a resume,
//! the nesting cap, and error workflows that run once and never loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_scheduler::{Engine, Runner, StartRequest};
use flowork_storage::{
    Execution, ExecutionFilter, ExecutionUpdate, Expect, NewExecution, NewWorkflow, NodeRun, Page,
    Store, WorkflowVersion,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    runner: Runner,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    let runner = Runner::new(Engine::new(store.clone()), CancellationToken::new());
    Harness {
        _dir: dir,
        store,
        runner,
    }
}

impl Harness {
    /// Saves `doc(id)` as version 1 of a new workflow (the doc may name its own id).
    async fn save(&self, name: &str, doc: impl FnOnce(WorkflowId) -> Value) -> WorkflowId {
        let id = WorkflowId::new();
        let new = NewWorkflow {
            id,
            name: name.into(),
            active: true,
        };
        self.store.create_workflow(new).await.expect("create");
        let v = WorkflowVersion {
            workflow_id: id,
            version: 1,
            hash: "00".repeat(32),
            previous_hash: None,
            author_id: None,
            signed: false,
            record: json!({ "workflow": doc(id) }),
            created_at: Timestamp::now(),
        };
        self.store.append_version(v).await.expect("version");
        id
    }

    async fn run(&self, wf: WorkflowId, input: Value) -> Execution {
        let req = StartRequest {
            workflow_id: wf,
            version: 1,
            trigger: "api".into(),
            input,
            parent_id: None,
        };
        let exec = self.runner.start(req).await.expect("start");
        self.finished(exec.id).await
    }

    async fn finished(&self, id: ExecutionId) -> Execution {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let exec = self.store.get_execution(id).await.expect("execution");
            if exec.status.is_terminal() {
                return exec;
            }
            assert!(Instant::now() < deadline, "stuck at {:?}", exec.status);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn executions_of(&self, wf: WorkflowId) -> Vec<Execution> {
        let filter = ExecutionFilter {
            workflow_id: Some(wf),
            status: None,
        };
        let page = Page {
            limit: 1000,
            ..Page::default()
        };
        self.store
            .list_executions(filter, page)
            .await
            .expect("list")
    }
}

fn one_node(kind: &str, params: Value) -> impl FnOnce(WorkflowId) -> Value {
    let node = json!({"id": "only", "type": kind, "params": params});
    move |_| json!({"name": "one", "nodes": [node], "edges": []})
}

fn calling(child: WorkflowId, wait: bool, extra: Value) -> impl FnOnce(WorkflowId) -> Value {
    move |_| {
        let mut sub = json!({"id": "sub", "type": "core.subworkflow",
            "params": {"workflow_id": child.to_string(), "input": "{n: .input.n}", "wait": wait}});
        if let (Some(sub), Some(extra)) = (sub.as_object_mut(), extra.as_object()) {
            sub.extend(extra.clone());
        }
        json!({"name": "parent", "nodes": [sub,
            {"id": "after", "type": "core.set", "params": {"value": "{got: .input}"}}],
          "edges": [{"from": "sub", "to": "after"}]})
    }
}

#[tokio::test]
async fn an_awaited_subworkflow_outputs_the_child_output() {
    let h = harness().await;
    let child = h
        .save(
            "child",
            one_node("core.set", json!({"value": "{doubled: (.input.n * 2)}"})),
        )
        .await;
    let parent = h.save("parent", calling(child, true, json!({}))).await;
    let exec = h.run(parent, json!({"n": 3})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(exec.output, Some(json!({"got": {"doubled": 6}})));
    let children = h.executions_of(child).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].parent_id, Some(exec.id));
    assert_eq!(children[0].trigger, "subworkflow");
    assert_eq!(children[0].input, json!({"n": 3}));
}

#[tokio::test]
async fn a_detached_subworkflow_outputs_its_execution_id_at_once() {
    let h = harness().await;
    let child = h
        .save("child", one_node("core.wait", json!({"duration_ms": 300})))
        .await;
    let parent = h.save("parent", calling(child, false, json!({}))).await;
    let exec = h.run(parent, json!({"n": 1})).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let id = exec
        .output
        .as_ref()
        .and_then(|o| o["got"]["execution_id"].as_str());
    let id: ExecutionId = id.and_then(|s| s.parse().ok()).expect("a child id");
    let child_exec = h.store.get_execution(id).await.expect("child");
    assert!(!child_exec.status.is_terminal(), "the parent did not wait");
    assert_eq!(child_exec.parent_id, Some(exec.id));
    assert_eq!(h.finished(id).await.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_failed_child_fails_the_node_retryably() {
    let h = harness().await;
    let child = h
        .save("child", one_node("core.fail", json!({"message": "boom"})))
        .await;
    let retry = json!({"retry": {"max_attempts": 2, "backoff_ms": 10}});
    let parent = h.save("parent", calling(child, true, retry)).await;
    let exec = h.run(parent, json!({"n": 1})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    let error = exec.error.unwrap_or_default();
    assert!(error.contains("boom"), "{error}");
    let runs = h.store.list_node_runs(exec.id).await.expect("runs");
    let sub: Vec<&NodeRun> = runs.iter().filter(|r| r.node_id == "sub").collect();
    assert_eq!(sub.len(), 2, "retried per the node's policy");
    assert!(sub.iter().all(|r| r.status == NodeRunStatus::Failed));
    assert_eq!(h.executions_of(child).await.len(), 2, "one child per try");
}

#[tokio::test]
async fn a_resumed_parent_reuses_the_child_it_already_started() {
    let h = harness().await;
    let child = h
        .save(
            "child",
            one_node("core.set", json!({"value": "{fresh: true}"})),
        )
        .await;
    let parent = h.save("parent", calling(child, true, json!({}))).await;
    // What a worker that died inside `sub` leaves: the parent, the `sub` node run interrupted at
    // attempt 1, and the child it started (finished since) claimed under the node's key.
    let parent_id = ExecutionId::new();
    let new = |id, workflow_id, trigger: &str, parent_id| NewExecution {
        id,
        workflow_id,
        version: 1,
        trigger: trigger.into(),
        input: json!({"n": 1}),
        parent_id,
        started: false,
    };
    h.store
        .create_execution(new(parent_id, parent, "api", None))
        .await
        .expect("parent");
    let now = Timestamp::now();
    let interrupted = NodeRun {
        execution_id: parent_id,
        node_id: "sub".into(),
        attempt: 1,
        status: NodeRunStatus::Running,
        input: json!({"n": 1}),
        output: None,
        port: None,
        error: None,
        gas: 0,
        started_at: now,
        finished_at: None,
    };
    h.store.put_node_run(interrupted).await.expect("checkpoint");
    let child_id = ExecutionId::new();
    h.store
        .create_execution(new(child_id, child, "subworkflow", Some(parent_id)))
        .await
        .expect("child");
    let done = ExecutionUpdate {
        status: ExecutionStatus::Succeeded,
        output: Some(json!({"reused": true})),
        error: None,
    };
    h.store
        .update_execution(child_id, done)
        .await
        .expect("finish");
    let key = format!("sub:{parent_id}:sub:1");
    let value = child_id.to_string().into_bytes();
    h.store
        .kv_put("executions", &key, value, Expect::Absent)
        .await
        .expect("claim");

    let exec = h
        .runner
        .engine()
        .run(parent_id, CancellationToken::new())
        .await
        .expect("resume");
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    assert_eq!(exec.output, Some(json!({"got": {"reused": true}})));
    assert_eq!(h.executions_of(child).await.len(), 1, "no second child");
}

#[tokio::test]
async fn a_child_claimed_but_never_created_is_created_under_its_claimed_id() {
    let h = harness().await;
    let child = h
        .save(
            "child",
            one_node("core.set", json!({"value": "{n: .input.n}"})),
        )
        .await;
    let parent = h.save("parent", calling(child, true, json!({}))).await;
    let parent_id = ExecutionId::new();
    let new = NewExecution {
        id: parent_id,
        workflow_id: parent,
        version: 1,
        trigger: "api".into(),
        input: json!({"n": 4}),
        parent_id: None,
        started: false,
    };
    h.store.create_execution(new).await.expect("parent");
    // The process died right after claiming the child's id.
    let claimed = ExecutionId::new();
    let key = format!("sub:{parent_id}:sub:1");
    h.store
        .kv_put(
            "executions",
            &key,
            claimed.to_string().into_bytes(),
            Expect::Absent,
        )
        .await
        .expect("claim");
    let exec = h
        .runner
        .engine()
        .run(parent_id, CancellationToken::new())
        .await
        .expect("run");
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.error);
    let children = h.executions_of(child).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id, claimed);
    assert_eq!(children[0].parent_id, Some(parent_id));
}

#[tokio::test]
async fn a_workflow_calling_itself_stops_at_the_nesting_cap() {
    let h = harness().await;
    let looping = h
        .save("loop", |me| {
            json!({"name": "loop", "nodes": [{"id": "again", "type": "core.subworkflow",
                "params": {"workflow_id": me.to_string()}}], "edges": []})
        })
        .await;
    let exec = h.run(looping, json!({})).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    let error = exec.error.unwrap_or_default();
    assert!(error.contains("nest deeper than 16"), "{error}");
    let all = h.executions_of(looping).await;
    assert_eq!(all.len(), 1 + flowork_scheduler::runner::MAX_DEPTH);
    assert!(all.iter().all(|e| e.status == ExecutionStatus::Failed));
}

fn failing_with(handler: WorkflowId) -> impl FnOnce(WorkflowId) -> Value {
    move |_| {
        json!({"name": "main", "settings": {"error_workflow": handler.to_string()},
            "nodes": [{"id": "bad", "type": "core.fail", "params": {"message": "kaput {{ .input.n }}"}}],
            "edges": []})
    }
}

/// Waits until `wf` has `n` executions, all finished.
async fn finished_runs(h: &Harness, wf: WorkflowId, n: usize) -> Vec<Execution> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = h.executions_of(wf).await;
        if all.len() >= n && all.iter().all(|e| e.status.is_terminal()) {
            return all;
        }
        assert!(Instant::now() < deadline, "{} of {n} runs", all.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failed_execution_starts_its_error_workflow_with_its_details() {
    let h = harness().await;
    let handler = h
        .save("on error", one_node("core.set", json!({"value": ".input"})))
        .await;
    let main = h.save("main", failing_with(handler)).await;
    let failed = h.run(main, json!({"n": 5})).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    let runs = finished_runs(&h, handler, 1).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    assert_eq!(run.trigger, "error");
    assert_eq!(run.parent_id, Some(failed.id));
    let out = run.output.clone().unwrap_or_default();
    assert_eq!(out["execution"]["id"], json!(failed.id.to_string()));
    assert_eq!(out["execution"]["workflow_id"], json!(main.to_string()));
    assert_eq!(out["execution"]["version"], json!(1));
    assert_eq!(out["execution"]["trigger"], json!("api"));
    assert_eq!(out["execution"]["input"], json!({"n": 5}));
    let error = out["execution"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("kaput 5"), "{error}");
    assert_eq!(
        out["workflow"],
        json!({"id": main.to_string(), "name": "main"})
    );
}

#[tokio::test]
async fn a_failing_error_workflow_does_not_loop_and_a_missing_one_is_harmless() {
    let h = harness().await;
    // An error workflow that fails and names itself as its own error workflow.
    let handler = h.save("on error", |me| failing_with(me)(me)).await;
    let main = h.save("main", failing_with(handler)).await;
    assert_eq!(
        h.run(main, json!({"n": 1})).await.status,
        ExecutionStatus::Failed
    );
    let runs = finished_runs(&h, handler, 1).await;
    assert_eq!(runs[0].status, ExecutionStatus::Failed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.executions_of(handler).await.len(), 1, "no loop");

    let orphan = h.save("orphan", failing_with(WorkflowId::new())).await;
    assert_eq!(
        h.run(orphan, json!({"n": 2})).await.status,
        ExecutionStatus::Failed
    );
    let ok = h
        .save("ok", one_node("core.set", json!({"value": "1"})))
        .await;
    assert_eq!(
        h.run(ok, json!({})).await.status,
        ExecutionStatus::Succeeded
    );
}

#[tokio::test]
async fn cancelling_a_parent_cancels_the_child_it_waits_for() {
    let h = harness().await;
    let child = h
        .save(
            "child",
            one_node("core.wait", json!({"duration_ms": 5_000})),
        )
        .await;
    let parent = h.save("parent", calling(child, true, json!({}))).await;
    let req = StartRequest {
        workflow_id: parent,
        version: 1,
        trigger: "api".into(),
        input: json!({"n": 1}),
        parent_id: None,
    };
    let exec = h.runner.start(req).await.expect("start");
    let deadline = Instant::now() + Duration::from_secs(5);
    let child_id = loop {
        let waiting = h.executions_of(child).await;
        if let Some(c) = waiting
            .iter()
            .find(|c| c.status == ExecutionStatus::Waiting)
        {
            break c.id;
        }
        assert!(Instant::now() < deadline, "the child never parked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let cancelled = h.runner.cancel(exec.id).await.expect("cancel");
    assert_eq!(cancelled.status, ExecutionStatus::Cancelled);
    assert_eq!(
        h.finished(child_id).await.status,
        ExecutionStatus::Cancelled
    );
}
