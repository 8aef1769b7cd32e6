use serde_json::json;

use super::ctx;
use crate::{ExprError, Pos, Template};

fn render(s: &str) -> Result<serde_json::Value, ExprError> {
    Template::parse(s)?.render(&ctx())
}

#[test]
fn renders() {
    let cases = [
        ("plain text", json!("plain text")),
        ("", json!("")),
        (
            "https://api.example/{{ .input.body.id }}",
            json!("https://api.example/o-17"),
        ),
        ("{{ .input.count }}", json!(3)),
        (
            "{{.input.body}}",
            json!({"id": "o-17", "items": [{"price": 100}, {"price": 50.5}]}),
        ),
        (" {{ .input.count }}", json!(" 3")),
        ("{{ .input.count }}{{ .input.total }}", json!("3150")),
        (
            "n={{ .input.count }}, ok={{ .input.total > 100 }}",
            json!("n=3, ok=true"),
        ),
        ("{{ .input.body.items[0] }}!", json!("{\"price\":100}!")),
        ("{{ .input.missing }}/x", json!("null/x")),
        ("{{ empty }}/x", json!("null/x")),
        ("{{ {a: {b: 1}} }}", json!({"a": {"b": 1}})),
        ("{{ \"}}\" }}", json!("}}")),
        ("{{ \"a\\(\"}}\" + \")\")b\" }}!", json!("a}})b!")),
        ("{{ .input.name }} ✓", json!("Ünïcødé ✓ ✓")),
        ("\\{{ not jq }}", json!("{{ not jq }}")),
        ("a }} b \\ c", json!("a }} b \\ c")),
        ("{{ [.input.count, 1] | add }}}", json!("4}")),
        ("{{ .input.count # comment\n }}", json!(3)),
    ];
    for (src, want) in cases {
        assert_eq!(render(src).ok(), Some(want), "{src:?}");
    }
}

#[test]
fn static_templates() {
    let cases = [
        ("plain", true),
        ("", true),
        ("\\{{ x }}", true),
        ("{{ . }}", false),
    ];
    for (src, want) in cases {
        let t = Template::parse(src).expect("parses");
        assert_eq!(t.is_static(), want, "{src:?}");
        assert_eq!(t.source(), src);
    }
}

#[test]
fn bad_templates() {
    let cases = [
        (
            "x {{ fo }}",
            "undefined function 'fo/0'",
            Pos {
                offset: 5,
                line: 1,
                col: 6,
            },
        ),
        (
            "ü\n{{ .a | }}",
            "expected term, found end of input",
            Pos {
                offset: 10,
                line: 2,
                col: 9,
            },
        ),
        (
            "x {{ .a",
            "unclosed '{{'",
            Pos {
                offset: 2,
                line: 1,
                col: 3,
            },
        ),
        (
            "x {{  }}",
            "empty '{{ }}'",
            Pos {
                offset: 2,
                line: 1,
                col: 3,
            },
        ),
    ];
    for (src, want, want_pos) in cases {
        match Template::parse(src) {
            Err(ExprError::Compile { message, pos, .. }) => {
                assert_eq!((message.as_str(), pos), (want, Some(want_pos)), "{src:?}")
            }
            other => panic!("{src:?}: {other:?}"),
        }
    }
}

#[test]
fn runtime_error_inside_a_part() {
    let t = Template::parse("x {{ error(\"boom\") }}").expect("parses");
    assert_eq!(
        t.render(&json!(null)).err(),
        Some(ExprError::Runtime {
            message: "boom".into()
        })
    );
}
