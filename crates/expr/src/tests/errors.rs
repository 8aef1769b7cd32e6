use super::compile_err;
use crate::{ExprError, Pos};

#[test]
fn compile_errors_name_the_problem_and_position() {
    let cases = [
        ("fo", "jq: undefined function 'fo/0' at 1:1"),
        (".a | fo(1)", "jq: undefined function 'fo/1' at 1:6"),
        ("$x", "jq: undefined variable '$x' at 1:1"),
        (".a |", "jq: expected term, found end of input at 1:5"),
        ("{a: 1", "jq: expected closing brace at 1:6"),
        ("\"abc", "jq: expected closing quote at 1:5"),
        (".a ]", "jq: unexpected ']' at 1:4"),
        (
            "if . then 1",
            "jq: expected else or end, found end of input at 1:12",
        ),
        ("1 +\n  nope", "jq: undefined function 'nope/0' at 2:3"),
        ("\"ü\" | nope", "jq: undefined function 'nope/0' at 1:7"),
        (
            "import \"x\" as x; .",
            "jq: cannot load x: module loading not supported at 1:9",
        ),
        ("1 § 2", "jq: unexpected '§' at 1:3"),
        ("\"\\q\"", "jq: expected string escape sequence at 1:3"),
        ("input", "jq: undefined function 'input/0' at 1:1"),
        (
            "fo | ba",
            "jq: undefined function 'fo/0' at 1:1 (and 1 more)",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(compile_err(src).to_string(), want, "{src:?}");
    }
}

#[test]
fn compile_error_fields() {
    match compile_err("1 +\n  nope") {
        ExprError::Compile { message, pos, .. } => {
            assert_eq!(message, "undefined function 'nope/0'");
            assert_eq!(
                pos,
                Some(Pos {
                    offset: 6,
                    line: 2,
                    col: 3
                })
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pos_counts_chars() {
    assert_eq!(
        Pos::at("ab\ncü d", 6),
        Pos {
            offset: 5,
            line: 2,
            col: 3
        }
    );
    assert_eq!(
        Pos::at("", 0),
        Pos {
            offset: 0,
            line: 1,
            col: 1
        }
    );
    assert_eq!(
        Pos::at("abc", 99),
        Pos {
            offset: 3,
            line: 1,
            col: 4
        }
    );
}
