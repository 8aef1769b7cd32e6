//! Python's `json.dumps(value, sort_keys=True, separators=(",", ":"))` (with the default
//! `ensure_ascii=True`), byte for byte: the text the original Python Flowork signed.
//!
//! This is not JCS: keys sort by code point (JCS: UTF-16 units), every non-ASCII character and
//! DEL is escaped as `\uXXXX` in lowercase hex (astral characters as a surrogate pair), and
//! floats print like Python's `repr(float)`.
//!
//! Float caveat: a number is a float exactly when serde_json parsed it as one (it has a `.` or an
//! exponent), which is also what Python's `json.loads` does, and its shortest round-trip digits
//! are the same in both languages. Integers beyond the 64-bit range differ: Python keeps them
//! exact, serde_json (without `arbitrary_precision`) turns them into floats, so such a document
//! does not reproduce (its signature check fails rather than passing wrongly).

use std::fmt::Write as _;

use serde_json::Value;

/// The Python `json.dumps(value, sort_keys=True, separators=(",", ":"))` text of `value`.
pub fn dumps_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => write_float(out, f),
            // Only reachable with arbitrary_precision: keep serde_json's text.
            (None, None, None) => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            // Python compares str by code point; UTF-8 byte order is the same order.
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// `json.encoder.py_encode_basestring_ascii`.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// `float.__repr__`: the shortest digits that round-trip, in fixed notation when the decimal
/// exponent is in -4..16, else `d.ddde+XX`; fixed notation always has a fractional part.
fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    // Python's rule (float_repr_style "short"): scientific when decpt > 16 or decpt <= -4,
    // where decpt = exp + 1 is the position of the point after the first digit.
    let decpt = exp + 1;
    if !(-3..=16).contains(&decpt) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-decpt) as usize));
        out.push_str(&digits);
    } else {
        let d = decpt as usize;
        if digits.len() > d {
            out.push_str(&digits[..d]);
            out.push('.');
            out.push_str(&digits[d..]);
        } else {
            out.push_str(&digits);
            out.push_str(&"0".repeat(d - digits.len()));
            out.push_str(".0");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_and_order() {
        let v = json!({"b": [1, -2, true, null], "a": "é\u{1f600}\u{7f}\"\\\n\u{01}~", "A": {}});
        assert_eq!(
            dumps_sorted(&v),
            r#"{"A":{},"a":"\u00e9\ud83d\ude00\u007f\"\\\n\u0001~","b":[1,-2,true,null]}"#
        );
        // Code point order puts U+FB33 before U+1F600 (JCS puts it after).
        let v = json!({"\u{1f600}": 1, "\u{fb33}": 2});
        assert_eq!(dumps_sorted(&v), r#"{"\ufb33":2,"\ud83d\ude00":1}"#);
    }

    #[test]
    fn floats_like_python_repr() {
        // Each pair checked with CPython 3.11: repr(float(text)).
        for (f, py) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.5e-4, "0.00025"),
        ] {
            let mut s = String::new();
            write_float(&mut s, f);
            assert_eq!(s, py, "{f:e}");
        }
    }
}
