//! Engine benchmarks (issue #3 targets), each over a real store.
//!
//! - `chain_100/{disk,memory}`: one execution of a 100-node linear `core.set` chain per
//!   iteration, checkpointed to a SQLite file on disk (`tempfile::tempdir()`) or to
//!   `sqlite://:memory:`. Divide by 100 for the time per node.
//! - `set_respond/disk`: one execution of `trigger.manual -> core.set -> core.respond` per
//!   iteration, SQLite on disk; `set_respond_c50/disk`: 50 at once (throughput in executions/s).
//! - `compile_100`: parsing, validating and compiling (jq included) the 100-node workflow.
//! - `set_eval`: one `core.set` expression on its own (scope conversion plus jq), the floor
//!   under the engine's per-node cost.
//!
//! Run with `scripts/bench engine`, or `cargo bench -p flowork-scheduler --bench engine`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flowork_model::workflow::{Catalog, WorkflowDoc, compile};
use flowork_model::{ExecutionId, ExecutionStatus, Timestamp, WorkflowId};
use flowork_scheduler::Engine;
use flowork_storage::{NewExecution, NewWorkflow, Store, WorkflowVersion};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// How many `core.set` nodes the chain has.
const CHAIN: usize = 100;
/// Executions in flight at once in the concurrent bench.
const CONCURRENCY: usize = 50;

/// `n0 -> n1 -> ... -> n99`, each adding one to its input (a root that is not a trigger
/// receives the execution's input).
fn chain_doc(n: usize) -> Value {
    let nodes: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("n{i}"), "type": "core.set", "params": {"value": ".input + 1"}}))
        .collect();
    let edges: Vec<Value> = (1..n)
        .map(|i| json!({"from": format!("n{}", i - 1), "to": format!("n{i}")}))
        .collect();
    json!({"name": "chain", "nodes": nodes, "edges": edges})
}

/// `trigger.manual -> core.set -> core.respond`.
fn set_respond_doc() -> Value {
    json!({"name": "set-respond",
      "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "set", "type": "core.set", "params": {"value": "{id: .input.id, doubled: (.input.n * 2)}"}},
        {"id": "respond", "type": "core.respond", "params": {"body": ".input"}}],
      "edges": [{"from": "start", "to": "set"}, {"from": "set", "to": "respond"}]})
}

/// An engine over one store, with its workflows saved.
struct Bench {
    _dir: Option<tempfile::TempDir>,
    store: Arc<dyn Store>,
    engine: Engine,
}

impl Bench {
    /// `disk`: a SQLite file in a fresh tempdir; otherwise `sqlite://:memory:`.
    async fn new(disk: bool) -> Self {
        let (dir, url) = if disk {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            (Some(dir), url)
        } else {
            (None, "sqlite://:memory:".to_owned())
        };
        let store = flowork_storage::connect(&url, 4).await.expect("store");
        let engine = Engine::new(store.clone());
        Self {
            _dir: dir,
            store,
            engine,
        }
    }

    async fn save(&self, doc: Value) -> WorkflowId {
        let id = WorkflowId::new();
        let new = NewWorkflow {
            id,
            name: "bench".into(),
            active: true,
        };
        self.store.create_workflow(new).await.expect("create");
        let version = WorkflowVersion {
            workflow_id: id,
            version: 1,
            hash: "00".repeat(32),
            previous_hash: None,
            author_id: None,
            signed: false,
            record: json!({ "workflow": doc }),
            created_at: Timestamp::now(),
        };
        self.store.append_version(version).await.expect("version");
        // Compile once up front, as a running engine has by its second execution.
        self.engine.compiled(id, 1).await.expect("compile");
        id
    }

    /// Records one execution and runs it to the end, as the runner's task does.
    async fn run(&self, wf: WorkflowId, input: Value) -> Value {
        let new = NewExecution {
            id: ExecutionId::new(),
            workflow_id: wf,
            version: 1,
            trigger: "api".into(),
            input,
            parent_id: None,
            started: false,
        };
        let exec = self.store.create_execution(new).await.expect("execution");
        let done = self
            .engine
            .run(exec.id, CancellationToken::new())
            .await
            .expect("run");
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.error);
        done.output.unwrap_or(Value::Null)
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn chain_100(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("chain_100");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(CHAIN as u64));
    for (name, disk) in [("disk", true), ("memory", false)] {
        let bench = rt.block_on(Bench::new(disk));
        let wf = rt.block_on(bench.save(chain_doc(CHAIN)));
        let out = rt.block_on(bench.run(wf, json!(0)));
        assert_eq!(out, json!(CHAIN));
        group.bench_function(name, |b| b.iter(|| rt.block_on(bench.run(wf, json!(0)))));
    }
    group.finish();
}

fn set_respond(c: &mut Criterion) {
    let rt = runtime();
    let bench = rt.block_on(Bench::new(true));
    let wf = rt.block_on(bench.save(set_respond_doc()));
    let input = json!({"id": 7, "n": 21});
    let out = rt.block_on(bench.run(wf, input.clone()));
    assert_eq!(out["body"], json!({"id": 7, "doubled": 42}));

    let mut group = c.benchmark_group("set_respond");
    group.throughput(Throughput::Elements(1));
    group.bench_function("disk", |b| {
        b.iter(|| rt.block_on(bench.run(wf, input.clone())))
    });
    group.finish();

    let mut group = c.benchmark_group("set_respond_c50");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.sample_size(30);
    group.bench_function("disk", |b| {
        b.iter(|| {
            rt.block_on(async {
                let runs = (0..CONCURRENCY).map(|_| bench.run(wf, input.clone()));
                futures::future::join_all(runs).await
            })
        })
    });
    group.finish();
}

fn compile_100(c: &mut Criterion) {
    let doc = chain_doc(CHAIN);
    let catalog = Catalog::builtin();
    let mut group = c.benchmark_group("compile_100");
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.bench_function("parse_validate_compile", |b| {
        b.iter_batched(
            || doc.clone(),
            |doc| {
                let doc = WorkflowDoc::from_value(doc).expect("doc");
                compile(doc, &catalog).expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn set_eval(c: &mut Criterion) {
    let doc = WorkflowDoc::from_value(chain_doc(1)).expect("doc");
    let wf = compile(doc, &Catalog::builtin()).expect("valid");
    let param = &wf.nodes[0].params["value"];
    let scope = json!({"input": 41, "nodes": {}, "trigger": 0,
        "execution": {"id": "ex_x", "workflow_id": "wf_x", "version": 1}, "env": {}});
    c.bench_function("set_eval", |b| {
        b.iter(|| {
            let cx = flowork_expr::Context::new(&scope);
            flowork_scheduler::nodes::eval(param, &cx).expect("eval")
        })
    });
}

criterion_group!(benches, chain_100, set_respond, compile_100, set_eval);
criterion_main!(benches);
