//! The queue suite: every check runs against every backend.
//!
//! Each check is an `async fn(&Fixture)` that uses only `Arc<dyn JobQueue>`. `queue_suite!` turns
//! each into one test per backend, `embedded::<check>` (SQLite in a temp dir) and
//! `redis::<check>` (the server named by `FLOWORK_TEST_REDIS`, under a random key prefix deleted
//! afterwards). Without `FLOWORK_TEST_REDIS` the Redis tests print SKIPPED, or fail when `CI=true`.

#[path = "queue/checks.rs"]
mod checks;
#[path = "queue/harness.rs"]
mod harness;

/// One `#[tokio::test]` per check for one backend; a failing check still cleans up its keys.
macro_rules! backend_tests {
    ($backend:ident: $($check:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    use futures::FutureExt as _;
                    let Some(fx) = crate::harness::Fixture::$backend().await else { return };
                    let outcome = std::panic::AssertUnwindSafe(crate::checks::$check(&fx))
                        .catch_unwind()
                        .await;
                    fx.cleanup().await;
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                }
            )+
        }
    };
}

macro_rules! queue_suite {
    ($($check:ident),+ $(,)?) => {
        backend_tests!(embedded: $($check),+);
        backend_tests!(redis: $($check),+);
    };
}

queue_suite! {
    push_pull_ack,
    empty_pull_returns_none_after_wait,
    delayed_job_visible_only_when_due,
    nack_redelivers_after_delay,
    competing_workers_get_each_job_once,
    dead_workers_job_is_reclaimed,
    extend_keeps_the_lease,
}
