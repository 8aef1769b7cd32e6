//! Executions: lifecycle, the terminal lock, listing with filters and keyset pages, and history
//! retention (deleting old finished executions).

use std::time::Duration;

use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp, WorkflowId};
use flowork_storage::{
    ExecutionFilter, ExecutionUpdate, NewExecution, NodeRun, Page, StorageError,
};
use serde_json::json;

use crate::assert_err;
use crate::harness::{Fixture, new_workflow};

pub fn new_execution(wf: WorkflowId) -> NewExecution {
    NewExecution {
        id: ExecutionId::new(),
        workflow_id: wf,
        version: 1,
        trigger: "manual".into(),
        input: json!({"order": 7, "items": [1, 2]}),
        parent_id: None,
        started: false,
    }
}

fn update(status: ExecutionStatus) -> ExecutionUpdate {
    ExecutionUpdate {
        status,
        output: None,
        error: None,
    }
}

pub async fn execution_lifecycle(fx: &Fixture) {
    let s = &fx.store;
    let wf = s
        .create_workflow(new_workflow("w"))
        .await
        .expect("create wf")
        .id;
    let new = new_execution(wf);
    let ex = s.create_execution(new.clone()).await.expect("create");
    assert_eq!((ex.id, ex.workflow_id, ex.version), (new.id, wf, 1));
    assert_eq!(
        (ex.status, ex.trigger.as_str(), &ex.input),
        (ExecutionStatus::Queued, "manual", &new.input)
    );
    assert_eq!(
        (
            ex.output.clone(),
            ex.error.clone(),
            ex.started_at,
            ex.finished_at
        ),
        (None, None, None, None)
    );
    assert_eq!(s.get_execution(new.id).await.expect("get"), ex);
    assert_err!(
        s.create_execution(new.clone()).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        s.create_execution(new_execution(WorkflowId::new())).await,
        StorageError::NotFound {
            entity: "workflow",
            ..
        }
    );

    let running = s
        .update_execution(ex.id, update(ExecutionStatus::Running))
        .await
        .expect("run");
    let started = running.started_at.expect("started_at set on running");
    assert_eq!(
        (running.status, running.finished_at),
        (ExecutionStatus::Running, None)
    );
    let waiting = s
        .update_execution(ex.id, update(ExecutionStatus::Waiting))
        .await
        .expect("wait");
    assert_eq!(waiting.status, ExecutionStatus::Waiting);
    let again = s
        .update_execution(ex.id, update(ExecutionStatus::Running))
        .await
        .expect("resume");
    assert_eq!(
        again.started_at,
        Some(started),
        "started_at is set only on the first run"
    );

    let done = ExecutionUpdate {
        status: ExecutionStatus::Succeeded,
        output: Some(json!({"total": 120})),
        error: None,
    };
    let finished = s.update_execution(ex.id, done).await.expect("finish");
    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    assert_eq!(finished.output, Some(json!({"total": 120})));
    assert!(finished.finished_at.expect("finished_at") >= started);
    assert_eq!(s.get_execution(ex.id).await.expect("get"), finished);

    // Terminal: no further change, whatever the new status.
    for st in [
        ExecutionStatus::Running,
        ExecutionStatus::Failed,
        ExecutionStatus::Succeeded,
    ] {
        assert_err!(
            s.update_execution(ex.id, update(st)).await,
            StorageError::Conflict(_)
        );
    }
    assert_eq!(s.get_execution(ex.id).await.expect("get"), finished);
    assert_err!(
        s.update_execution(ExecutionId::new(), update(ExecutionStatus::Running))
            .await,
        StorageError::NotFound { .. }
    );
    assert_err!(
        s.get_execution(ExecutionId::new()).await,
        StorageError::NotFound { .. }
    );

    // A failure straight from queued, with an error and a parent.
    let child = NewExecution {
        parent_id: Some(ex.id),
        started: false,
        trigger: "subworkflow".into(),
        ..new_execution(wf)
    };
    let child = s.create_execution(child).await.expect("child");
    assert_eq!(child.parent_id, Some(ex.id));
    let failed = ExecutionUpdate {
        status: ExecutionStatus::OutOfGas,
        output: None,
        error: Some("Out of gas: used=95, add=10, total=100".into()),
    };
    let failed = s.update_execution(child.id, failed).await.expect("fail");
    assert_eq!(
        failed.error.as_deref(),
        Some("Out of gas: used=95, add=10, total=100")
    );
    assert!(failed.finished_at.is_some());
    assert_err!(
        s.update_execution(child.id, update(ExecutionStatus::Cancelled))
            .await,
        StorageError::Conflict(_)
    );
}

pub async fn execution_list_filter_pagination(fx: &Fixture) {
    let s = &fx.store;
    let a = s.create_workflow(new_workflow("a")).await.expect("wf a").id;
    let b = s.create_workflow(new_workflow("b")).await.expect("wf b").id;
    let mut a_ids = Vec::new();
    for i in 0..5 {
        let ex = s.create_execution(new_execution(a)).await.expect("exec a");
        if i % 2 == 0 {
            s.update_execution(ex.id, update(ExecutionStatus::Running))
                .await
                .expect("run");
        }
        a_ids.push(ex.id);
    }
    let mut b_ids = Vec::new();
    for _ in 0..3 {
        b_ids.push(
            s.create_execution(new_execution(b))
                .await
                .expect("exec b")
                .id,
        );
    }
    let ids = |v: Vec<flowork_storage::Execution>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let newest_first = |mut v: Vec<ExecutionId>| {
        v.sort_by(|x, y| y.cmp(x));
        v
    };

    let all = s
        .list_executions(ExecutionFilter::default(), Page::default())
        .await
        .expect("all");
    let mut expected: Vec<_> = a_ids.iter().chain(&b_ids).copied().collect();
    expected = newest_first(expected);
    assert_eq!(ids(all), expected, "newest first");

    let only_a = ExecutionFilter {
        workflow_id: Some(a),
        status: None,
    };
    let mut paged = Vec::new();
    let mut page = Page {
        limit: 2,
        after: None,
    };
    loop {
        let got = s
            .list_executions(only_a.clone(), page.clone())
            .await
            .expect("page");
        assert!(got.len() <= 2);
        let Some(last) = got.last() else { break };
        page.after = Some(last.id.to_string());
        paged.extend(ids(got));
    }
    assert_eq!(
        paged,
        newest_first(a_ids.clone()),
        "keyset pages over workflow a"
    );

    let running = ExecutionFilter {
        workflow_id: None,
        status: Some(ExecutionStatus::Running),
    };
    let got = s
        .list_executions(running, Page::default())
        .await
        .expect("running");
    assert_eq!(ids(got), newest_first(vec![a_ids[0], a_ids[2], a_ids[4]]));
    let queued_b = ExecutionFilter {
        workflow_id: Some(b),
        status: Some(ExecutionStatus::Queued),
    };
    assert_eq!(
        ids(s
            .list_executions(queued_b, Page::default())
            .await
            .expect("b")),
        newest_first(b_ids)
    );
    let none = ExecutionFilter {
        workflow_id: Some(WorkflowId::new()),
        status: None,
    };
    assert!(
        s.list_executions(none, Page::default())
            .await
            .expect("none")
            .is_empty()
    );
}

const DAY_MS: i64 = 86_400_000;

/// Sets an execution's timestamps directly in the database (the store stamps them with "now").
async fn backdate(fx: &Fixture, id: ExecutionId, created: i64, finished: Option<i64>) {
    let finished = finished.map_or_else(|| "NULL".to_owned(), |t| t.to_string());
    fx.exec_sql(&format!(
        "UPDATE executions SET created_at = {created}, started_at = {created},
         finished_at = {finished} WHERE id = '{id}'"
    ))
    .await;
}

pub async fn delete_finished_before_keeps_recent_and_unfinished(fx: &Fixture) {
    let s = &fx.store;
    let wf = s.create_workflow(new_workflow("w")).await.expect("wf").id;
    let now = Timestamp::now().millis();
    let cutoff = Timestamp(now - 30 * DAY_MS);
    let run = |ex: ExecutionId| NodeRun {
        execution_id: ex,
        node_id: "a".into(),
        attempt: 1,
        status: NodeRunStatus::Succeeded,
        input: json!({}),
        output: Some(json!(1)),
        port: None,
        error: None,
        gas: 1,
        started_at: Timestamp(now - 100 * DAY_MS),
        finished_at: Some(Timestamp(now - 100 * DAY_MS)),
    };
    let create = async |status: ExecutionStatus| {
        let ex = s.create_execution(new_execution(wf)).await.expect("create");
        s.put_node_run(run(ex.id)).await.expect("node run");
        if status != ExecutionStatus::Queued {
            s.update_execution(ex.id, update(status))
                .await
                .expect("status");
        }
        ex.id
    };

    // Finished long ago, in every terminal flavour; the first finished oldest.
    let mut old = Vec::new();
    for (i, st) in [
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Cancelled,
        ExecutionStatus::OutOfGas,
    ]
    .into_iter()
    .enumerate()
    {
        let id = create(st).await;
        let finished = now - (90 - i as i64) * DAY_MS;
        backdate(fx, id, finished - 1000, Some(finished)).await;
        old.push(id);
    }
    // Finished just now, and finished just after the cutoff.
    let recent = create(ExecutionStatus::Succeeded).await;
    let near = create(ExecutionStatus::Forbidden).await;
    let after_cutoff = cutoff.millis() + 60_000;
    backdate(fx, near, after_cutoff - 1000, Some(after_cutoff)).await;
    // Unfinished and very old (created a year ago).
    let mut unfinished = Vec::new();
    for st in [
        ExecutionStatus::Queued,
        ExecutionStatus::Running,
        ExecutionStatus::Waiting,
    ] {
        let id = create(st).await;
        backdate(fx, id, now - 365 * DAY_MS, None).await;
        unfinished.push(id);
    }
    // Even a running execution with a stray finished_at (never written by the store) stays:
    // the status decides, not the timestamp alone.
    let stray = create(ExecutionStatus::Running).await;
    backdate(fx, stray, now - 365 * DAY_MS, Some(now - 365 * DAY_MS)).await;
    unfinished.push(stray);

    let gone = async |id: ExecutionId| {
        assert_err!(s.get_execution(id).await, StorageError::NotFound { .. });
        assert!(
            s.list_node_runs(id).await.expect("runs").is_empty(),
            "node runs go with their execution"
        );
    };
    let kept = async |id: ExecutionId| {
        s.get_execution(id).await.expect("kept");
        assert_eq!(s.list_node_runs(id).await.expect("runs").len(), 1);
    };

    assert_eq!(
        s.delete_finished_before(cutoff, 0).await.expect("limit 0"),
        0
    );
    // The limit holds, and the oldest go first.
    assert_eq!(s.delete_finished_before(cutoff, 3).await.expect("batch"), 3);
    for id in &old[..3] {
        gone(*id).await;
    }
    kept(old[3]).await;
    assert_eq!(s.delete_finished_before(cutoff, 3).await.expect("rest"), 1);
    gone(old[3]).await;
    assert_eq!(s.delete_finished_before(cutoff, 3).await.expect("done"), 0);
    for id in [recent, near].iter().chain(&unfinished) {
        kept(*id).await;
    }

    // Moving the cutoff past `near` takes it, and still nothing unfinished.
    let later = Timestamp(after_cutoff).after(Duration::from_millis(1));
    assert_eq!(s.delete_finished_before(later, 100).await.expect("near"), 1);
    gone(near).await;
    for id in [recent].iter().chain(&unfinished) {
        kept(*id).await;
    }
    let all = s
        .list_executions(ExecutionFilter::default(), Page::default())
        .await
        .expect("list");
    assert_eq!(all.len(), 1 + unfinished.len());
}

/// Inputs and outputs of 64 KiB and more are kept once in the blob table (a node's output is
/// the next node's input), read back transparently, and collected with their executions.
pub async fn large_node_values_live_once_in_blobs(fx: &Fixture) {
    let s = &fx.store;
    let wf = s.create_workflow(new_workflow("w")).await.expect("wf").id;
    let ex = s.create_execution(new_execution(wf)).await.expect("create");
    let big = json!({ "rows": "x".repeat(flowork_storage::BLOB_THRESHOLD) });
    let now = Timestamp::now();
    let run = |node: &str, input, output| NodeRun {
        execution_id: ex.id,
        node_id: node.into(),
        attempt: 1,
        status: NodeRunStatus::Succeeded,
        input,
        output: Some(output),
        port: None,
        error: None,
        gas: 0,
        started_at: now,
        finished_at: Some(now),
    };
    s.put_node_run(run("a", json!({}), big.clone()))
        .await
        .expect("a");
    s.put_node_run(run("b", big.clone(), json!({"n": 1})))
        .await
        .expect("b");
    let runs = s.list_node_runs(ex.id).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].output.as_ref(), Some(&big));
    assert_eq!(
        (&runs[1].input, runs[1].output.as_ref()),
        (&big, Some(&json!({"n": 1})))
    );
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM blobs").await,
        1,
        "stored once"
    );
    assert_eq!(
        fx.scalar(
            "SELECT COUNT(*) FROM node_runs WHERE output_blob IS NOT NULL OR input_blob IS NOT NULL"
        )
        .await,
        2
    );

    // Rewriting an attempt with a small value drops its reference.
    s.put_node_run(run("a", json!({}), json!("small")))
        .await
        .expect("rewrite");
    let runs = s.list_node_runs(ex.id).await.expect("runs");
    assert_eq!(runs[0].output, Some(json!("small")));

    // Once the execution is gone (retention), so is its blob.
    s.update_execution(ex.id, update(ExecutionStatus::Succeeded))
        .await
        .expect("finish");
    backdate(fx, ex.id, 1_000, Some(2_000)).await;
    fx.exec_sql("UPDATE blobs SET touched_at = 0").await;
    let deleted = s
        .delete_finished_before(Timestamp(10_000), 10)
        .await
        .expect("retention");
    assert_eq!(deleted, 1);
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM blobs").await,
        0,
        "collected"
    );
}
