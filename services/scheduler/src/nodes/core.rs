//! The core nodes: triggers, `core.set`, `core.if`, `core.switch`, `core.merge`, `core.respond`,
//! `core.fail`.

use std::sync::Arc;

use async_trait::async_trait;
use flowork_model::workflow::{CompiledNode, Param};
use serde_json::{Value, json};

use super::{NodeContext, NodeError, NodeHandler, NodeOutput, Registry, eval, truthy};

pub(super) fn register(r: &mut Registry) {
    for trigger in ["trigger.manual", "trigger.webhook", "trigger.cron"] {
        r.register(trigger, Arc::new(Trigger));
    }
    r.register("core.set", Arc::new(Set));
    r.register("core.if", Arc::new(If));
    r.register("core.switch", Arc::new(Switch));
    r.register("core.merge", Arc::new(Merge));
    r.register("core.respond", Arc::new(Respond));
    r.register("core.fail", Arc::new(Fail));
}

fn param<'a>(node: &'a CompiledNode, name: &str) -> Result<&'a Param, NodeError> {
    // Validation fills in every required parameter and default, so this only fails on a bug.
    node.params
        .get(name)
        .ok_or_else(|| NodeError::Fatal(format!("{}: parameter {name} missing", node.kind)))
}

/// Triggers output what started the execution (the engine passes it in as the input).
struct Trigger;

#[async_trait]
impl NodeHandler for Trigger {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, _: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        Ok(NodeOutput::main(cx.input.clone()))
    }
}

struct Set;

#[async_trait]
impl NodeHandler for Set {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        Ok(NodeOutput::main(eval(param(node, "value")?, &cx.scope)?))
    }
}

/// Passes its input on, to port `true` or `false`.
struct If;

#[async_trait]
impl NodeHandler for If {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let holds = truthy(&eval(param(node, "condition")?, &cx.scope)?);
        let port = if holds { "true" } else { "false" };
        Ok(NodeOutput {
            value: cx.input.clone(),
            port: Some(port.into()),
        })
    }
}

/// Passes its input on, to the port of the first case that holds, else `default`.
struct Switch;

#[async_trait]
impl NodeHandler for Switch {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let Param::List(cases) = param(node, "cases")? else {
            return Err(NodeError::Fatal("core.switch: cases is not a list".into()));
        };
        for case in cases {
            let (Some(cond), Some(Param::Literal(Value::String(port)))) =
                (case.get("condition"), case.get("port"))
            else {
                return Err(NodeError::Fatal(
                    "core.switch: a case lacks port or condition".into(),
                ));
            };
            if truthy(&eval(cond, &cx.scope)?) {
                return Ok(NodeOutput {
                    value: cx.input.clone(),
                    port: Some(port.clone()),
                });
            }
        }
        Ok(NodeOutput {
            value: cx.input.clone(),
            port: Some("default".into()),
        })
    }
}

/// Combines its live parents: keyed by parent id (`object`) or in edge order (`array`).
struct Merge;

#[async_trait]
impl NodeHandler for Merge {
    fn pure(&self) -> bool {
        true
    }

    fn wants_parents(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let mode = eval(param(node, "mode")?, &cx.scope)?;
        let value = if mode == "array" {
            Value::Array(cx.parents.iter().map(|(_, v)| v.clone()).collect())
        } else {
            Value::Object(cx.parents.iter().cloned().collect())
        };
        Ok(NodeOutput::main(value))
    }
}

/// Sets the HTTP answer of a `respond: last_node` webhook: `{status, headers, body}`.
struct Respond;

#[async_trait]
impl NodeHandler for Respond {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let status = eval(param(node, "status")?, &cx.scope)?;
        let headers = match node.params.get("headers") {
            Some(h) => eval(h, &cx.scope)?,
            None => json!({}),
        };
        let body = eval(param(node, "body")?, &cx.scope)?;
        Ok(NodeOutput::main(
            json!({"status": status, "headers": headers, "body": body}),
        ))
    }
}

/// Fails the execution with its message; never retried.
struct Fail;

#[async_trait]
impl NodeHandler for Fail {
    fn pure(&self) -> bool {
        true
    }

    async fn run(&self, node: &CompiledNode, cx: &NodeContext) -> Result<NodeOutput, NodeError> {
        let msg = eval(param(node, "message")?, &cx.scope)?;
        let text = msg.as_str().map_or_else(|| msg.to_string(), str::to_owned);
        Err(NodeError::Fatal(text))
    }
}
