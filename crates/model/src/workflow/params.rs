//! Typed node parameters: one description gives both the JSON Schema (for GUIs) and the checks.

use serde_json::{Map, Value, json};

/// What a parameter holds.
#[derive(Debug, Clone)]
pub enum ParamKind {
    /// A whole jq program (DESIGN §4), compiled at validation.
    Expr,
    /// A string that may interpolate `{{ <jq> }}`.
    Template,
    /// A plain string; when `choices` is non-empty, one of them.
    Str {
        choices: &'static [&'static str],
    },
    /// A whole number in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// A credential's name, resolved from the vault at run time.
    Credential,
    /// A workflow id (`wf_...`).
    WorkflowRef,
    /// An object whose every value is a template (HTTP headers, query).
    TemplateMap,
    /// A list of objects with these fields.
    List(&'static [ParamSpec]),
}

/// One parameter of a node type.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    pub description: &'static str,
    /// Used when the parameter is absent (also shown in the schema).
    pub default: Option<fn() -> Value>,
}

impl ParamSpec {
    /// A required parameter.
    pub const fn required(name: &'static str, kind: ParamKind, description: &'static str) -> Self {
        Self {
            name,
            kind,
            required: true,
            description,
            default: None,
        }
    }

    /// An optional parameter, with an optional default.
    pub const fn optional(
        name: &'static str,
        kind: ParamKind,
        description: &'static str,
        default: Option<fn() -> Value>,
    ) -> Self {
        Self {
            name,
            kind,
            required: false,
            description,
            default,
        }
    }

    /// This parameter as a JSON Schema property.
    pub fn schema(&self) -> Value {
        let mut s = match &self.kind {
            ParamKind::Expr => json!({"type": "string", "x-flowork-expression": "jq"}),
            ParamKind::Template => json!({"type": "string", "x-flowork-template": true}),
            ParamKind::Str { choices: [] } => json!({"type": "string"}),
            ParamKind::Str { choices } => json!({"type": "string", "enum": choices}),
            ParamKind::Int { min, max } => {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            ParamKind::Bool => json!({"type": "boolean"}),
            ParamKind::Credential => json!({"type": "string", "x-flowork-credential": true}),
            ParamKind::WorkflowRef => json!({"type": "string", "pattern": "^wf_[0-9a-f]{32}$"}),
            ParamKind::TemplateMap => json!({
                "type": "object",
                "additionalProperties": {"type": "string", "x-flowork-template": true}
            }),
            ParamKind::List(fields) => json!({"type": "array", "items": object_schema(fields)}),
        };
        if let Value::Object(m) = &mut s {
            m.insert("description".into(), json!(self.description));
            if let Some(d) = self.default {
                m.insert("default".into(), d());
            }
        }
        s
    }
}

/// A JSON Schema (2020-12) object for a set of parameters.
pub fn object_schema(params: &[ParamSpec]) -> Value {
    let props: Map<String, Value> = params
        .iter()
        .map(|p| (p.name.to_owned(), p.schema()))
        .collect();
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// Why a value does not fit its parameter (the caller adds node and field).
pub(crate) fn check_shape(kind: &ParamKind, v: &Value) -> Result<(), String> {
    let want = |what: &str| Err(format!("expected {what}, got {}", type_name(v)));
    match kind {
        ParamKind::Expr | ParamKind::Template | ParamKind::Credential | ParamKind::WorkflowRef => {
            if v.is_string() {
                Ok(())
            } else {
                want("a string")
            }
        }
        ParamKind::Str { choices } => match v.as_str() {
            Some(s) if choices.is_empty() || choices.contains(&s) => Ok(()),
            Some(s) => Err(format!("{s:?} is not one of {}", choices.join(", "))),
            None => want("a string"),
        },
        ParamKind::Int { min, max } => match v.as_i64() {
            Some(n) if (*min..=*max).contains(&n) => Ok(()),
            Some(n) => Err(format!("{n} is out of range {min}..={max}")),
            None => want("an integer"),
        },
        ParamKind::Bool => {
            if v.is_boolean() {
                Ok(())
            } else {
                want("true or false")
            }
        }
        ParamKind::TemplateMap => match v.as_object() {
            Some(m) => match m.iter().find(|(_, v)| !v.is_string()) {
                Some((k, v)) => Err(format!("{k}: expected a string, got {}", type_name(v))),
                None => Ok(()),
            },
            None => want("an object of strings"),
        },
        ParamKind::List(_) => {
            if v.is_array() {
                Ok(())
            } else {
                want("a list")
            }
        }
    }
}

/// `null`, `a string`, ... for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
