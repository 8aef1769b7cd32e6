//! Canonical bytes of JSON: RFC 8785 (JCS), the one serialization every signature and hash of
//! the flow-chain is computed over. Everything in Flowork that needs canonical JSON calls
//! [`canonical_bytes`]; nothing else formats JSON for hashing.

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// The RFC 8785 (JCS) serialization of `value`, UTF-8.
///
/// Fails only for values JCS cannot represent (a number outside the f64 range, which a
/// `serde_json::Value` can hold only with serde_json's `arbitrary_precision` feature).
pub fn canonical_bytes(value: &Value) -> Result<Vec<u8>, Error> {
    canonical_of(value)
}

/// JCS of any serializable value: the single implementation behind [`canonical_bytes`], used
/// directly for records so they need not be copied into a `Value` first.
pub(crate) fn canonical_of<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Canonical(e.to_string()))
}

/// Whether `bytes` are exactly the canonical form of the JSON they hold.
pub fn is_canonical(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| canonical_bytes(&v).ok())
        .is_some_and(|c| c == bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::excessive_precision)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc8785_examples() {
        // RFC 8785 §3.2.2 number and string rules, §3.2.3 key order by UTF-16 code units.
        let v = json!({"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
                       "string": "\u{20ac}$\u{000F}\u{000a}A'\u{0042}\u{0022}\u{005c}\\\"/",
                       "literals": [null, true, false]});
        let got = String::from_utf8(canonical_bytes(&v).unwrap()).unwrap();
        assert_eq!(
            got,
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        let v = json!({"\u{20ac}": 1, "\r": 2, "\u{1f600}": 3, "\u{fb33}": 4, "1": 5, "\u{80}": 6, "\u{dc}": 7});
        let got = String::from_utf8(canonical_bytes(&v).unwrap()).unwrap();
        assert_eq!(
            got,
            "{\"\\r\":2,\"1\":5,\"\u{80}\":6,\"\u{dc}\":7,\"\u{20ac}\":1,\"\u{1f600}\":3,\"\u{fb33}\":4}"
        );
    }

    #[test]
    fn detects_non_canonical() {
        assert!(is_canonical(br#"{"a":1,"b":[true]}"#));
        assert!(!is_canonical(br#"{"b":[true],"a":1}"#));
        assert!(!is_canonical(br#"{"a": 1}"#));
        assert!(!is_canonical(br#"{"a":1.0}"#));
        assert!(!is_canonical(b"not json"));
    }
}
