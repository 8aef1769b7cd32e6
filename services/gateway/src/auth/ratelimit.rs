//! Login brakes: token buckets per client address and per username, in memory.
//!
//! Per address stops one host spraying usernames; per username stops many hosts guessing one
//! account's password. Each gateway replica counts on its own (a determined attacker spread over
//! N replicas gets N times the budget, still far too little to guess a password).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before full ones are dropped, so spraying keys cannot grow memory.
const MAX_BUCKETS: usize = 10_000;

/// How many attempts a key may burst, and how fast they come back.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Attempts allowed at once.
    pub burst: u32,
    /// One attempt comes back every this long.
    pub refill: Duration,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limit {
    /// `per_sec` requests a second with bursts of twice that; `None` for 0 (no limit).
    pub fn per_second(per_sec: u32) -> Option<Self> {
        (per_sec > 0).then(|| Self {
            burst: per_sec.saturating_mul(2),
            refill: Duration::from_secs_f64(1.0 / f64::from(per_sec)),
        })
    }
}

/// The request brakes: per client address on every route but health, and per caller (API key,
/// or a user's access tokens) on authenticated routes. In memory, per replica, like the login
/// brakes.
pub(crate) struct RequestLimiters {
    pub(crate) per_ip: Option<RateLimiter>,
    pub(crate) per_key: Option<RateLimiter>,
}

impl RequestLimiters {
    pub(crate) fn new(per_ip: Option<Limit>, per_key: Option<Limit>) -> Self {
        Self {
            per_ip: per_ip.map(RateLimiter::new),
            per_key: per_key.map(RateLimiter::new),
        }
    }
}

/// Token buckets keyed by string.
pub(crate) struct RateLimiter {
    limit: Limit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: Limit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `key`, or says how long until one is available.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst.max(1));
        let per_sec = 1.0 / self.limit.refill.as_secs_f64().max(0.001);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
            // Still full (a spray of keys): forget the least recently used one, not all of them,
            // so spraying cannot reset the brake on the key under attack.
            let oldest = buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest.filter(|_| buckets.len() >= MAX_BUCKETS) {
                buckets.remove(&oldest);
            }
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_with_a_wait() {
        let rl = RateLimiter::new(Limit {
            burst: 3,
            refill: Duration::from_secs(10),
        });
        for _ in 0..3 {
            rl.check("a").expect("within burst");
        }
        let wait = rl.check("a").expect_err("over");
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        rl.check("b").expect("other keys are independent");
    }
}
