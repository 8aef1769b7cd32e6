//! Workflows (DESIGN §4): the document, the node catalog, validation and the compiled form.

mod catalog;
mod compiled;
mod doc;
mod error;
mod graph;
mod params;
mod validate;

pub use catalog::{Catalog, NodeInfo, NodeSpec, Ports};
pub use compiled::{CompiledNode, CompiledWorkflow, Param};
pub use doc::{Edge, Node, Retry, Settings, WorkflowDoc};
pub use error::{ValidationError, ValidationErrors};
pub use graph::{Graph, Link};
pub use params::{ParamKind, ParamSpec, object_schema};
pub use validate::compile;

#[cfg(test)]
mod tests;
