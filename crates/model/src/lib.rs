//! Domain types shared by every Flowork crate: typed ids, timestamps, gas and state enums.
//!
//! [`workflow`] holds the workflow document, the node catalog and validation.

mod gas;
mod ids;
mod status;
mod time;
pub mod workflow;

pub use gas::{Gas, Jti, OutOfGas};
pub use ids::{ApiKeyId, CredentialId, EngineId, ExecutionId, IdError, UserId, WorkflowId};
pub use status::{EngineRole, ExecutionStatus, NodeRunStatus, Role, UnknownVariant};
pub use time::Timestamp;
