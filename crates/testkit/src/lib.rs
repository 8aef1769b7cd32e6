//! Test support shared by every crate's tests (dev-dependency only).
//!
//! [`procfs::sockets`] tells which sockets a child process holds and whether any listens.
//!
//! Tests that need Postgres or Redis read `FLOWORK_TEST_PG` / `FLOWORK_TEST_REDIS`, which
//! `scripts/test` always sets. When one is unset, a test says so loudly and returns; under
//! `CI=true` it fails instead, so CI can never pass by skipping.

use std::io::Write;

#[cfg(target_os = "linux")]
pub mod procfs;

/// The Postgres URL tests use, or `None` after a loud SKIPPED line (a panic under `CI=true`).
pub fn postgres() -> Option<String> {
    service(
        "FLOWORK_TEST_PG",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// The Redis URL tests use, or `None` after a loud SKIPPED line (a panic under `CI=true`).
pub fn redis() -> Option<String> {
    service("FLOWORK_TEST_REDIS", "redis://127.0.0.1:6379/")
}

fn service(var: &str, example: &str) -> Option<String> {
    if let Ok(url) = std::env::var(var)
        && !url.is_empty()
    {
        return Some(url);
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{var} is unset but CI=true: {test} must run against a real server (run scripts/test)"
        );
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "!!!!! {test}: SKIPPED ({var} unset; set it, e.g. to {example}, or run scripts/test) !!!!!"
    );
    None
}

/// One `#[tokio::test]` per check for one backend: `crate::harness::Fixture::<backend>()` gives
/// the fixture (`None` = skipped), `crate::checks::<check>(&fixture)` runs, and the fixture is
/// cleaned up even when the check fails. The test crate needs `futures` and `tokio`.
// `crate::` on purpose: harness and checks live in the calling test crate.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
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
