//! Gateway, store and engine as three OS processes on loopback (issue #4). The engine links out to
//! the gateway, keeps its state in the store service (`scheduler.store_url`) and listens nowhere.
//! While it is dead, webhooks that wait get 503 + Retry-After and the others are buffered at the
//! gateway; they survive a gateway restart, and each runs exactly once when the engine is back,
//! even when the gateway delivers them again. The engine also outlives a store service restart.
//! `license`: the gateway and the license service as two processes sharing one database.

mod api;
mod buffer;
mod flow;
mod license;
mod procs;
mod steps;

use std::time::Instant;

use procs::{Service, free_addr};

const PASSWORD: &str = "e2e-admin-password-long-enough";

/// The three processes; a failing test prints the tail of each one's log.
pub struct Stack {
    pub gateway: Service,
    pub store: Service,
    pub engine: Service,
    pub gateway_url: String,
    pub store_addr: std::net::SocketAddr,
    started: Instant,
    _root: tempfile::TempDir,
}

impl Stack {
    /// Gateway and store started (not yet up); the engine is configured, not started.
    fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let (gw_addr, store_addr) = (free_addr(), free_addr());
        let gateway_url = format!("http://{gw_addr}");
        let mut gateway = Service::new(root.path(), "gateway", Some(gw_addr));
        gateway.env("FLOWORK_ADMIN_PASSWORD", PASSWORD);
        let mut store = Service::new(root.path(), "store", Some(store_addr));
        let mut engine = Service::new(root.path(), "scheduler", None);
        engine
            .env("FLOWORK_SCHEDULER__GATEWAY_URL", &gateway_url)
            .env(
                "FLOWORK_SCHEDULER__STORE_URL",
                format!("http://{store_addr}"),
            )
            // The steps save plain (unsigned) workflows; signing has its own tests.
            .env("FLOWORK_VERSIONS__REQUIRE_SIGNED", "false");
        store.start();
        gateway.start();
        Self {
            gateway,
            store,
            engine,
            gateway_url,
            store_addr,
            started: Instant::now(),
            _root: root,
        }
    }

    /// Seconds since start, for the timings the test prints.
    pub fn mark(&self, what: &str) {
        eprintln!("[{:>6.2} s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Panics if any process that should run has exited.
    pub fn assert_running(&mut self) {
        self.gateway.assert_running();
        self.store.assert_running();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for s in [&self.gateway, &self.store, &self.engine] {
                eprintln!("----- {} log, last lines -----\n{}", s.name, s.tail(40));
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_buffer_webhooks_for_a_dead_engine_and_run_each_once() {
    let mut stack = Stack::start();
    flow::run(&mut stack).await;
}
