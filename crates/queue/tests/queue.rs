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

use flowork_testkit::backend_tests;

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
    push_leased_is_held_then_reclaimed,
}
