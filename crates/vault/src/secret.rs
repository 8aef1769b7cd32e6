//! The plain-text secret of a credential, kept out of logs and wiped from memory on drop.

use std::fmt;

use serde_json::Value;
use zeroize::Zeroize as _;

/// A credential's secret value, e.g. `{"token": "..."}` or `{"username": .., "password": ..}`.
///
/// No `Display`, no `Serialize`, `Debug` prints `Secret(***)`; strings (keys and values) are
/// zeroized when it drops. Numbers cannot be wiped in place (serde_json keeps them opaque), so
/// put secret digits in strings.
pub struct Secret(Value);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: Value) -> Secret {
        Secret(value)
    }

    /// The plain-text value, for the node that uses the credential. Never log it.
    pub fn expose(&self) -> &Value {
        &self.0
    }
}

impl From<Value> for Secret {
    fn from(value: Value) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites every string in `value` (object keys included) before it is freed.
pub(crate) fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => {
            for (mut key, mut item) in std::mem::take(map) {
                key.zeroize();
                wipe(&mut item);
            }
        }
        Value::Number(_) => *value = Value::Null,
        Value::Null | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new(json!({"token": "hunter2-very-secret"}));
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(***))");
    }

    #[test]
    fn wipe_clears_strings_everywhere() {
        let mut v = json!({"a": ["x", {"b": "yy"}], "n": 42, "ok": true});
        wipe(&mut v);
        assert_eq!(v, json!({}));
        let mut v = json!(["pw", 7]);
        wipe(&mut v);
        assert_eq!(v, json!(["", null]));
    }
}
