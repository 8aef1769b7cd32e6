//! Domain types shared by every Flowork crate: typed ids, timestamps and state enums.
//!
//! The workflow document itself (nodes, edges, validation) grows here with the engine issue.

mod ids;
mod status;
mod time;

pub use ids::{CredentialId, ExecutionId, IdError, UserId, WorkflowId};
pub use status::{ExecutionStatus, NodeRunStatus, Role, UnknownVariant};
pub use time::Timestamp;
