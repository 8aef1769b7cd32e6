use std::sync::Arc;

use serde_json::json;

use super::{ctx, run};
use crate::{Context, ExprError, MAX_OUTPUTS, Program};

#[test]
fn common_expressions() {
    let cases = [
        (
            "{order: .input.body.id, total: (.input.body.items | map(.price) | add)}",
            json!({"order": "o-17", "total": 150.5}),
        ),
        (".input.total > 100", json!(true)),
        (".input.total < 100", json!(false)),
        (".nodes.hook.body", json!({"id": "o-17"})),
        (".input.body.items | map(.price)", json!([100, 50.5])),
        (
            "[.input.body.items[] | select(.price > 60)] | length",
            json!(1),
        ),
        (".input.count | tostring", json!("3")),
        (".input.name | ascii_downcase", json!("Ünïcødé ✓")),
        ("\"ABC\" | ascii_downcase", json!("abc")),
        (".input.body.id | test(\"^o-[0-9]+$\")", json!(true)),
        (
            ".input.body.id | sub(\"o-\"; \"order-\")",
            json!("order-17"),
        ),
        (".input.name | length", json!(9)),
        (".input.missing", json!(null)),
        (".input.missing // \"default\"", json!("default")),
        ("\"id=\\(.input.body.id)\"", json!("id=o-17")),
        (".input | keys", json!(["body", "count", "name", "total"])),
        ("[.input.body.items[].price] | add / length", json!(75.25)),
        (
            "if .input.total > 100 then \"big\" else \"small\" end",
            json!("big"),
        ),
        ("$ENV.REGION", json!("eu")),
        ("env.REGION", json!("eu")),
        ("\"a,b\" | split(\",\")", json!(["a", "b"])),
        ("[1,2] | @base64", json!("WzEsMl0=")),
        ("empty", json!(null)),
        ("1, 2", json!(1)),
    ];
    let input = ctx();
    for (src, want) in cases {
        assert_eq!(run(src, &input).ok(), Some(want), "{src}");
    }
}

#[test]
fn env_is_never_the_process_environment() {
    // PATH is always set in the test process; it must not be visible.
    let input = json!({"env": {}});
    assert_eq!(run("env.PATH", &input).ok(), Some(json!(null)));
    assert_eq!(run("$ENV | length", &json!({})).ok(), Some(json!(0)));
}

#[test]
fn runtime_errors() {
    let cases = [
        (".a.b", json!({"a": 1}), "cannot index 1 with \"b\""),
        ("error(\"x\")", json!(null), "x"),
        (
            "error({code: 1})",
            json!(null),
            "{\"code\":1} (not a string)",
        ),
        ("1 + \"a\"", json!(null), "cannot calculate 1 + \"a\""),
        ("halt", json!(null), "halt with exit code 0"),
        ("\"bye\" | halt_error", json!(null), "halt with exit code 5"),
    ];
    for (src, input, want) in cases {
        match run(src, &input) {
            Err(ExprError::Runtime { message }) => assert_eq!(message, want, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    let err = run("error(\"x\")", &json!(null))
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("jq: error: x"));
}

#[test]
fn run_all_and_output_limit() {
    let p = Program::compile(".[] | . * 2").expect("compiles");
    assert_eq!(
        p.run_all(&json!([1, 2, 3])).ok(),
        Some(vec![json!(2), json!(4), json!(6)])
    );
    assert_eq!(p.run_all(&json!([])).ok(), Some(vec![]));

    let runaway = Program::compile("repeat(1)").expect("compiles");
    assert_eq!(runaway.run(&json!(null)).ok(), Some(json!(1)));
    let want = ExprError::Limit {
        what: "number of outputs",
        limit: MAX_OUTPUTS,
    };
    assert_eq!(runaway.run_all(&json!(null)).err(), Some(want));
    let ctx = Context::new(&json!(null));
    let range = Program::compile("range(1e12)").expect("compiles");
    assert_eq!(range.run_ctx(&ctx).ok(), Some(json!(0)));
    assert!(matches!(
        range.run_all_ctx(&ctx, 5),
        Err(ExprError::Limit { limit: 5, .. })
    ));
    assert_eq!(
        range
            .run_all_ctx(&ctx, 0)
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("jq: number of outputs exceeds the limit of 0")
    );
}

#[test]
fn deep_results_are_refused_not_overflowed() {
    let p = Program::compile("reduce range(1000) as $i (0; [.])").expect("compiles");
    assert!(matches!(p.run(&json!(null)), Err(ExprError::Limit { .. })));
}

#[test]
fn compile_once_run_from_eight_threads() {
    fn shareable<T: Send + Sync + Clone>(_: &T) {}
    let prog = Program::compile(".input.total + .n").expect("compiles");
    shareable(&prog);
    shareable(&Context::new(&json!(null)));
    let prog = Arc::new(prog);
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let prog = prog.clone();
            std::thread::spawn(move || {
                (0..500).all(|_| {
                    prog.run(&json!({"input": {"total": 100}, "n": n})).ok() == Some(json!(100 + n))
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().ok(), Some(true));
    }
    assert_eq!(prog.source(), ".input.total + .n");
}
