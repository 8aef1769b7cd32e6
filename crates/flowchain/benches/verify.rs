//! Verifying a 10,000-version chain on one core (target: >= 20,000 versions/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowork_flowchain::{
    ChainStatus, SigningKey, VersionRecord, verify_chain, verify_chain_parallel,
};
use serde_json::json;

const N: usize = 10_000;

fn chain() -> Vec<VersionRecord> {
    let key = SigningKey::generate();
    let mut out: Vec<VersionRecord> = Vec::with_capacity(N);
    for i in 0..N {
        // A small but realistic workflow document (~400 bytes of JCS).
        let wf = json!({"name": "set-respond", "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "set", "type": "core.set", "params": {"value": format!("{{n: {i}, doubled: (.input.n * 2)}}")}},
            {"id": "respond", "type": "core.respond", "params": {"body": ".input"}}],
            "edges": [{"from": "start", "to": "set"}, {"from": "set", "to": "respond"}]});
        let mut r = VersionRecord::next(out.last(), "0193a1b2-wf", "2026-11-22T07:00:00Z", wf)
            .expect("record");
        r.sign(&key).expect("sign");
        out.push(r);
    }
    out
}

fn bench(c: &mut Criterion) {
    let records = chain();
    assert_eq!(verify_chain(&records).status, ChainStatus::Valid);
    let mut g = c.benchmark_group("verify_chain");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("10000_versions", |b| b.iter(|| verify_chain(&records)));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    g.bench_function(format!("10000_versions_parallel_{cores}"), |b| {
        b.iter(|| verify_chain_parallel(&records, cores))
    });
    g.finish();
    // Where the time goes, per version.
    let r = &records[N / 2];
    let msg = r.signing_bytes().expect("bytes");
    let sig = r.signature.expect("signed");
    c.bench_function("one/recover", |b| b.iter(|| sig.recover(&msg)));
    c.bench_function("one/signing_bytes", |b| b.iter(|| r.signing_bytes()));
    c.bench_function("one/hash", |b| b.iter(|| r.hash()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
