//! Gas (DESIGN §1 promise 5): amounts, FAC token ids, and the out-of-gas outcome.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of gas (budget, cost, or used so far).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Gas(pub u64);

impl fmt::Display for Gas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A token's unique id (`jti`): the key of its gas ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Jti(String);

impl Jti {
    /// A fresh random id (UUIDv7, simple form).
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Jti {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Jti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Jti {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// A charge refused: `used + add` would exceed `total` (the budget). Nothing was consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Out of gas: used={used}, add={add}, total={total}")]
pub struct OutOfGas {
    /// Gas used before this charge.
    pub used: Gas,
    /// The charge that was refused.
    pub add: Gas,
    /// The token's budget.
    pub total: Gas,
}

impl OutOfGas {
    /// Checks a charge of `add` on `used` against `total`: the new `used`, or why not. Never
    /// overflows (`used <= total - add`).
    pub fn check(used: Gas, add: Gas, total: Gas) -> Result<Gas, OutOfGas> {
        match total.0.checked_sub(add.0) {
            Some(room) if used.0 <= room => Ok(Gas(used.0 + add.0)),
            _ => Err(OutOfGas { used, add, total }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_format_is_the_contract() {
        let e = OutOfGas::check(Gas(95), Gas(10), Gas(100)).expect_err("over");
        assert_eq!(e.to_string(), "Out of gas: used=95, add=10, total=100");
        assert_eq!(OutOfGas::check(Gas(90), Gas(10), Gas(100)), Ok(Gas(100)));
        assert!(OutOfGas::check(Gas(0), Gas(u64::MAX), Gas(5)).is_err());
        assert_eq!(
            OutOfGas::check(Gas(1), Gas(u64::MAX - 1), Gas(u64::MAX)),
            Ok(Gas(u64::MAX))
        );
    }
}
