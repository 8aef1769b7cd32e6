//! The expression scope of a node: `{input, nodes, trigger, execution, env}` (DESIGN §4).

use flowork_expr::Context;
use flowork_model::workflow::{CompiledNode, CompiledWorkflow, Param};
use flowork_storage::Execution;
use serde_json::{Map, Value, json};

use super::state::NodeState;

/// Builds the scope. `nodes` (every finished node's output) is only filled in when one of the
/// node's expressions mentions `nodes`: copying every output for every node would make a long
/// chain quadratic.
pub(crate) fn build(
    wf: &CompiledWorkflow,
    node: &CompiledNode,
    states: &[NodeState],
    input: &Value,
    trigger: &Value,
    exec: &Execution,
) -> Context {
    let nodes = if node.params.values().any(mentions_nodes) {
        let done = wf.nodes.iter().zip(states).filter_map(|(n, s)| match s {
            NodeState::Done { output, .. } => Some((n.id.clone(), output.clone())),
            _ => None,
        });
        Value::Object(done.collect::<Map<_, _>>())
    } else {
        json!({})
    };
    let execution = json!({
        "id": exec.id.to_string(),
        "workflow_id": exec.workflow_id.to_string(),
        "version": exec.version,
    });
    // No process environment: workflows must not read the engine's secrets.
    let env = json!({});
    Context::from_fields([
        ("input", input),
        ("nodes", &nodes),
        ("trigger", trigger),
        ("execution", &execution),
        ("env", &env),
    ])
}

fn mentions_nodes(p: &Param) -> bool {
    match p {
        Param::Literal(_) => false,
        Param::Expr(e) => e.source().contains("nodes"),
        Param::Template(t) => t.source().contains("nodes"),
        Param::TemplateMap(parts) => parts.iter().any(|(_, t)| t.source().contains("nodes")),
        Param::List(items) => items.iter().flat_map(|i| i.values()).any(mentions_nodes),
    }
}
