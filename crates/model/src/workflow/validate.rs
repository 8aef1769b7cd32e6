//! Validation: everything wrong with a document, each error naming its node and field.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use flowork_expr::{Program, Template};
use serde_json::Value;

use super::catalog::{Catalog, NodeSpec, Ports};
use super::compiled::{CompiledNode, CompiledWorkflow, Param};
use super::doc::{Node, Retry, WorkflowDoc};
use super::error::{ValidationError as E, ValidationErrors};
use super::graph::Graph;
use super::params::{ParamKind, ParamSpec, check_shape};

const MAX_ID: usize = 64;
const MAX_NAME: usize = 200;
const MAX_TIMEOUT_MS: u64 = 30 * 86_400_000;

/// Checks `doc` against `catalog` and compiles its expressions. Nothing invalid gets through.
pub fn compile(doc: WorkflowDoc, catalog: &Catalog) -> Result<CompiledWorkflow, ValidationErrors> {
    let mut errs = Vec::new();
    if doc.name.trim().is_empty() || doc.name.len() > MAX_NAME {
        errs.push(E::field(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    if doc.nodes.is_empty() {
        errs.push(E::field("nodes", "a workflow needs at least one node"));
    }
    if doc
        .settings
        .timeout_ms
        .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
    {
        errs.push(E::field(
            "settings.timeout_ms",
            format!("must be 1..={MAX_TIMEOUT_MS}"),
        ));
    }
    let mut seen = HashSet::new();
    let mut nodes = Vec::with_capacity(doc.nodes.len());
    for (i, node) in doc.nodes.iter().enumerate() {
        if !seen.insert(node.id.as_str()) {
            errs.push(E::node(
                &node.id,
                format!("nodes[{i}].id"),
                "duplicate node id",
            ));
        }
        nodes.push(compile_node(node, i, catalog, &mut errs));
    }
    let graph = check_edges(&doc, catalog, &mut errs);
    match (graph, nodes.into_iter().collect::<Option<Vec<_>>>()) {
        (Some(graph), Some(nodes)) if errs.is_empty() => {
            Ok(CompiledWorkflow::new(doc, nodes, graph))
        }
        _ => Err(ValidationErrors(errs)),
    }
}

fn compile_node(
    node: &Node,
    i: usize,
    catalog: &Catalog,
    errs: &mut Vec<E>,
) -> Option<CompiledNode> {
    let before = errs.len();
    let id = node.id.as_str();
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !id_ok {
        errs.push(E::node(
            id,
            format!("nodes[{i}].id"),
            format!("must be 1 to {MAX_ID} of A-Z a-z 0-9 _ -"),
        ));
    }
    let Some(spec) = catalog.get(&node.kind) else {
        let hint = catalog
            .suggest(&node.kind)
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        errs.push(E::node(
            id,
            "type",
            format!("unknown node type {:?}{hint}", node.kind),
        ));
        return None;
    };
    let retry = node.retry.unwrap_or(Retry {
        max_attempts: 1,
        backoff_ms: 0,
        max_backoff_ms: 0,
    });
    if !(1..=100).contains(&retry.max_attempts) {
        errs.push(E::node(id, "retry.max_attempts", "must be 1..=100"));
    }
    if retry.backoff_ms > MAX_TIMEOUT_MS || retry.max_backoff_ms > MAX_TIMEOUT_MS {
        errs.push(E::node(
            id,
            "retry.backoff_ms",
            format!("must be at most {MAX_TIMEOUT_MS}"),
        ));
    }
    if node
        .timeout_ms
        .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_MS)
    {
        errs.push(E::node(
            id,
            "timeout_ms",
            format!("must be 1..={MAX_TIMEOUT_MS}"),
        ));
    }
    for key in node.params.keys() {
        if spec.param(key).is_none() {
            let known: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
            let msg = format!(
                "unknown parameter for {}; known: {}",
                spec.kind,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
            errs.push(E::node(id, format!("params.{key}"), msg));
        }
    }
    let params = compile_params(id, "params", spec.params, &node.params, errs);
    if spec.kind == "trigger.cron" {
        check_cron(id, &params, errs);
    }
    (errs.len() == before).then(|| CompiledNode {
        id: node.id.clone(),
        kind: node.kind.clone(),
        trigger: spec.trigger,
        params,
        retry,
        timeout: node.timeout_ms.map(Duration::from_millis),
    })
}

fn compile_params(
    node: &str,
    prefix: &str,
    specs: &[ParamSpec],
    given: &serde_json::Map<String, Value>,
    errs: &mut Vec<E>,
) -> BTreeMap<String, Param> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let field = format!("{prefix}.{}", spec.name);
        let value = match (given.get(spec.name), spec.default) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => default(),
            (None, None) if spec.required => {
                errs.push(E::node(
                    node,
                    field,
                    format!("missing required parameter: {}", spec.description),
                ));
                continue;
            }
            (None, None) => continue,
        };
        if let Err(msg) = check_shape(&spec.kind, &value) {
            errs.push(E::node(node, field, msg));
            continue;
        }
        match compile_value(node, &field, &spec.kind, value, errs) {
            Some(p) => {
                out.insert(spec.name.to_owned(), p);
            }
            None => continue,
        }
    }
    out
}

fn compile_value(
    node: &str,
    field: &str,
    kind: &ParamKind,
    value: Value,
    errs: &mut Vec<E>,
) -> Option<Param> {
    let text = value.as_str().unwrap_or_default();
    let fail = |errs: &mut Vec<E>, msg: String| {
        errs.push(E::node(node, field, msg));
        None
    };
    match kind {
        ParamKind::Expr => match Program::compile(text) {
            Ok(p) => Some(Param::Expr(p)),
            Err(e) => fail(errs, e.to_string()),
        },
        ParamKind::Template => match Template::parse(text) {
            Ok(t) => Some(Param::Template(t)),
            Err(e) => fail(errs, e.to_string()),
        },
        ParamKind::WorkflowRef => match text.parse::<crate::WorkflowId>() {
            Ok(_) => Some(Param::Literal(value)),
            Err(e) => fail(errs, e.to_string()),
        },
        ParamKind::TemplateMap => {
            let mut parts = Vec::new();
            for (k, v) in value.as_object().into_iter().flatten() {
                match Template::parse(v.as_str().unwrap_or_default()) {
                    Ok(t) => parts.push((k.clone(), t)),
                    Err(e) => {
                        errs.push(E::node(node, format!("{field}.{k}"), e.to_string()));
                    }
                }
            }
            Some(Param::TemplateMap(parts))
        }
        ParamKind::List(fields) => {
            let mut items = Vec::new();
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                let at = format!("{field}[{i}]");
                let Some(obj) = item.as_object() else {
                    return fail(errs, format!("{at}: expected an object"));
                };
                for key in obj
                    .keys()
                    .filter(|k| !fields.iter().any(|f| f.name == k.as_str()))
                {
                    errs.push(E::node(node, format!("{at}.{key}"), "unknown field"));
                }
                items.push(compile_params(node, &at, fields, obj, errs));
            }
            Some(Param::List(items))
        }
        ParamKind::Str { .. } | ParamKind::Int { .. } | ParamKind::Bool | ParamKind::Credential => {
            Some(Param::Literal(value))
        }
    }
}

/// A schedule the scheduler could not read would never fire, so it is refused at save time. The
/// scheduler (`flowork_scheduler::cron`) parses with the same settings: croner's defaults, where
/// a leading seconds field is optional.
fn check_cron(node: &str, params: &BTreeMap<String, Param>, errs: &mut Vec<E>) {
    let text = |name| match params.get(name) {
        Some(Param::Literal(Value::String(s))) => Some(s.as_str()),
        _ => None,
    };
    if let Some(expr) = text("expression")
        && let Err(e) = expr.parse::<croner::Cron>()
    {
        errs.push(E::node(node, "params.expression", format!("bad cron: {e}")));
    }
    if let Some(tz) = text("timezone")
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        let msg = format!("unknown IANA time zone {tz:?} (e.g. UTC, Europe/Berlin)");
        errs.push(E::node(node, "params.timezone", msg));
    }
}

/// The output ports a node has, or `None` for a single unnamed output.
fn ports_of(spec: &NodeSpec, node: &Node) -> Option<Vec<String>> {
    match &spec.ports {
        Ports::Main => None,
        Ports::Fixed(p) => Some(p.iter().map(|s| (*s).to_owned()).collect()),
        Ports::FromList { param, field } => {
            let mut ports: Vec<String> = node
                .params
                .get(*param)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get(*field).and_then(Value::as_str).map(str::to_owned))
                .collect();
            ports.push("default".into());
            Some(ports)
        }
    }
}

fn check_edges(doc: &WorkflowDoc, catalog: &Catalog, errs: &mut Vec<E>) -> Option<Graph> {
    let ids: Vec<&str> = doc.nodes.iter().map(|n| n.id.as_str()).collect();
    let find = |id: &str| ids.iter().position(|n| *n == id);
    let mut edges = Vec::new();
    let mut seen = HashSet::new();
    let before = errs.len();
    for (i, e) in doc.edges.iter().enumerate() {
        let (from, to) = (find(&e.from), find(&e.to));
        if from.is_none() {
            errs.push(E::field(
                format!("edges[{i}].from"),
                format!("no node {:?}", e.from),
            ));
        }
        if to.is_none() {
            errs.push(E::field(
                format!("edges[{i}].to"),
                format!("no node {:?}", e.to),
            ));
        }
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        if from == to {
            errs.push(E::node(
                &e.to,
                format!("edges[{i}]"),
                "a node cannot feed itself",
            ));
            continue;
        }
        if !seen.insert(e) {
            errs.push(E::node(&e.to, format!("edges[{i}]"), "duplicate edge"));
            continue;
        }
        let (src, dst) = (&doc.nodes[from], &doc.nodes[to]);
        if let Some(spec) = catalog.get(&dst.kind).filter(|s| s.trigger) {
            errs.push(E::node(
                &dst.id,
                format!("edges[{i}].to"),
                format!("{} is a trigger and takes no input", spec.kind),
            ));
        }
        if let Some(spec) = catalog.get(&src.kind) {
            match (ports_of(spec, src), &e.port) {
                (None, Some(p)) => errs.push(E::node(
                    &src.id,
                    format!("edges[{i}].port"),
                    format!("{} has one output; remove port {p:?}", spec.kind),
                )),
                (Some(ports), None) => errs.push(E::node(
                    &src.id,
                    format!("edges[{i}].port"),
                    format!("{} needs a port: one of {}", spec.kind, ports.join(", ")),
                )),
                (Some(ports), Some(p)) if !ports.contains(p) => errs.push(E::node(
                    &src.id,
                    format!("edges[{i}].port"),
                    format!("no port {p:?}; one of {}", ports.join(", ")),
                )),
                _ => {}
            }
        }
        edges.push((from, to, e.port.clone()));
    }
    if errs.len() > before {
        return None;
    }
    match Graph::build(&ids, &edges) {
        Ok(g) => Some(g),
        Err(cycle) => {
            let node = cycle.first().cloned().unwrap_or_default();
            errs.push(E::node(
                &node,
                "edges",
                format!("cycle: {}", cycle.join(" -> ")),
            ));
            None
        }
    }
}
