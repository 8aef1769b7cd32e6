//! The durable queue: ordering, delays, leases, expiry and exactly-once delivery under contention.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use flowork_model::Timestamp;
use flowork_storage::{StorageError, Store};
use serde_json::json;
use tokio::time::Instant;

use crate::assert_err;
use crate::harness::Fixture;

const LONG: Duration = Duration::from_secs(60);

pub async fn queue_lease_ack_nack(fx: &Fixture) {
    let s = &fx.store;
    assert_eq!(s.lease("jobs", "w1", LONG).await.expect("empty"), None);
    let a = s
        .enqueue("jobs", json!({"n": "a"}), Duration::ZERO)
        .await
        .expect("a");
    let b = s
        .enqueue("jobs", json!({"n": "b"}), Duration::ZERO)
        .await
        .expect("b");
    let c = s
        .enqueue("jobs", json!({"n": "c"}), Duration::ZERO)
        .await
        .expect("c");
    s.enqueue("other", json!({"n": "x"}), Duration::ZERO)
        .await
        .expect("other");
    assert_eq!(s.queue_len("jobs").await.expect("len"), 3);

    let before = Timestamp::now();
    let job = s
        .lease("jobs", "w1", LONG)
        .await
        .expect("lease")
        .expect("job a");
    assert_eq!(
        (job.id, job.queue.as_str(), &job.payload, job.attempts),
        (a, "jobs", &json!({"n": "a"}), 1)
    );
    assert!(job.lease_until >= before.after(LONG - Duration::from_secs(5)));
    let jb = s
        .lease("jobs", "w2", LONG)
        .await
        .expect("lease")
        .expect("job b");
    assert_eq!(jb.id, b);
    assert_eq!(
        s.queue_len("jobs").await.expect("len"),
        3,
        "leased messages still count"
    );

    assert_err!(s.ack(a, "w2").await, StorageError::Conflict(_));
    s.ack(a, "w1").await.expect("ack");
    assert_err!(s.ack(a, "w1").await, StorageError::Conflict(_));
    assert_eq!(s.queue_len("jobs").await.expect("len"), 2);

    // b goes back and becomes visible after c, which was waiting longer. (The pause makes b's
    // new visibility time strictly later than c's at millisecond resolution.)
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_err!(
        s.nack(b, "w1", Duration::ZERO).await,
        StorageError::Conflict(_)
    );
    s.nack(b, "w2", Duration::ZERO).await.expect("nack");
    assert_err!(s.ack(b, "w2").await, StorageError::Conflict(_));
    assert_eq!(
        s.lease("jobs", "w1", LONG)
            .await
            .expect("lease")
            .map(|j| j.id),
        Some(c)
    );
    let again = s
        .lease("jobs", "w1", LONG)
        .await
        .expect("lease")
        .expect("b again");
    assert_eq!((again.id, again.attempts), (b, 2));
    assert_eq!(s.lease("jobs", "w1", LONG).await.expect("lease"), None);
    assert_eq!(s.queue_len("other").await.expect("other len"), 1);
    assert_eq!(s.queue_len("nothing").await.expect("none"), 0);
}

pub async fn queue_delay_and_nack_delay(fx: &Fixture) {
    let s = &fx.store;
    let id = s
        .enqueue("later", json!(1), Duration::from_millis(800))
        .await
        .expect("enqueue");
    assert_eq!(
        s.lease("later", "w", LONG).await.expect("lease"),
        None,
        "not visible yet"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let job = s
        .lease("later", "w", LONG)
        .await
        .expect("lease")
        .expect("visible now");
    assert_eq!(job.id, id);
    s.nack(id, "w", Duration::from_millis(800))
        .await
        .expect("nack with delay");
    assert_eq!(
        s.lease("later", "w", LONG).await.expect("lease"),
        None,
        "nack delay holds"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let job = s
        .lease("later", "w", LONG)
        .await
        .expect("lease")
        .expect("visible again");
    assert_eq!((job.id, job.attempts), (id, 2));
}

pub async fn queue_lease_expiry_reclaims(fx: &Fixture) {
    let s = &fx.store;
    let id = s
        .enqueue("jobs", json!({"n": 1}), Duration::ZERO)
        .await
        .expect("enqueue");
    let first = s
        .lease("jobs", "dead", Duration::from_millis(800))
        .await
        .expect("lease")
        .expect("job");
    assert_eq!(
        s.lease("jobs", "alive", LONG).await.expect("lease"),
        None,
        "held by a live lease"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let second = s
        .lease("jobs", "alive", LONG)
        .await
        .expect("lease")
        .expect("reclaimed");
    assert_eq!((second.id, second.attempts), (first.id, 2));
    assert_err!(s.ack(id, "dead").await, StorageError::Conflict(_));
    assert_err!(
        s.nack(id, "dead", Duration::ZERO).await,
        StorageError::Conflict(_)
    );
    s.ack(id, "alive").await.expect("ack by the new holder");
    assert_eq!(s.queue_len("jobs").await.expect("len"), 0);
}

/// A 400 ms lease renewed twice (~750 ms in all) stays held past its first term and past the
/// first renewal; once renewal stops it lapses and another worker takes the message; renewing a
/// lost lease (taken, or expired and not yet taken) is a conflict.
pub async fn queue_extend_lease_renews(fx: &Fixture) {
    const LEASE: Duration = Duration::from_millis(400);
    const STEP: Duration = Duration::from_millis(250);
    let s = &fx.store;
    let id = s
        .enqueue("jobs", json!({"n": 1}), Duration::ZERO)
        .await
        .expect("enqueue");
    let first = s
        .lease("jobs", "w1", LEASE)
        .await
        .expect("lease")
        .expect("job");
    let mut renewed_at = Instant::now();
    assert_eq!(first.id, id);
    assert_err!(
        s.extend_lease(id, "w2", LEASE).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        s.extend_lease(id + 1000, "w1", LEASE).await,
        StorageError::Conflict(_)
    );
    // Checks at ~250, ~500 (past the first term) and ~750 ms (past the first renewal), each
    // 250 ms into the latest 400 ms grant.
    for round in 0..3 {
        tokio::time::sleep(STEP).await;
        assert_eq!(
            s.lease("jobs", "w2", LEASE).await.expect("lease"),
            None,
            "round {round}: taken {:?} after a renewal of {LEASE:?}",
            renewed_at.elapsed()
        );
        if round < 2 {
            s.extend_lease(id, "w1", LEASE)
                .await
                .unwrap_or_else(|e| panic!("round {round}: extend: {e}"));
            renewed_at = Instant::now();
        }
    }
    // The last renewal runs out; the message is visible again and another worker takes it.
    tokio::time::sleep(LEASE.saturating_sub(renewed_at.elapsed()) + Duration::from_millis(150))
        .await;
    let second = s
        .lease("jobs", "w2", LONG)
        .await
        .expect("lease")
        .expect("reclaimed after the last renewal expired");
    assert_eq!((second.id, second.attempts), (id, 2));
    assert_err!(
        s.extend_lease(id, "w1", LEASE).await,
        StorageError::Conflict(_)
    );
    s.extend_lease(id, "w2", LONG)
        .await
        .expect("the new holder renews");
    s.ack(id, "w2").await.expect("ack after renewal");
    assert_err!(
        s.extend_lease(id, "w2", LEASE).await,
        StorageError::Conflict(_)
    );

    // Expired but not yet taken: the holder can no longer renew, and the message is visible.
    let other = s
        .enqueue("jobs", json!({"n": 2}), Duration::ZERO)
        .await
        .expect("enqueue");
    s.lease("jobs", "w1", Duration::from_millis(100))
        .await
        .expect("lease")
        .expect("job");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_err!(
        s.extend_lease(other, "w1", LEASE).await,
        StorageError::Conflict(_)
    );
    let job = s
        .lease("jobs", "w2", LONG)
        .await
        .expect("lease")
        .expect("visible after the lapsed lease");
    assert_eq!((job.id, job.attempts), (other, 2));
}

/// 8 workers drain 50 jobs concurrently: every job is delivered exactly once.
pub async fn queue_concurrent_workers(fx: &Fixture) {
    const JOBS: u64 = 50;
    let s: Arc<dyn Store> = Arc::clone(&fx.store);
    for n in 0..JOBS {
        s.enqueue("work", json!({"n": n}), Duration::ZERO)
            .await
            .expect("enqueue");
    }
    let workers = (0..8).map(|w| {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut got = Vec::new();
            while let Some(job) = s.lease("work", &worker, LONG).await.expect("lease") {
                assert_eq!(job.attempts, 1, "no job is handed out twice");
                got.push(job.payload["n"].as_u64().expect("n"));
                s.ack(job.id, &worker).await.expect("ack");
            }
            got
        })
    });
    let mut all = Vec::new();
    for r in futures::future::join_all(workers).await {
        all.extend(r.expect("worker"));
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len() as u64, JOBS, "delivered exactly {JOBS} times");
    assert_eq!(unique, (0..JOBS).collect(), "every job delivered");
    assert_eq!(s.queue_len("work").await.expect("len"), 0);
}

/// A message enqueued already leased is hidden from other workers until that lease ends, then
/// reclaimed with its attempt counted; its holder can ack it.
pub async fn queue_enqueue_leased(fx: &Fixture) {
    let s = &fx.store;
    let held = s
        .enqueue_leased("jobs", json!({"n": 1}), "me", Duration::from_millis(800))
        .await
        .expect("enqueue leased");
    assert_eq!((held.attempts, held.payload.clone()), (1, json!({"n": 1})));
    assert_eq!(s.queue_len("jobs").await.expect("len"), 1);
    assert_eq!(s.lease("jobs", "other", LONG).await.expect("lease"), None);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let again = s
        .lease("jobs", "other", LONG)
        .await
        .expect("lease")
        .expect("reclaimed");
    assert_eq!((again.id, again.attempts), (held.id, 2));
    assert_err!(s.ack(held.id, "me").await, StorageError::Conflict(_));
    s.ack(held.id, "other").await.expect("ack");

    let mine = s
        .enqueue_leased("jobs", json!({"n": 2}), "me", LONG)
        .await
        .expect("enqueue leased");
    s.ack(mine.id, "me").await.expect("ack by its holder");
    assert_eq!(s.queue_len("jobs").await.expect("len"), 0);
}
