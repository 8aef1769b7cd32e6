//! Conversions between `serde_json::Value` and jaq's `Val`.
//!
//! Inward we use jaq-json's own `serde` deserializer (integers stay integers, u64/i128 become
//! big ints, floats stay floats). jaq-json 2 offers no `Serialize`, so outward is written here.

use jaq_json::{Num, Val};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::ExprError;

/// Deepest result nesting we convert back; deeper results are refused, not recursed into.
pub const MAX_DEPTH: usize = 512;

/// Converts a JSON value to a jaq value.
pub(crate) fn to_val(v: &Value) -> Val {
    // Deserializing from a `serde_json::Value` cannot fail: every JSON value is a `Val`.
    Val::deserialize(v).unwrap_or_default()
}

/// Converts a jaq value to a JSON value.
///
/// jaq values are a superset of JSON, so a few things are mapped the way `jq` prints them:
/// NaN becomes `null`, ±infinity becomes ±`f64::MAX`, byte strings become (lossy UTF-8) strings,
/// non-string object keys become their compact JSON text, and integers beyond the range of
/// `i64`/`u64` become the nearest `f64` (serde_json has no big numbers without
/// `arbitrary_precision`).
pub(crate) fn from_val(v: &Val) -> Result<Value, ExprError> {
    from_val_at(v, 0)
}

fn from_val_at(v: &Val, depth: usize) -> Result<Value, ExprError> {
    if depth > MAX_DEPTH {
        return Err(ExprError::Limit {
            what: "result nesting depth",
            limit: MAX_DEPTH,
        });
    }
    Ok(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(a) => {
            let items = a.iter().map(|x| from_val_at(x, depth + 1));
            Value::Array(items.collect::<Result<_, _>>()?)
        }
        Val::Obj(o) => {
            let mut map = Map::with_capacity(o.len());
            for (k, x) in o.iter() {
                map.insert(key(k), from_val_at(x, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

fn key(k: &Val) -> String {
    match k {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
        // jaq allows non-string keys; jq would refuse them, we spell them as JSON text.
        other => other.to_string(),
    }
}

fn num(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::Number(Number::from(*i as i64)),
        Num::BigInt(b) => {
            if let Ok(i) = i64::try_from(&**b) {
                Value::Number(i.into())
            } else if let Ok(u) = u64::try_from(&**b) {
                Value::Number(u.into())
            } else {
                float(b.to_string().parse().unwrap_or(f64::NAN))
            }
        }
        Num::Float(f) => float(*f),
        // Decimal literals (`1.5` in the program) are kept as text by jaq until used.
        Num::Dec(s) => float(s.parse().unwrap_or(f64::NAN)),
    }
}

fn float(f: f64) -> Value {
    let f = if f.is_infinite() {
        f64::MAX.copysign(f)
    } else {
        f
    };
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}
