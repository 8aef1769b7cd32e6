//! The FAC gas ledger on Redis: one Lua script checks and increments atomically (the server runs
//! scripts one at a time), so workers sharing the Redis can never overspend a token.
//!
//! It shares the queue's multiplexed connection ([`RedisQueue::gas_ledger`]): no second
//! connection setup, and the engine already holds a queue when it runs on Redis. Key:
//! `<prefix>:gas:{<jti>}`, an integer. Lua compares in doubles, exact up to 2^53: larger amounts
//! are refused as invalid.

use async_trait::async_trait;
use flowork_model::{Gas, Jti, OutOfGas};
use flowork_storage::{GasLedger, StorageError};
use redis::Script;
use redis::aio::ConnectionManager;

use super::RedisQueue;

/// KEYS: ledger key. ARGV: add, budget. Returns {1, used after} or {0, used}.
const CHARGE: &str = "local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local add = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
if add > budget or used > budget - add then return {0, used} end
return {1, redis.call('INCRBY', KEYS[1], add)}
";

/// Largest amount the script handles exactly.
const MAX_EXACT: u64 = 1 << 53;

/// A [`GasLedger`] in Redis.
pub struct RedisGasLedger {
    conn: ConnectionManager,
    prefix: String,
    charge: Script,
}

impl RedisQueue {
    /// The gas ledger on this queue's Redis, sharing its connection.
    pub fn gas_ledger(&self) -> RedisGasLedger {
        RedisGasLedger {
            conn: self.conn.clone(),
            prefix: self.cfg.prefix.clone(),
            charge: Script::new(CHARGE),
        }
    }
}

impl RedisGasLedger {
    fn key(&self, jti: &Jti) -> String {
        format!("{}:gas:{{{}}}", self.prefix, jti)
    }
}

fn backend(e: redis::RedisError) -> StorageError {
    StorageError::Backend(format!("redis: {e}"))
}

#[async_trait]
impl GasLedger for RedisGasLedger {
    async fn charge(
        &self,
        jti: &Jti,
        add: Gas,
        budget: Gas,
    ) -> flowork_storage::Result<Result<Gas, OutOfGas>> {
        if add.0 > MAX_EXACT || budget.0 > MAX_EXACT {
            return Err(StorageError::Invalid(format!(
                "gas amounts above 2^53 are not supported on Redis (add {add}, budget {budget})"
            )));
        }
        let (ok, used): (i64, u64) = self
            .charge
            .key(self.key(jti))
            .arg(add.0)
            .arg(budget.0)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(if ok == 1 {
            Ok(Gas(used))
        } else {
            Err(OutOfGas {
                used: Gas(used),
                add,
                total: budget,
            })
        })
    }

    async fn gas_used(&self, jti: &Jti) -> flowork_storage::Result<Gas> {
        let used: Option<u64> = redis::cmd("GET")
            .arg(self.key(jti))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(Gas(used.unwrap_or(0)))
    }
}
