use serde_json::{Value, json};

use super::run;

#[test]
fn numbers_round_trip() {
    let cases = [
        json!(1),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(-1e-300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(9_007_199_254_740_993_u64),
    ];
    for v in cases {
        let got = run(".", &v).expect("identity runs");
        assert_eq!(got, v, "{v}");
        // The representation must survive too: 1 stays an integer, 1.5 and -0.0 floats.
        assert_eq!(got.to_string(), v.to_string(), "{v}");
    }
}

#[test]
fn numbers_parsed_from_json_text_round_trip() {
    for text in [
        "-0",
        "-0.0",
        "0.1",
        "1e300",
        "18446744073709551615",
        "-9223372036854775808",
        "12",
    ] {
        let v: Value = serde_json::from_str(text).expect("valid JSON");
        let got = run(".", &v).expect("identity runs");
        assert_eq!(got.to_string(), v.to_string(), "{text}");
    }
}

#[test]
fn number_arithmetic_keeps_kinds() {
    let cases = [
        ("1 + 2", json!(3)),
        ("1.5 + 1", json!(2.5)),
        ("10 / 4", json!(2.5)),
        (
            "9223372036854775807 + 1",
            json!(9_223_372_036_854_775_808_u64),
        ),
        (
            "18446744073709551615 * 2",
            json!(36_893_488_147_419_103_230.0),
        ),
        ("nan", json!(null)),
        ("infinite", json!(f64::MAX)),
        ("-infinite", json!(f64::MIN)),
        ("1e1000", json!(f64::MAX)),
        ("[.[] | . + 0]", json!([1, 2.5])),
    ];
    for (src, want) in cases {
        assert_eq!(run(src, &json!([1, 2.5])).ok(), Some(want), "{src}");
    }
}

#[test]
fn strings_objects_and_arrays_round_trip() {
    let cases: [Value; 6] = [
        json!("Ünïcødé ✓ 🚀 \u{0} \"quoted\" \\ \n"),
        json!({"z": 1, "a": [true, false, null], "m": {"": "empty key"}}),
        json!([[], {}, "", 0]),
        json!({"日本": "語"}),
        json!(null),
        json!(true),
    ];
    for v in cases {
        assert_eq!(run(".", &v).ok(), Some(v.clone()), "{v}");
    }
    assert_eq!(
        run(".[0] | explode | length", &json!(["🚀a"])).ok(),
        Some(json!(2))
    );
}

#[test]
fn jaq_only_values_become_json() {
    let cases = [
        ("\"hi\" | tobytes", json!("hi")),
        ("{(1): 2}", json!({"1": 2})),
    ];
    for (src, want) in cases {
        assert_eq!(run(src, &json!(null)).ok(), Some(want), "{src}");
    }
}
