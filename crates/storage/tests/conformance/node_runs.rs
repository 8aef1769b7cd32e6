//! Node runs (the durable checkpoints), delete cascades, and the `Store` round trip.

use flowork_model::{ExecutionId, ExecutionStatus, NodeRunStatus, Timestamp};
use flowork_storage::{
    ExecutionFilter, ExecutionUpdate, NewExecution, NodeRun, Page, StorageError, Store,
};
use serde_json::json;

use crate::assert_err;
use crate::executions::new_execution;
use crate::harness::{Fixture, chain, new_workflow};

fn node_run(ex: ExecutionId, node: &str, attempt: u32, started: i64) -> NodeRun {
    NodeRun {
        execution_id: ex,
        node_id: node.into(),
        attempt,
        status: NodeRunStatus::Running,
        input: json!({"node": node}),
        output: None,
        port: None,
        error: None,
        gas: 0,
        started_at: Timestamp(started),
        finished_at: None,
    }
}
pub async fn node_runs_checkpoint(fx: &Fixture) {
    let s = &fx.store;
    let wf = s.create_workflow(new_workflow("w")).await.expect("wf").id;
    let ex = s
        .create_execution(new_execution(wf))
        .await
        .expect("exec")
        .id;
    assert!(s.list_node_runs(ex).await.expect("empty").is_empty());

    // Written out of start order; read back in start order.
    s.put_node_run(node_run(ex, "b", 1, 3_000))
        .await
        .expect("b1");
    s.put_node_run(node_run(ex, "a", 1, 1_000))
        .await
        .expect("a1");
    s.put_node_run(node_run(ex, "a", 2, 2_000))
        .await
        .expect("a2");
    let failed = NodeRun {
        status: NodeRunStatus::Failed,
        error: Some("timeout".into()),
        gas: 5,
        finished_at: Some(Timestamp(1_500)),
        ..node_run(ex, "a", 1, 1_000)
    };
    s.put_node_run(failed.clone()).await.expect("replace a1");
    let done = NodeRun {
        status: NodeRunStatus::Succeeded,
        output: Some(json!({"ok": true, "n": [1, 2, 3]})),
        port: Some("true".into()),
        gas: u64::from(u32::MAX) + 7,
        finished_at: Some(Timestamp(2_500)),
        ..node_run(ex, "a", 2, 2_000)
    };
    s.put_node_run(done.clone()).await.expect("replace a2");
    // A switch's named port (Unicode and all) comes back exactly.
    let switched = NodeRun {
        status: NodeRunStatus::Succeeded,
        port: Some("größe ✓ case-2".into()),
        finished_at: Some(Timestamp(4_500)),
        ..node_run(ex, "c", 1, 4_000)
    };
    s.put_node_run(switched.clone()).await.expect("c1");
    let runs = s.list_node_runs(ex).await.expect("list");
    assert_eq!(
        runs,
        vec![
            failed.clone(),
            done.clone(),
            node_run(ex, "b", 1, 3_000),
            switched
        ]
    );
    assert_eq!(
        runs.iter().map(|r| r.port.as_deref()).collect::<Vec<_>>(),
        [None, Some("true"), None, Some("größe ✓ case-2")]
    );

    // A replacing write replaces the port too, both from None to Some and back.
    let branched = NodeRun {
        port: Some("false".into()),
        ..failed.clone()
    };
    s.put_node_run(branched.clone()).await.expect("port set");
    let unbranched = NodeRun {
        port: None,
        ..done.clone()
    };
    s.put_node_run(unbranched.clone())
        .await
        .expect("port cleared");
    let runs = s.list_node_runs(ex).await.expect("list again");
    assert_eq!(runs[..2], [branched, unbranched]);

    assert_err!(
        s.put_node_run(node_run(ExecutionId::new(), "x", 1, 1))
            .await,
        StorageError::NotFound { .. }
    );
    let other = s
        .create_execution(new_execution(wf))
        .await
        .expect("exec")
        .id;
    assert!(s.list_node_runs(other).await.expect("other").is_empty());
}

pub async fn delete_cascades(fx: &Fixture) {
    let s = &fx.store;
    let doomed = s
        .create_workflow(new_workflow("doomed"))
        .await
        .expect("wf")
        .id;
    let kept = s
        .create_workflow(new_workflow("kept"))
        .await
        .expect("wf")
        .id;
    let mut doomed_execs = Vec::new();
    let mut kept_execs = Vec::new();
    for (wf, execs) in [(doomed, &mut doomed_execs), (kept, &mut kept_execs)] {
        for v in chain(wf, 2) {
            s.append_version(v).await.expect("append");
        }
        for i in 0..2 {
            let ex = s
                .create_execution(new_execution(wf))
                .await
                .expect("exec")
                .id;
            s.put_node_run(node_run(ex, "a", 1, i)).await.expect("run");
            execs.push(ex);
        }
    }
    s.delete_workflow(doomed).await.expect("delete");
    assert_err!(s.get_workflow(doomed).await, StorageError::NotFound { .. });
    assert_err!(
        s.get_version(doomed, 1).await,
        StorageError::NotFound { .. }
    );
    for ex in &doomed_execs {
        assert_err!(s.get_execution(*ex).await, StorageError::NotFound { .. });
        assert!(s.list_node_runs(*ex).await.expect("runs").is_empty());
    }
    let filter = ExecutionFilter {
        workflow_id: Some(doomed),
        status: None,
    };
    assert!(
        s.list_executions(filter, Page::default())
            .await
            .expect("list")
            .is_empty()
    );

    assert_eq!(s.list_versions(kept).await.expect("kept versions").len(), 2);
    for ex in &kept_execs {
        s.get_execution(*ex).await.expect("kept execution");
        assert_eq!(s.list_node_runs(*ex).await.expect("kept runs").len(), 1);
    }
}

/// A database created before migration 0002 (no `port` column) upgrades in place: its node runs
/// survive and read back with no port, and new ones record theirs.
pub async fn node_runs_port_migration_upgrades(fx: &Fixture) {
    let s = &fx.store;
    let wf = s.create_workflow(new_workflow("w")).await.expect("wf").id;
    let ex = s
        .create_execution(new_execution(wf))
        .await
        .expect("exec")
        .id;
    let before = fx.migration_rows().await;
    // Roll the schema back to 0001 with a run already in it (undoing the later migrations too).
    fx.exec_sql(
        "DROP INDEX node_runs_by_input_blob; DROP INDEX node_runs_by_output_blob;
         ALTER TABLE node_runs DROP COLUMN input_blob; ALTER TABLE node_runs DROP COLUMN output_blob;
         DROP TABLE blobs; DROP TABLE webhook_deliveries; DROP TABLE engine_webhook_routes;
         ALTER TABLE node_runs DROP COLUMN port; DROP INDEX executions_by_finished;
         DROP TABLE engine_members; DROP TABLE user_addresses; DROP TABLE address_challenges;
         DROP TABLE refresh_tokens; DROP TABLE api_keys; DROP TABLE engines; DROP TABLE gas_ledger;
         DROP TABLE legacy_chains;
         DELETE FROM schema_migrations WHERE version >= 2",
    )
    .await;
    fx.exec_sql(&format!(
        "INSERT INTO node_runs (execution_id, node_id, attempt, status, input, started_at)
         VALUES ('{ex}', 'old', 1, 'succeeded', '{{\"k\": 1}}', 10)"
    ))
    .await;
    assert_eq!(fx.migration_rows().await.len(), 1, "back at 0001");

    let upgraded = fx.reopen().await.expect("reopen runs 0002");
    assert_eq!(
        fx.migration_rows().await,
        before,
        "0002 (and later) applied again, same checksums"
    );
    let old = NodeRun {
        status: NodeRunStatus::Succeeded,
        input: json!({"k": 1}),
        ..node_run(ex, "old", 1, 10)
    };
    assert_eq!(
        upgraded.list_node_runs(ex).await.expect("list"),
        std::slice::from_ref(&old)
    );
    let new = NodeRun {
        port: Some("false".into()),
        ..node_run(ex, "new", 1, 20)
    };
    upgraded.put_node_run(new.clone()).await.expect("put");
    assert_eq!(upgraded.list_node_runs(ex).await.expect("list"), [old, new]);
}

/// `Store` itself: the backend tag and a round trip.
pub async fn ping(fx: &Fixture) {
    let s: &dyn Store = fx.store.as_ref();
    s.ping().await.expect("ping");
}

/// An execution created `started` is running at once; it ends with its last records in one
/// call (`update_execution_with`), and several records go in one call (`put_node_runs`).
pub async fn started_execution_ends_with_its_records(fx: &Fixture) {
    let s = &fx.store;
    let wf = s.create_workflow(new_workflow("w")).await.expect("wf").id;
    let new = NewExecution {
        started: true,
        ..new_execution(wf)
    };
    let ex = s.create_execution(new).await.expect("exec");
    assert_eq!(ex.status, ExecutionStatus::Running);
    let started = ex.started_at.expect("started_at set at once");
    assert_eq!(ex.started_at, Some(ex.created_at), "started as created");
    assert!(started.millis() > 0);

    s.put_node_runs(vec![
        node_run(ex.id, "a", 1, 1_000),
        node_run(ex.id, "b", 1, 2_000),
    ])
    .await
    .expect("two at once");
    s.put_node_runs(Vec::new()).await.expect("none is fine");
    let done = |node: &str, at: i64| NodeRun {
        status: NodeRunStatus::Succeeded,
        output: Some(json!({"node": node})),
        finished_at: Some(Timestamp(at + 1)),
        ..node_run(ex.id, node, 1, at)
    };
    let update = ExecutionUpdate {
        status: ExecutionStatus::Succeeded,
        output: Some(json!({"ok": true})),
        error: None,
    };
    let finished = s
        .update_execution_with(
            ex.id,
            update.clone(),
            vec![done("b", 2_000), done("c", 3_000)],
        )
        .await
        .expect("finish with records");
    assert_eq!(finished.status, ExecutionStatus::Succeeded);
    assert_eq!(finished.started_at, Some(started), "started_at is kept");
    assert_eq!(finished.output, Some(json!({"ok": true})));
    let runs = s.list_node_runs(ex.id).await.expect("runs");
    let seen: Vec<_> = runs
        .iter()
        .map(|r| (r.node_id.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("a", NodeRunStatus::Running),
            ("b", NodeRunStatus::Succeeded),
            ("c", NodeRunStatus::Succeeded)
        ]
    );

    // A finished execution can't end twice: a conflict, and its records are not replaced.
    let late = NodeRun {
        error: Some("late".into()),
        ..done("c", 3_000)
    };
    assert_err!(
        s.update_execution_with(ex.id, update, vec![late]).await,
        StorageError::Conflict(_)
    );
    let c = s.list_node_runs(ex.id).await.expect("runs");
    assert_eq!(c.last().and_then(|r| r.error.clone()), None, "{c:?}");
}
