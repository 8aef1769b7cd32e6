//! The Lua scripts behind the Redis queue.
//!
//! Each script runs atomically on the server, which is what makes the multi-step operations safe
//! with many workers: two workers promoting delayed jobs at once cannot both move the same job
//! (the second sees it gone from the sorted set), and an ack/nack/extend cannot slip in between
//! the ownership check and the write while another worker reclaims the message. Times come from
//! the server's `TIME`, so workers with skewed clocks still agree on when a delayed job is due.

use redis::Script;

/// `TIME` as milliseconds, defined at the top of the scripts that need it.
const NOW_MS: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// KEYS: delayed zset, stream. ARGV: max jobs to move. Moves due jobs into the stream.
const PROMOTE: &str =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])
for _, env in ipairs(due) do
  redis.call('ZREM', KEYS[1], env)
  redis.call('XADD', KEYS[2], '*', 'env', env)
end
return #due
";

/// KEYS: delayed zset. ARGV: delay ms, envelope. Schedules a job.
const DELAY: &str =
    "redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[1])), ARGV[2])
return 1
";

/// Returns 0 from the calling script unless ARGV[2] (entry id) is pending for ARGV[3] (worker)
/// in group ARGV[1] of stream KEYS[1].
const OWNED: &str = "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
";

/// KEYS: stream. ARGV: group, entry id, worker. Removes the job.
const ACK: &str = "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
";

/// KEYS: stream, delayed zset. ARGV: group, entry id, worker, delay ms, new envelope.
/// Removes the entry and schedules the job again in one step, so a crash cannot lose it.
const NACK: &str = "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%.0f', now + tonumber(ARGV[4])), ARGV[5])
return 1
";

/// KEYS: stream. ARGV: group, entry id, worker. Claims the entry for its own owner again, which
/// resets its idle time (the lease clock) without counting a delivery.
const EXTEND: &str = "redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
";

/// The compiled scripts (their SHA1s are computed once; `invoke_async` loads them on demand).
pub(super) struct Scripts {
    pub promote: Script,
    pub delay: Script,
    pub ack: Script,
    pub nack: Script,
    pub extend: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            promote: Script::new(&format!("{NOW_MS}{PROMOTE}")),
            delay: Script::new(&format!("{NOW_MS}{DELAY}")),
            ack: Script::new(&format!("{OWNED}{ACK}")),
            nack: Script::new(&format!("{NOW_MS}{OWNED}{NACK}")),
            extend: Script::new(&format!("{OWNED}{EXTEND}")),
        }
    }
}
