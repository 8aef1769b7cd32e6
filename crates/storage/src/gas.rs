//! The FAC gas ledger (DESIGN §5): gas used per token id, charged atomically.

use async_trait::async_trait;
use flowork_model::{Gas, Jti, OutOfGas};

use crate::error::{Result, StorageError};

/// Gas used per token, shared by every worker. Implemented by both stores (one conditional
/// upsert) and by the Redis ledger in `flowork-queue` (one Lua script).
#[async_trait]
pub trait GasLedger: Send + Sync {
    /// Adds `add` to the gas `jti` has used if the result stays within `budget`, atomically:
    /// concurrent callers can never push a token past its budget. `Ok(Ok(used))` is the new
    /// total; `Ok(Err(OutOfGas))` means nothing was consumed.
    async fn charge(&self, jti: &Jti, add: Gas, budget: Gas) -> Result<Result<Gas, OutOfGas>>;
    /// The gas `jti` has used so far (0 if it never charged).
    async fn gas_used(&self, jti: &Jti) -> Result<Gas>;
}

/// A gas amount as the databases' signed 64-bit integer.
pub(crate) fn to_i64(g: Gas, what: &str) -> Result<i64> {
    i64::try_from(g.0)
        .map_err(|_| StorageError::Invalid(format!("{what} {g} exceeds the ledger's maximum")))
}

/// A stored amount back as gas (never negative: the column has a CHECK).
pub(crate) fn from_i64(v: i64) -> Gas {
    Gas(v.unsigned_abs())
}
