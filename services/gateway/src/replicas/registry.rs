//! Which replica holds which engine's link, in Redis: one key per engine naming the holder's
//! advertise URL, with a TTL the holder keeps refreshing. A crashed replica's entries lapse on
//! their own; a replica that loses an engine removes the entry only if it still names itself,
//! so it never erases the claim of the replica the engine moved to.

use std::time::Duration;

use flowork_model::EngineId;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

/// KEYS: the engine's key. ARGV: this replica, TTL ms. Refreshes the entry if it names this
/// replica (1) or lapsed (2: Redis lost it), but leaves another replica's newer claim alone (0).
const KEEP: &str = "local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
";

/// What refreshing a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Still this replica's.
    Held,
    /// It had lapsed, and is this replica's again.
    Restored,
    /// Another replica's now.
    Lost,
}

/// KEYS: the engine's key. ARGV: this replica. Deletes the entry only if it names this replica.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The engine → holder records.
pub(crate) struct Registry {
    conn: ConnectionManager,
    prefix: String,
    ttl_ms: u64,
    keep: Script,
    release: Script,
}

impl Registry {
    /// Connects (failing if Redis cannot be reached now; later outages are retried).
    pub(crate) async fn connect(url: &str, prefix: &str, ttl: Duration) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        // Bounded: every request to an engine not linked here asks Redis first. A refused
        // connection fails at once; only a hung Redis costs the whole wait.
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(5));
        let conn = client.get_connection_manager_with_config(cfg).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            keep: Script::new(KEEP),
            release: Script::new(RELEASE),
        })
    }

    fn key(&self, engine: EngineId) -> String {
        format!("{}:engine:{engine}:holder", self.prefix)
    }

    /// Records `me` as the holder, replacing whoever held it (the engine linked here last).
    pub(crate) async fn claim(&self, engine: EngineId, me: &str) -> RedisResult<()> {
        redis::cmd("SET")
            .arg(self.key(engine))
            .arg(me)
            .arg("PX")
            .arg(self.ttl_ms)
            .query_async(&mut self.conn.clone())
            .await
    }

    /// Extends `me`'s claim, or restores a lapsed one.
    pub(crate) async fn keep(&self, engine: EngineId, me: &str) -> RedisResult<Claim> {
        let kept: i64 = self
            .keep
            .key(self.key(engine))
            .arg(me)
            .arg(self.ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match kept {
            1 => Claim::Held,
            2 => Claim::Restored,
            _ => Claim::Lost,
        })
    }

    /// Drops `me`'s claim; another replica's is left alone.
    pub(crate) async fn release(&self, engine: EngineId, me: &str) -> RedisResult<()> {
        let _: i64 = self
            .release
            .key(self.key(engine))
            .arg(me)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// The replica holding `engine`'s link, if any.
    pub(crate) async fn holder(&self, engine: EngineId) -> RedisResult<Option<String>> {
        redis::cmd("GET")
            .arg(self.key(engine))
            .query_async(&mut self.conn.clone())
            .await
    }
}
