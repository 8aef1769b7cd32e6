//! Behaviour tests, table-driven (proptest is not a workspace dependency).

mod convert;
mod errors;
mod program;
mod template;

use serde_json::{Value, json};

use crate::{ExprError, Program};

/// The context a workflow node sees, as in DESIGN §4.
fn ctx() -> Value {
    json!({
        "input": {"total": 150, "count": 3, "name": "Ünïcødé ✓",
                  "body": {"id": "o-17", "items": [{"price": 100}, {"price": 50.5}]}},
        "nodes": {"hook": {"method": "POST", "body": {"id": "o-17"}}},
        "trigger": {"type": "webhook"},
        "execution": {"id": "e-1"},
        "env": {"REGION": "eu"}
    })
}

fn run(src: &str, input: &Value) -> Result<Value, ExprError> {
    Program::compile(src)?.run(input)
}

fn compile_err(src: &str) -> ExprError {
    match Program::compile(src) {
        Ok(_) => panic!("{src:?} should not compile"),
        Err(e) => e,
    }
}
