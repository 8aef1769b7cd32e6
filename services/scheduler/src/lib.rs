//! The scheduler: Flowork's engine ("Async Orchestrator", DESIGN §4).
//!
//! Built so far: the [`engine`] that runs one execution of a workflow version as a DAG, with
//! independent branches in parallel, durable checkpoints through the store, retries and
//! timeouts; [`replay`] from any node; the [`nodes`] (triggers, set, if, switch, merge,
//! respond, fail, http); [`cron`] triggers, fired once per tick across workers; the engine
//! [`api`] (workflows, runs, executions, credentials, node catalog) served on the service's own
//! port; [`retention`] of finished execution history (`scheduler.retention_days`); and resuming
//! unfinished executions at start.
//! Not built yet (issue #3 continues): workers on the shared queue (`flowork-queue` exists),
//! webhook triggers, `core.wait`/`core.subworkflow`, the error workflow; and the
//! EngineLink client (issue #4).

pub mod api;
pub mod cron;
pub mod engine;
pub mod nodes;
pub mod replay;
pub mod retention;
pub mod runner;
mod service;
pub mod versions;
pub mod webhooks;

pub use engine::{Engine, EngineError};
pub use runner::{Runner, StartRequest};
pub use service::{prepare, run, start};
