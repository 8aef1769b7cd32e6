use serde_json::{Value, json};

use super::*;

fn design_example() -> Value {
    json!({ "name": "Orders over 100",
      "nodes": [
        {"id": "hook",   "type": "trigger.webhook", "params": {"path": "orders", "method": "POST", "respond": "last_node"}},
        {"id": "total",  "type": "core.set", "params": {"value": "{order: .input.body.id, total: (.input.body.items | map(.price) | add)}"}},
        {"id": "big",    "type": "core.if",  "params": {"condition": ".input.total > 100"}},
        {"id": "notify", "type": "core.http", "params": {"method": "POST", "url": "http://127.0.0.1:9/x", "body": ".input"},
         "retry": {"max_attempts": 3, "backoff_ms": 200}, "timeout_ms": 10000}
      ],
      "edges": [ {"from": "hook", "to": "total"}, {"from": "total", "to": "big"},
                 {"from": "big", "port": "true", "to": "notify"} ] })
}

fn check(doc: Value) -> Result<CompiledWorkflow, ValidationErrors> {
    compile(
        WorkflowDoc::from_value(doc).map_err(ValidationErrors::from)?,
        &Catalog::builtin(),
    )
}

/// Applies `edit` to the DESIGN example and returns the single error it causes.
fn error_after(edit: impl FnOnce(&mut Value)) -> ValidationError {
    let mut doc = design_example();
    edit(&mut doc);
    let errs = check(doc).expect_err("must be invalid");
    assert_eq!(errs.0.len(), 1, "expected one error, got {errs}");
    errs.0[0].clone()
}

#[test]
fn the_design_example_compiles_with_defaults_filled_in() {
    let wf = check(design_example()).expect("valid");
    assert_eq!(wf.nodes.len(), 4);
    let order: Vec<&str> = wf
        .graph
        .order
        .iter()
        .map(|i| wf.nodes[*i].id.as_str())
        .collect();
    assert_eq!(order, ["hook", "total", "big", "notify"]);
    let http = &wf.nodes[wf.index_of("notify").expect("notify")];
    assert_eq!(http.retry.max_attempts, 3);
    assert!(
        matches!(http.params.get("max_response_bytes"), Some(Param::Literal(v)) if v == &json!(10 * 1024 * 1024))
    );
    assert!(matches!(http.params.get("url"), Some(Param::Template(_))));
    assert!(wf.nodes[0].trigger);
    assert_eq!(wf.roots().collect::<Vec<_>>(), [0]);
}

#[test]
fn yaml_documents_parse_like_json() {
    let yaml = "name: Hello\nnodes:\n  - id: start\n    type: trigger.manual\n  - id: greet\n    type: core.set\n    params:\n      value: '\"hello \\(.input.name)\"'\nedges:\n  - {from: start, to: greet}\n";
    let doc = WorkflowDoc::from_yaml(yaml).expect("yaml");
    compile(doc, &Catalog::builtin()).expect("valid");
    let err = WorkflowDoc::from_yaml("name: [unclosed").expect_err("bad yaml");
    assert!(
        err.message.contains("YAML") && err.message.contains("line"),
        "{err}"
    );
}

#[test]
fn unknown_fields_and_bad_json_are_syntax_errors() {
    let err =
        WorkflowDoc::from_json(r#"{"name": "x", "nodes": [], "edgez": []}"#).expect_err("typo");
    assert!(err.message.contains("edgez"), "{err}");
    let err = WorkflowDoc::from_json(
        r#"{"name": "x", "nodes": [{"id": "a", "type": "core.set", "parmas": {}}]}"#,
    )
    .expect_err("typo");
    assert!(err.message.contains("parmas"), "{err}");
    assert!(
        WorkflowDoc::from_json("{")
            .expect_err("eof")
            .message
            .contains("line 1")
    );
}

#[test]
fn unknown_type_names_the_node_and_suggests() {
    let e = error_after(|d| d["nodes"][1]["type"] = json!("core.sett"));
    assert_eq!(
        (e.node.as_deref(), e.field.as_deref()),
        (Some("total"), Some("type"))
    );
    assert!(e.message.contains("did you mean core.set?"), "{e}");
}

#[test]
fn duplicate_ids_and_bad_ids() {
    let errs = check(json!({"name": "x", "nodes": [
        {"id": "a", "type": "trigger.manual"}, {"id": "a", "type": "trigger.manual"}]}))
    .expect_err("dup");
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].field.as_deref(), Some("nodes[1].id"));
    assert!(errs.0[0].message.contains("duplicate node id"));
    let errs =
        check(json!({"name": "x", "nodes": [{"id": "has space", "type": "trigger.manual"}]}))
            .expect_err("bad id");
    assert_eq!(errs.0[0].field.as_deref(), Some("nodes[0].id"), "{errs}");
}

#[test]
fn dangling_edges_name_the_edge() {
    let e = error_after(|d| d["edges"][1]["to"] = json!("nowhere"));
    assert_eq!(e.field.as_deref(), Some("edges[1].to"));
    assert!(e.message.contains("nowhere"));
}

#[test]
fn cycles_are_named_in_order() {
    let errs = check(json!({"name": "loop", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "a", "type": "core.set", "params": {"value": "."}},
        {"id": "b", "type": "core.set", "params": {"value": "."}},
        {"id": "c", "type": "core.set", "params": {"value": "."}}],
      "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "a"}]}))
    .expect_err("cycle");
    let msg = errs.to_string();
    assert!(msg.contains("cycle:"), "{msg}");
    for n in ["a", "b", "c"] {
        assert!(msg.contains(n), "{msg}");
    }
    assert!(
        !msg.contains("start ->"),
        "the trigger is not part of the cycle: {msg}"
    );
}

#[test]
fn missing_and_mistyped_parameters_name_the_field() {
    let e = error_after(|d| {
        d["nodes"][1]["params"]
            .as_object_mut()
            .expect("obj")
            .remove("value");
    });
    assert_eq!(
        (e.node.as_deref(), e.field.as_deref()),
        (Some("total"), Some("params.value"))
    );
    assert!(e.message.contains("missing"));
    let e = error_after(|d| d["nodes"][3]["params"]["max_response_bytes"] = json!("big"));
    assert_eq!(e.field.as_deref(), Some("params.max_response_bytes"));
    assert!(
        e.message.contains("expected an integer, got a string"),
        "{e}"
    );
    let e = error_after(|d| d["nodes"][3]["params"]["method"] = json!("FETCH"));
    assert!(e.message.contains("not one of GET"), "{e}");
    let e = error_after(|d| d["nodes"][3]["params"]["bogus"] = json!(1));
    assert_eq!(e.field.as_deref(), Some("params.bogus"));
    assert!(e.message.contains("known: method, url"), "{e}");
}

#[test]
fn jq_that_does_not_compile_is_rejected_with_the_jq_error() {
    let e = error_after(|d| d["nodes"][2]["params"]["condition"] = json!(".input.total >"));
    assert_eq!(
        (e.node.as_deref(), e.field.as_deref()),
        (Some("big"), Some("params.condition"))
    );
    let e = error_after(|d| d["nodes"][3]["params"]["url"] = json!("http://x/{{ nosuchfn(1) }}"));
    assert_eq!(e.field.as_deref(), Some("params.url"));
    let e = error_after(|d| d["nodes"][3]["params"]["headers"] = json!({"x-id": "{{ .input | }}"}));
    assert_eq!(e.field.as_deref(), Some("params.headers.x-id"));
}

#[test]
fn ports_are_checked() {
    let e = error_after(|d| d["edges"][2]["port"] = json!("maybe"));
    assert_eq!(e.field.as_deref(), Some("edges[2].port"));
    assert!(e.message.contains("true, false"), "{e}");
    let e = error_after(|d| {
        d["edges"][2].as_object_mut().expect("obj").remove("port");
    });
    assert!(e.message.contains("needs a port"), "{e}");
    let e = error_after(|d| d["edges"][0]["port"] = json!("true"));
    assert!(e.message.contains("one output"), "{e}");
}

#[test]
fn switch_ports_come_from_its_cases() {
    let doc = |port: &str| {
        json!({"name": "route", "nodes": [
        {"id": "in", "type": "trigger.manual"},
        {"id": "route", "type": "core.switch", "params": {"cases": [
            {"port": "small", "condition": ".input.n < 10"}, {"port": "big", "condition": ".input.n >= 10"}]}},
        {"id": "out", "type": "core.set", "params": {"value": "."}}],
      "edges": [{"from": "in", "to": "route"}, {"from": "route", "port": port, "to": "out"}]})
    };
    for ok in ["small", "big", "default"] {
        check(doc(ok)).expect("known port");
    }
    let errs = check(doc("huge")).expect_err("unknown port");
    assert!(errs.to_string().contains("small, big, default"), "{errs}");
    let mut bad = doc("small");
    bad["nodes"][1]["params"]["cases"][0]["condition"] = json!("..bad..");
    assert_eq!(
        check(bad).expect_err("bad jq").0[0].field.as_deref(),
        Some("params.cases[0].condition")
    );
}

#[test]
fn triggers_take_no_input_and_limits_hold() {
    let errs = check(json!({"name": "x", "nodes": [
        {"id": "a", "type": "trigger.manual"}, {"id": "b", "type": "trigger.manual"}],
        "edges": [{"from": "a", "to": "b"}]}))
    .expect_err("edge into trigger");
    assert!(errs.to_string().contains("takes no input"), "{errs}");
    let e = error_after(|d| d["nodes"][3]["retry"]["max_attempts"] = json!(0));
    assert_eq!(e.field.as_deref(), Some("retry.max_attempts"));
    let e = error_after(|d| d["nodes"][3]["timeout_ms"] = json!(0));
    assert_eq!(e.field.as_deref(), Some("timeout_ms"));
    let e = error_after(|d| d["name"] = json!("  "));
    assert_eq!(e.field.as_deref(), Some("name"));
    let e = error_after(|d| d["nodes"][1] = json!({"id": "total", "type": "core.subworkflow"}));
    assert_eq!(e.field.as_deref(), Some("params.workflow_id"), "{e}");
    let e = error_after(|d| {
        d["nodes"][1] =
            json!({"id": "total", "type": "core.subworkflow", "params": {"workflow_id": "wf_nope"}})
    });
    assert!(e.message.contains("expected wf_<uuid>"), "{e}");
}

#[test]
fn every_node_type_publishes_a_json_schema() {
    let catalog = Catalog::builtin();
    let kinds: Vec<&str> = catalog.iter().map(|s| s.kind).collect();
    for kind in [
        "trigger.manual",
        "trigger.webhook",
        "trigger.cron",
        "core.set",
        "core.if",
        "core.switch",
        "core.merge",
        "core.http",
        "core.wait",
        "core.respond",
        "core.subworkflow",
        "core.fail",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from the catalog");
    }
    for spec in catalog.iter() {
        let info = spec.info();
        let schema = &info.params_schema;
        assert_eq!(schema["type"], "object", "{}", spec.kind);
        assert_eq!(schema["additionalProperties"], false);
        for p in spec.params {
            assert!(
                schema["properties"][p.name]["description"].is_string(),
                "{}.{}",
                spec.kind,
                p.name
            );
        }
    }
    let http = catalog.get("core.http").expect("http").info().params_schema;
    assert_eq!(http["required"], json!(["url"]));
    assert_eq!(http["properties"]["body"]["x-flowork-expression"], "jq");
    assert_eq!(http["properties"]["method"]["default"], "GET");
}

#[test]
fn cron_expressions_and_time_zones_are_checked_at_save_time() {
    let cron = |params: Value| {
        check(
            json!({"name": "c", "nodes": [{"id": "tick", "type": "trigger.cron", "params": params}]}),
        )
    };
    let wf = cron(json!({"expression": "0 0 9 * * MON-FRI", "timezone": "Europe/Berlin"}))
        .expect("six fields, seconds first");
    assert!(wf.nodes[0].params.contains_key("timezone"));
    cron(json!({"expression": "*/5 * * * *"})).expect("five fields, default UTC");
    for (params, field) in [
        (json!({"expression": "61 * * * *"}), "params.expression"),
        (json!({"expression": "every minute"}), "params.expression"),
        (
            json!({"expression": "* * * * *", "timezone": "Mars/Olympus"}),
            "params.timezone",
        ),
    ] {
        let errs = cron(params.clone()).expect_err("must be invalid");
        assert_eq!(errs.0.len(), 1, "{params}: {errs}");
        assert_eq!(
            (errs.0[0].node.as_deref(), errs.0[0].field.as_deref()),
            (Some("tick"), Some(field)),
            "{params}"
        );
    }
}
