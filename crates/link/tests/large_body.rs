//! A 64 MiB body through the link both ways, streamed in chunks with bounded memory. Its own
//! test binary, so the process's peak memory is this test's alone.

#![allow(clippy::unwrap_used)]

#[path = "it/support.rs"]
mod support;

use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;

use support::*;

const PIECE: usize = 256 * 1024;
const PIECES: usize = 256; // 64 MiB

/// 256 KiB of noise, made once; every piece is a copy stamped with its index, so a dropped,
/// repeated or reordered chunk changes the checksum.
fn noise() -> Bytes {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(PIECE);
    for _ in 0..PIECE / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    Bytes::from(out)
}

fn piece(noise: &[u8], i: usize) -> Bytes {
    let mut out = noise.to_vec();
    out[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Bytes::from(out)
}

/// A streaming checksum: std's SipHash absorbs bytes whatever the chunk boundaries (and std is
/// built optimised, so 64 MiB hash fast in a debug test).
#[derive(Default)]
struct Sum {
    hasher: DefaultHasher,
    len: usize,
}

impl Sum {
    fn add(&mut self, data: &[u8]) {
        self.len += data.len();
        self.hasher.write(data);
    }

    fn value(&self) -> u64 {
        self.hasher.finish()
    }
}

/// Peak resident memory of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_body_streams_through_in_chunks_with_bounded_memory() {
    let (gw, engine, probe) = linked(8).await;
    let before = peak_rss_kib();

    let noise = noise();
    let mut sent = Sum::default();
    for i in 0..PIECES {
        sent.add(&piece(&noise, i));
    }
    let upload =
        futures::stream::iter(0..PIECES).map(move |i| Ok::<_, std::io::Error>(piece(&noise, i)));
    let req = http::Request::post("/echo")
        .body(Body::from_stream(upload))
        .unwrap();

    let started = Instant::now();
    let res = gw
        .hub
        .forward(&ENGINE.into(), req, in_secs(30))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut got = Sum::default();
    let mut frames = 0usize;
    let mut body = res.into_body().into_data_stream();
    while let Some(data) = body.next().await {
        got.add(&data.unwrap());
        frames += 1;
    }
    let took = started.elapsed();

    assert_eq!(got.len, PIECE * PIECES);
    assert_eq!(got.value(), sent.value(), "the echoed body differs");
    let chunks = probe.chunks.load(Ordering::Relaxed);
    // 64 KiB frames: at least 1024 of them reached the handler, and came back as many.
    assert!(
        chunks >= PIECE * PIECES / flowork_link::CHUNK_SIZE,
        "{chunks} chunks"
    );
    assert!(
        frames >= PIECE * PIECES / flowork_link::CHUNK_SIZE,
        "{frames} frames"
    );

    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        let grew_mib = (after.saturating_sub(before)) / 1024;
        println!("64 MiB echoed in {took:?}; peak RSS grew {grew_mib} MiB");
        assert!(
            grew_mib < 32,
            "peak RSS grew {grew_mib} MiB for a 64 MiB body"
        );
    }
    assert!(took < Duration::from_secs(20));
    engine.stop().await;
    gw.stop().await;
}
