//! Hashing throughput: `Manifest::check` over 200 MB in 50 files, next to `sha256sum` on the
//! same files, and one thread hashing file after file (`scripts/bench integrity`; the target is
//! within 2x of sha256sum).

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowork_manifest::{Manifest, SecretKey};

const FILES: usize = 50;
const FILE_BYTES: usize = 4 << 20;

fn corpus() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Incompressible-looking bytes (xorshift), so no filesystem shortcut applies.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut paths = Vec::new();
    for i in 0..FILES {
        let mut buf = vec![0u8; FILE_BYTES];
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let p = dir.path().join(format!("file-{i:03}.bin"));
        std::fs::write(&p, &buf).expect("write");
        paths.push(p);
    }
    (dir, paths)
}

fn bench(c: &mut Criterion) {
    let (dir, paths) = corpus();
    let key = SecretKey::generate();
    let manifest = Manifest::build_dir(dir.path(), &key).expect("build");
    let mut g = c.benchmark_group("integrity_200MB");
    g.throughput(Throughput::Bytes((FILES * FILE_BYTES) as u64));
    g.sample_size(10);
    g.bench_function("manifest_check", |b| {
        b.iter(|| assert!(manifest.check(dir.path(), None).is_ok()));
    });
    // One thread, file after file, as sha256sum works: the per-core figure.
    g.bench_function("one_thread", |b| {
        b.iter(|| {
            for p in &paths {
                flowork_manifest::hash::hash_file(p, None).expect("hash");
            }
        });
    });
    g.bench_function("sha256sum", |b| {
        b.iter(|| {
            let out = Command::new("sha256sum")
                .args(&paths)
                .output()
                .expect("sha256sum runs");
            assert!(out.status.success());
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
