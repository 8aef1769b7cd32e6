//! FAC gas ledger benchmarks (issue #5 item 7 target: a charge under 100 µs per node on SQLite).
//!
//! - `charge/sqlite_disk`: one charge at a time on a SQLite file (the latency a node pays).
//! - `charge_c50/sqlite_disk`: 50 charges at once on one token (group commit on the writer).
//!
//! Run with `scripts/bench fac`, or `cargo bench -p flowork-storage --bench gas`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowork_model::{Gas, Jti};
use flowork_storage::{GasLedger, SqliteStore};
use tokio::runtime::Runtime;

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gas.db");
    let store = rt
        .block_on(SqliteStore::open(path.to_str().expect("utf8"), 4))
        .expect("open");
    let jti = Jti::new();
    let budget = Gas(u64::MAX >> 1);
    c.bench_function("charge/sqlite_disk", |b| {
        b.iter(|| {
            rt.block_on(store.charge(&jti, Gas(1), budget))
                .expect("charge")
                .expect("within budget")
        });
    });
    let mut group = c.benchmark_group("charge_c50");
    group.throughput(Throughput::Elements(50));
    group.bench_function("sqlite_disk", |b| {
        b.iter(|| {
            rt.block_on(async {
                let all = (0..50).map(|_| store.charge(&jti, Gas(1), budget));
                for r in futures::future::join_all(all).await {
                    r.expect("charge").expect("within budget");
                }
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
