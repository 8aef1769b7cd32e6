//! The scheduler: Flowork's engine ("Async Orchestrator", DESIGN §4).
//!
//! Built so far: the [`engine`] that runs one execution of a workflow version as a DAG, with
//! independent branches in parallel, durable checkpoints through the store, retries and
//! timeouts, and durable `core.wait`; [`replay`] from any node; the [`nodes`] (triggers, set, if,
//! switch, merge, respond, fail, http, subworkflow); error workflows; the [`runner`] on the shared
//! work queue (embedded or Redis) with lease renewal; [`cron`] triggers; [`webhooks`]; history
//! [`retention`]; live [`events`]; and the engine [`api`] (workflows, runs, executions,
//! credentials, node catalog, webhook listing) served on the service's own port and over
//! EngineLink to the gateway ([`link`]), with webhook [`deliveries`] deduplicated.

pub mod api;
pub mod cron;
pub mod deliveries;
pub mod engine;
pub mod events;
pub mod link;
pub mod nodes;
pub mod replay;
pub mod retention;
pub mod runner;
mod service;
pub mod versions;
pub mod webhooks;

pub use engine::{Engine, EngineError};
pub use runner::{Runner, StartRequest};
pub use service::{prepare, run, serve, start};
