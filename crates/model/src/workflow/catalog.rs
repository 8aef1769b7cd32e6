//! The node catalog: every node type, its parameters and its output ports.
//!
//! The engine adds behaviour per type; this crate knows only their shape, which is all that
//! validation and GUIs need. Later issues register `module.run` and `ai.*` here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::params::{ParamKind as K, ParamSpec as P, object_schema};

/// A node's output ports.
#[derive(Debug, Clone, PartialEq)]
pub enum Ports {
    /// One unnamed output (edges carry no `port`).
    Main,
    /// Named outputs; every edge from the node names one.
    Fixed(&'static [&'static str]),
    /// The `port` field of each element of a list parameter, plus `default` (`core.switch`).
    FromList {
        param: &'static str,
        field: &'static str,
    },
}

/// The shape of one node type.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub kind: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Starts executions; takes no incoming edges.
    pub trigger: bool,
    pub params: &'static [P],
    pub ports: Ports,
}

/// What `GET /nodes` shows for a node type.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub trigger: bool,
    /// JSON Schema of `params`.
    pub params_schema: Value,
    /// Named output ports; empty for a single output; `dynamic` for `core.switch`.
    pub ports: Value,
}

impl NodeSpec {
    /// The spec of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&P> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The catalog entry GUIs render forms from.
    pub fn info(&self) -> NodeInfo {
        let ports = match &self.ports {
            Ports::Main => json!([]),
            Ports::Fixed(p) => json!(p),
            Ports::FromList { param, field } => {
                json!({"dynamic": format!("{param}[].{field}"), "plus": ["default"]})
            }
        };
        NodeInfo {
            kind: self.kind,
            title: self.title,
            description: self.description,
            trigger: self.trigger,
            params_schema: object_schema(self.params),
            ports,
        }
    }
}

/// Every node type the engine knows, by type name.
#[derive(Debug, Clone)]
pub struct Catalog {
    specs: BTreeMap<&'static str, NodeSpec>,
}

impl Catalog {
    /// The built-in nodes of DESIGN §4.
    pub fn builtin() -> Self {
        let mut c = Catalog {
            specs: BTreeMap::new(),
        };
        for spec in BUILTIN {
            c.register(spec.clone());
        }
        c
    }

    /// Adds (or replaces) a node type.
    pub fn register(&mut self, spec: NodeSpec) {
        self.specs.insert(spec.kind, spec);
    }

    /// The spec for a type name.
    pub fn get(&self, kind: &str) -> Option<&NodeSpec> {
        self.specs.get(kind)
    }

    /// All specs, by type name.
    pub fn iter(&self) -> impl Iterator<Item = &NodeSpec> {
        self.specs.values()
    }

    /// The closest known type name, for "did you mean" hints.
    pub fn suggest(&self, kind: &str) -> Option<&'static str> {
        self.specs
            .keys()
            .map(|k| (edit_distance(k, kind), *k))
            .filter(|(d, _)| *d <= 3)
            .min()
            .map(|(_, k)| k)
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const DAY_MS: i64 = 86_400_000;

fn json_input() -> Value {
    json!(".input")
}
fn post() -> Value {
    json!("POST")
}
fn get() -> Value {
    json!("GET")
}
fn immediately() -> Value {
    json!("immediately")
}
fn utc() -> Value {
    json!("UTC")
}
fn status_200() -> Value {
    json!(200)
}
fn yes() -> Value {
    json!(true)
}
fn object_mode() -> Value {
    json!("object")
}
fn ten_mib() -> Value {
    json!(10 * 1024 * 1024)
}

const SWITCH_CASE: &[P] = &[
    P::required(
        "port",
        K::Str { choices: &[] },
        "The output port taken when the condition holds.",
    ),
    P::required(
        "condition",
        K::Expr,
        "jq condition; the first case that is true wins.",
    ),
];

static BUILTIN: &[NodeSpec] = &[
    NodeSpec {
        kind: "trigger.manual",
        title: "Manual trigger",
        description: "Starts the workflow from the API or the console, with the given input.",
        trigger: true,
        params: &[],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "trigger.webhook",
        title: "Webhook",
        description: "Starts the workflow on an HTTP request to /webhook/{engine}/{path}.",
        trigger: true,
        params: &[
            P::required(
                "path",
                K::Str { choices: &[] },
                "URL path after the engine id.",
            ),
            P::optional(
                "method",
                K::Str {
                    choices: &["GET", "POST", "PUT", "PATCH", "DELETE", "ANY"],
                },
                "HTTP method to accept.",
                Some(post),
            ),
            P::optional(
                "respond",
                K::Str {
                    choices: &["immediately", "last_node"],
                },
                "Answer at once with 202 and the execution id, or with the workflow's result.",
                Some(immediately),
            ),
            P::optional(
                "secret",
                K::Credential,
                "Credential holding an HMAC secret that requests must be signed with.",
                None,
            ),
        ],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "trigger.cron",
        title: "Schedule",
        description: "Starts the workflow on a cron schedule, once per tick across all workers.",
        trigger: true,
        params: &[
            P::required(
                "expression",
                K::Str { choices: &[] },
                "Cron expression, e.g. `0 */5 * * * *` (seconds first) or `*/5 * * * *`.",
            ),
            P::optional(
                "timezone",
                K::Str { choices: &[] },
                "IANA time zone the expression is read in.",
                Some(utc),
            ),
        ],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.set",
        title: "Set",
        description: "Outputs the value of a jq expression.",
        trigger: false,
        params: &[P::required(
            "value",
            K::Expr,
            "jq program; its input is {input, nodes, trigger, execution, env}.",
        )],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.if",
        title: "If",
        description: "Passes its input to the `true` or the `false` port.",
        trigger: false,
        params: &[P::required("condition", K::Expr, "jq condition.")],
        ports: Ports::Fixed(&["true", "false"]),
    },
    NodeSpec {
        kind: "core.switch",
        title: "Switch",
        description: "Passes its input to the port of the first case whose condition holds, else `default`.",
        trigger: false,
        params: &[P::required(
            "cases",
            K::List(SWITCH_CASE),
            "Cases, tried in order.",
        )],
        ports: Ports::FromList {
            param: "cases",
            field: "port",
        },
    },
    NodeSpec {
        kind: "core.merge",
        title: "Merge",
        description: "Waits for all its live parents and combines their outputs.",
        trigger: false,
        params: &[P::optional(
            "mode",
            K::Str {
                choices: &["object", "array"],
            },
            "`object`: keyed by parent id; `array`: parent outputs in edge order.",
            Some(object_mode),
        )],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.http",
        title: "HTTP request",
        description: "Calls an HTTP API; credentials are injected, never logged.",
        trigger: false,
        params: &[
            P::optional(
                "method",
                K::Str { choices: METHODS },
                "HTTP method.",
                Some(get),
            ),
            P::required("url", K::Template, "URL; may interpolate {{ jq }}."),
            P::optional("headers", K::TemplateMap, "Request headers.", None),
            P::optional("query", K::TemplateMap, "Query parameters.", None),
            P::optional(
                "body",
                K::Expr,
                "jq program whose output is sent as the JSON body.",
                None,
            ),
            P::optional(
                "credential",
                K::Credential,
                "Credential to authenticate with.",
                None,
            ),
            P::optional(
                "max_response_bytes",
                K::Int {
                    min: 1,
                    max: 1 << 30,
                },
                "A larger response fails the node.",
                Some(ten_mib),
            ),
        ],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.wait",
        title: "Wait",
        description: "Pauses the execution durably; it resumes after restarts.",
        trigger: false,
        params: &[P::required(
            "duration_ms",
            K::Int {
                min: 0,
                max: 30 * DAY_MS,
            },
            "How long to wait.",
        )],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.respond",
        title: "Respond",
        description: "Sets the HTTP response of a `respond: last_node` webhook.",
        trigger: false,
        params: &[
            P::optional(
                "status",
                K::Int { min: 100, max: 599 },
                "HTTP status.",
                Some(status_200),
            ),
            P::optional("headers", K::TemplateMap, "Response headers.", None),
            P::optional(
                "body",
                K::Expr,
                "jq program whose output is the response body.",
                Some(json_input),
            ),
        ],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.subworkflow",
        title: "Sub-workflow",
        description: "Runs another workflow's head version with the given input.",
        trigger: false,
        params: &[
            P::required("workflow_id", K::WorkflowRef, "The workflow to run."),
            P::optional(
                "input",
                K::Expr,
                "jq program giving the sub-workflow's input.",
                Some(json_input),
            ),
            P::optional(
                "wait",
                K::Bool,
                "Wait for its result (else output its execution id).",
                Some(yes),
            ),
        ],
        ports: Ports::Main,
    },
    NodeSpec {
        kind: "core.fail",
        title: "Fail",
        description: "Fails the execution with a message.",
        trigger: false,
        params: &[P::required(
            "message",
            K::Template,
            "The error message; may interpolate {{ jq }}.",
        )],
        ports: Ports::Main,
    },
];
