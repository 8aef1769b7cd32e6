//! Checkpoints of pure nodes, held back to ride with a later write.
//!
//! A [pure](crate::nodes::NodeHandler::pure) node (`core.set`, `core.if`, triggers, ...) touches
//! nothing outside its execution, so running it again after a crash is indistinguishable from
//! having kept its record. Its `succeeded` record therefore need not be committed before its
//! dependants start: the records wait here and are written together
//! - before any node with side effects starts (so everything it was built on is durable first),
//! - with the execution's end or park (one commit for the last records and the outcome),
//! - once the oldest has waited [`FLUSH_AFTER`], or [`MAX_UNSAVED`] have gathered, so a long
//!   run of pure work is never more than that from durable.
//!
//! A crash loses at most those records, and their nodes then run again, with the same inputs.
//! A node with side effects never runs twice because of this: it is written as running before
//! it starts and as done when it ends, as before.

use std::time::{Duration, Instant};

use flowork_storage::NodeRun;

/// How long a pure node's record may wait for a write to ride with.
pub const FLUSH_AFTER: Duration = Duration::from_millis(20);
/// How many records may wait at most.
pub const MAX_UNSAVED: usize = 64;

/// Records not written yet, oldest first.
#[derive(Debug, Default)]
pub(super) struct Unsaved {
    runs: Vec<NodeRun>,
    since: Option<Instant>,
}

impl Unsaved {
    pub(super) fn push(&mut self, run: NodeRun) {
        self.since.get_or_insert_with(Instant::now);
        self.runs.push(run);
    }

    /// Whether the records have waited long enough (or are many enough) to be written now.
    pub(super) fn due(&self) -> bool {
        self.runs.len() >= MAX_UNSAVED || self.since.is_some_and(|t| t.elapsed() >= FLUSH_AFTER)
    }

    /// Takes every record, leaving none.
    pub(super) fn take(&mut self) -> Vec<NodeRun> {
        self.since = None;
        std::mem::take(&mut self.runs)
    }
}

#[cfg(test)]
mod tests {
    use flowork_model::{ExecutionId, NodeRunStatus, Timestamp};
    use serde_json::Value;

    use super::*;

    fn run(node: &str) -> NodeRun {
        NodeRun {
            execution_id: ExecutionId::new(),
            node_id: node.into(),
            attempt: 1,
            status: NodeRunStatus::Succeeded,
            input: Value::Null,
            output: Some(Value::Null),
            port: None,
            error: None,
            gas: 0,
            started_at: Timestamp::now(),
            finished_at: Some(Timestamp::now()),
        }
    }

    #[test]
    fn records_come_out_in_order_and_are_due_when_many_or_old() {
        let mut u = Unsaved::default();
        assert!(!u.due() && u.take().is_empty());
        u.push(run("a"));
        u.push(run("b"));
        assert!(!u.due(), "two fresh records wait");
        let ids: Vec<_> = u.take().into_iter().map(|r| r.node_id).collect();
        assert_eq!(ids, ["a", "b"]);
        for i in 0..MAX_UNSAVED {
            u.push(run(&i.to_string()));
        }
        assert!(u.due(), "many are due at once");
        u.take();
        u.push(run("old"));
        std::thread::sleep(FLUSH_AFTER + Duration::from_millis(5));
        assert!(u.due(), "an old one is due");
    }
}
