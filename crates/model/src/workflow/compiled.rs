//! A validated workflow with its expressions compiled: what the engine runs and caches per version.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use flowork_expr::{Program, Template};
use serde_json::Value;

use super::doc::{Retry, WorkflowDoc};
use super::graph::Graph;

/// A parameter ready to evaluate.
#[derive(Debug, Clone)]
pub enum Param {
    /// Taken as written (numbers, booleans, choices, credential names, defaults).
    Literal(Value),
    /// A whole jq program.
    Expr(Program),
    /// A string with `{{ jq }}` parts.
    Template(Template),
    /// An object of templates (headers, query).
    TemplateMap(Vec<(String, Template)>),
    /// A list of objects of parameters (`core.switch` cases).
    List(Vec<BTreeMap<String, Param>>),
}

/// One node, checked and compiled.
#[derive(Debug, Clone)]
pub struct CompiledNode {
    pub id: String,
    pub kind: String,
    pub trigger: bool,
    /// Every declared parameter that is set or has a default.
    pub params: BTreeMap<String, Param>,
    /// `max_attempts` 1 when the node has no retry policy.
    pub retry: Retry,
    pub timeout: Option<Duration>,
}

/// A workflow that passed validation, with its graph and compiled expressions.
#[derive(Debug, Clone)]
pub struct CompiledWorkflow {
    /// The document as given.
    pub doc: WorkflowDoc,
    /// Nodes in document order; indices match `graph`.
    pub nodes: Vec<CompiledNode>,
    pub graph: Graph,
    index: HashMap<String, usize>,
}

impl CompiledWorkflow {
    pub(crate) fn new(doc: WorkflowDoc, nodes: Vec<CompiledNode>, graph: Graph) -> Self {
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        Self {
            doc,
            nodes,
            graph,
            index,
        }
    }

    /// The index of the node with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Indices of the nodes with no parents (where executions start).
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.graph.parents[*i].is_empty())
    }

    /// The workflow time limit, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.doc.settings.timeout_ms.map(Duration::from_millis)
    }
}
