//! The checks, each driving queues only through `Arc<dyn JobQueue>`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowork_queue::{JobQueue, QueueError, QueueJob};
use serde_json::json;
use tokio::time::Instant;

use crate::harness::Fixture;

const LONG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(100);
const PATIENT: Duration = Duration::from_secs(3);

fn job(n: u64) -> QueueJob {
    QueueJob::new("run", json!({ "n": n }))
}

fn assert_lease_lost(r: flowork_queue::Result<()>) {
    assert!(matches!(r, Err(QueueError::LeaseLost { .. })), "{r:?}");
}

pub async fn push_pull_ack(fx: &Fixture) {
    let q = fx.queue(LONG).await;
    let id = q.push(&job(1)).await.expect("push");
    q.push_delayed(&job(2), LONG).await.expect("push delayed");
    assert_eq!(q.len().await.expect("len"), 2, "ready + delayed");

    let d = q.pull("w1", PATIENT).await.expect("pull").expect("a job");
    assert_eq!((d.id.clone(), d.job.clone()), (id, job(1)));
    assert_eq!((d.attempts, d.worker.as_str()), (1, "w1"));
    assert_eq!(q.len().await.expect("len"), 2, "leased jobs still count");

    q.ack(&d).await.expect("ack");
    assert_eq!(q.len().await.expect("len"), 1);
    assert_lease_lost(q.ack(&d).await);
    assert!(q.pull("w1", SHORT).await.expect("pull").is_none());
}

pub async fn empty_pull_returns_none_after_wait(fx: &Fixture) {
    let q = fx.queue(LONG).await;
    let start = Instant::now();
    let got = q
        .pull("w1", Duration::from_millis(300))
        .await
        .expect("pull");
    let took = start.elapsed();
    assert!(got.is_none());
    assert!(
        took >= Duration::from_millis(280),
        "returned early: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "overslept: {took:?}");
}

pub async fn delayed_job_visible_only_when_due(fx: &Fixture) {
    let q = fx.queue(LONG).await;
    let start = Instant::now();
    let id = q
        .push_delayed(&job(7), Duration::from_millis(500))
        .await
        .expect("push delayed");
    assert!(q.pull("w1", SHORT).await.expect("pull").is_none(), "early");
    let d = q.pull("w1", PATIENT).await.expect("pull").expect("due job");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "delivered early: {took:?}"
    );
    assert_eq!((d.id.clone(), d.job.clone(), d.attempts), (id, job(7), 1));
    q.ack(&d).await.expect("ack");
}

pub async fn nack_redelivers_after_delay(fx: &Fixture) {
    let q = fx.queue(LONG).await;
    q.push(&job(3)).await.expect("push");
    let first = q.pull("w1", PATIENT).await.expect("pull").expect("job");
    let start = Instant::now();
    q.nack(&first, Duration::from_millis(400))
        .await
        .expect("nack");
    assert_lease_lost(q.ack(&first).await);
    assert_eq!(q.len().await.expect("len"), 1, "a nacked job stays queued");
    assert!(q.pull("w2", SHORT).await.expect("pull").is_none(), "early");

    let again = q
        .pull("w2", PATIENT)
        .await
        .expect("pull")
        .expect("redelivery");
    assert!(start.elapsed() >= Duration::from_millis(350));
    assert_eq!((again.id.clone(), again.job.clone()), (first.id, job(3)));
    assert_eq!((again.attempts, again.worker.as_str()), (2, "w2"));
    q.ack(&again).await.expect("ack");
    assert_eq!(q.len().await.expect("len"), 0);
}

pub async fn competing_workers_get_each_job_once(fx: &Fixture) {
    const JOBS: usize = 200;
    let producer = fx.queue(LONG).await;
    // Half of them delayed, so both workers race to promote them too.
    for n in 0..JOBS as u64 {
        if n % 2 == 0 {
            producer.push(&job(n)).await.expect("push");
        } else {
            let delay = Duration::from_millis(100 + n);
            producer.push_delayed(&job(n), delay).await.expect("push");
        }
    }
    let acked = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for name in ["a", "b"] {
        let (q, acked) = (fx.queue(LONG).await, acked.clone());
        workers.push(tokio::spawn(work(q, name, acked)));
    }
    let mut seen = BTreeMap::new();
    for w in futures::future::join_all(workers).await {
        let (name, got) = w.expect("worker task");
        eprintln!("worker {name} took {} jobs", got.len());
        for (n, attempts) in got {
            assert_eq!(attempts, 1, "job {n} redelivered");
            assert!(seen.insert(n, name).is_none(), "job {n} delivered twice");
        }
    }
    assert_eq!(seen.len(), JOBS, "lost jobs");
    assert!(seen.keys().copied().eq(0..JOBS as u64));
    assert_eq!(producer.len().await.expect("len"), 0);
}

/// Pulls and acks until every job is acked (or 30 s pass); returns `(n, attempts)` per job.
async fn work(
    q: Arc<dyn JobQueue>,
    name: &'static str,
    acked: Arc<AtomicUsize>,
) -> (&'static str, Vec<(u64, u32)>) {
    let deadline = Instant::now() + LONG;
    let mut got = Vec::new();
    while acked.load(Ordering::SeqCst) < 200 && Instant::now() < deadline {
        let Some(d) = q.pull(name, SHORT).await.expect("pull") else {
            continue;
        };
        let n = d.job.payload["n"].as_u64().expect("n");
        q.ack(&d).await.expect("ack");
        acked.fetch_add(1, Ordering::SeqCst);
        got.push((n, d.attempts));
    }
    (name, got)
}

pub async fn dead_workers_job_is_reclaimed(fx: &Fixture) {
    let lease = Duration::from_millis(300);
    let (dead, alive) = (fx.queue(lease).await, fx.queue(lease).await);
    let id = dead.push(&job(9)).await.expect("push");
    let lost = dead
        .pull("dead", PATIENT)
        .await
        .expect("pull")
        .expect("job");
    let leased_at = Instant::now();
    // The dead worker never acks. Within the lease nobody else may take the job...
    assert!(alive.pull("alive", SHORT).await.expect("pull").is_none());
    // ...after it, the next pull does.
    let d = alive
        .pull("alive", PATIENT)
        .await
        .expect("pull")
        .expect("reclaimed");
    assert!(leased_at.elapsed() >= Duration::from_millis(250));
    assert_eq!((d.id.clone(), d.job.clone()), (id, job(9)));
    assert_eq!((d.attempts, d.worker.as_str()), (2, "alive"));
    assert_lease_lost(dead.ack(&lost).await);
    alive.ack(&d).await.expect("ack");
    assert_eq!(alive.len().await.expect("len"), 0);
}

pub async fn extend_keeps_the_lease(fx: &Fixture) {
    let lease = Duration::from_millis(400);
    let (a, b) = (fx.queue(lease).await, fx.queue(lease).await);
    a.push(&job(5)).await.expect("push");
    let d = a.pull("a", PATIENT).await.expect("pull").expect("job");
    // Five rounds of 150 ms: well past the 400 ms lease in total.
    for round in 0..5 {
        assert!(
            b.pull("b", Duration::from_millis(150))
                .await
                .expect("pull")
                .is_none(),
            "round {round}: reclaimed despite extend"
        );
        a.extend(&d).await.expect("extend");
    }
    a.ack(&d).await.expect("ack after extends");
    assert_eq!(a.len().await.expect("len"), 0);

    // Once a worker stops renewing, the job is reclaimed and its late extend is refused.
    a.push(&job(6)).await.expect("push");
    let stalled = a.pull("a", PATIENT).await.expect("pull").expect("job");
    a.extend(&stalled).await.expect("extend");
    let d = b
        .pull("b", PATIENT)
        .await
        .expect("pull")
        .expect("reclaimed");
    assert_eq!((d.id.clone(), d.attempts), (stalled.id.clone(), 2));
    assert_lease_lost(a.extend(&stalled).await);
    assert_lease_lost(a.ack(&stalled).await);
    b.extend(&d).await.expect("the new holder extends");
    b.ack(&d).await.expect("ack by the new holder");
    assert_eq!(b.len().await.expect("len"), 0);
}

/// A job pushed already leased is the pusher's alone; if the pusher dies it is reclaimed like
/// any other. Backends that cannot do it in one step say so with `None` (Redis).
pub async fn push_leased_is_held_then_reclaimed(fx: &Fixture) {
    let lease = Duration::from_millis(300);
    let (dead, alive) = (fx.queue(lease).await, fx.queue(lease).await);
    let Some(mine) = dead
        .push_leased(&job(3), "dead")
        .await
        .expect("push leased")
    else {
        assert_eq!(dead.backend(), "redis", "only Redis declines push_leased");
        return;
    };
    assert_eq!((mine.job.clone(), mine.attempts), (job(3), 1));
    assert_eq!(dead.len().await.expect("len"), 1);
    let pushed_at = Instant::now();
    assert!(
        alive.pull("alive", SHORT).await.expect("pull").is_none(),
        "taken while leased"
    );
    let d = alive
        .pull("alive", PATIENT)
        .await
        .expect("pull")
        .expect("reclaimed");
    assert!(pushed_at.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        (d.id.clone(), d.job.clone(), d.attempts),
        (mine.id.clone(), job(3), 2)
    );
    assert_lease_lost(dead.ack(&mine).await);
    alive.ack(&d).await.expect("ack");

    // The usual case: the pusher runs it and acks; nobody else ever sees it.
    let held = alive
        .push_leased(&job(4), "alive")
        .await
        .expect("push")
        .expect("leased");
    alive.ack(&held).await.expect("ack");
    assert_eq!(alive.len().await.expect("len"), 0);
}
