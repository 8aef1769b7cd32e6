//! Cron triggers against a real SQLite store: ticks fire with the node as trigger, inactive and
//! broken workflows do not, two workers fire each tick once, start-up catches up one tick only,
//! and old claims are cleaned up.

use std::sync::Arc;
use std::time::Duration;

use flowork_model::{ExecutionStatus, Timestamp, WorkflowId};
use flowork_scheduler::cron::{CronConfig, CronScheduler, NAMESPACE};
use flowork_scheduler::{Engine, Runner};
use flowork_storage::{Execution, ExecutionFilter, NewWorkflow, Page, Store, WorkflowVersion};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    Harness { _dir: dir, store }
}

/// A workflow whose `tick` node fires on `expression` and feeds `echo`.
fn cron_doc(expression: &str) -> Value {
    json!({
        "name": "cron",
        "nodes": [
            {"id": "tick", "type": "trigger.cron", "params": {"expression": expression}},
            {"id": "echo", "type": "core.set", "params": {"value": ".input"}}
        ],
        "edges": [{"from": "tick", "to": "echo"}]
    })
}

impl Harness {
    /// A new worker: its own runner and engine over the shared store.
    fn runner(&self) -> Runner {
        Runner::new(Engine::new(self.store.clone()), CancellationToken::new())
    }

    async fn save(&self, doc: Value, active: bool) -> WorkflowId {
        let id = WorkflowId::new();
        let new = NewWorkflow {
            id,
            name: "t".into(),
            active,
        };
        self.store.create_workflow(new).await.expect("create");
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

    async fn executions(&self, wf: WorkflowId) -> Vec<Execution> {
        let filter = ExecutionFilter {
            workflow_id: Some(wf),
            status: None,
        };
        let page = Page {
            limit: 1000,
            after: None,
        };
        self.store
            .list_executions(filter, page)
            .await
            .expect("list")
    }

    /// The `tick` inputs of a workflow's executions, sorted.
    async fn ticks(&self, wf: WorkflowId) -> Vec<i64> {
        let mut ticks: Vec<i64> = self
            .executions(wf)
            .await
            .iter()
            .map(|e| e.input["tick"].as_i64().expect("tick"))
            .collect();
        ticks.sort_unstable();
        ticks
    }
}

fn config(every_ms: u64) -> CronConfig {
    CronConfig {
        every: Duration::from_millis(every_ms),
        ..CronConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_second_cron_fires_with_its_node_as_trigger_and_inactive_ones_do_not() {
    let h = harness().await;
    let active = h.save(cron_doc("* * * * * *"), true).await;
    let inactive = h.save(cron_doc("* * * * * *"), false).await;
    let runner = h.runner();
    let shutdown = CancellationToken::new();
    let task = CronScheduler::spawn(runner.clone(), Duration::from_millis(200), shutdown.clone());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    shutdown.cancel();
    task.await.expect("scheduler task");

    let execs = h.executions(active).await;
    assert!(execs.len() >= 2, "{} executions", execs.len());
    for exec in &execs {
        assert_eq!(exec.trigger, "tick");
        let tick = exec.input["tick"].as_i64().expect("tick");
        assert_eq!(tick % 1000, 0, "ticks fall on whole seconds");
        assert_eq!(exec.input["scheduled_at"], Timestamp(tick).to_rfc3339());
        let done = runner
            .wait(exec.id, Duration::from_secs(10))
            .await
            .expect("wait");
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
        let runs = h.store.list_node_runs(exec.id).await.expect("runs");
        let echo = runs.iter().find(|r| r.node_id == "echo").expect("echo ran");
        assert_eq!(
            echo.output.as_ref(),
            Some(&exec.input),
            "the trigger outputs its input"
        );
    }
    assert!(h.executions(inactive).await.is_empty(), "inactive fired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_fire_each_tick_exactly_once() {
    let h = harness().await;
    let wf = h.save(cron_doc("* * * * * *"), true).await;
    let shutdown = CancellationToken::new();
    let a = CronScheduler::new(h.runner(), config(100)).start(shutdown.clone());
    let b = CronScheduler::new(h.runner(), config(130)).start(shutdown.clone());
    tokio::time::sleep(Duration::from_millis(3300)).await;
    shutdown.cancel();
    a.await.expect("worker a");
    b.await.expect("worker b");

    let ticks = h.ticks(wf).await;
    assert!(ticks.len() >= 3, "ticks {ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "unique and consecutive: {ticks:?}");
    }
    let claims = h.store.kv_list(NAMESPACE, "").await.expect("claims");
    assert_eq!(claims.len(), ticks.len(), "one claim per fired tick");
}

#[tokio::test]
async fn start_up_catches_up_one_missed_tick_and_claims_are_cleaned_up() {
    let h = harness().await;
    let wf = h.save(cron_doc("* * * * * *"), true).await;
    // An invalid version (stored without validation) must not stop the others firing.
    let broken = h.save(json!({"name": "b", "nodes": []}), true).await;
    let start = Timestamp::now();
    let later = |ms: i64| Timestamp((start.millis() / 1000 + 60) * 1000 + ms);

    // Everyone was down for a minute: start-up fires only the latest missed tick.
    let mut a = CronScheduler::new(h.runner(), CronConfig::default());
    assert_eq!(a.pass(later(500)).await.expect("pass"), 1);
    assert_eq!(h.ticks(wf).await, vec![later(0).millis()]);
    // Then each new tick once; a second worker starting now finds it claimed.
    assert_eq!(a.pass(later(1500)).await.expect("pass"), 1);
    let mut b = CronScheduler::new(h.runner(), CronConfig::default());
    assert_eq!(b.pass(later(1600)).await.expect("pass"), 0);
    assert_eq!(b.pass(later(2100)).await.expect("pass"), 1);
    assert_eq!(a.pass(later(2200)).await.expect("pass"), 0);
    assert_eq!(
        h.ticks(wf).await,
        vec![
            later(0).millis(),
            later(1000).millis(),
            later(2000).millis()
        ]
    );
    assert!(h.executions(broken).await.is_empty());

    // Claims outlive the catch-up window, then go.
    assert_eq!(a.cleanup(Timestamp::now()).await.expect("cleanup"), 0);
    let week = Timestamp::now().after(Duration::from_secs(7 * 86_400 + 1));
    assert_eq!(a.cleanup(week).await.expect("cleanup"), 3);
    assert!(
        h.store
            .kv_list(NAMESPACE, "")
            .await
            .expect("claims")
            .is_empty()
    );
}

#[test]
fn a_bad_expression_or_zone_is_refused_at_save_time() {
    use flowork_model::workflow::{Catalog, WorkflowDoc, compile};
    let refused = |doc: Value| {
        let doc = WorkflowDoc::from_value(doc).expect("parses");
        let errs = compile(doc, &Catalog::builtin()).expect_err("refused");
        errs.0
            .into_iter()
            .map(|e| (e.node, e.field))
            .collect::<Vec<_>>()
    };
    let tick = Some("tick".to_owned());
    assert_eq!(
        refused(cron_doc("* * * *")),
        vec![(tick.clone(), Some("params.expression".to_owned()))]
    );
    let mut doc = cron_doc("0 0 9 * * *");
    doc["nodes"][0]["params"]["timezone"] = json!("Europe/Berlinn");
    assert_eq!(
        refused(doc),
        vec![(tick, Some("params.timezone".to_owned()))]
    );
}
