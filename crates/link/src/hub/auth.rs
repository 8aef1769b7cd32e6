//! Who may connect: the gateway's token check behind [`EngineAuth`], and a brake on guessing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{EngineId, LinkError};

/// Buckets kept before full (idle) ones are forgotten, so spraying ids cannot grow memory.
const MAX_BUCKETS: usize = 4096;
/// A peer address may fail this many times more than one (address, engine) pair: several
/// engines behind one NAT must not lock each other out, a spray of ids from one host must stop.
const PER_ADDRESS_FACTOR: u32 = 4;

/// An engine the gateway recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIdentity {
    /// The engine's id (the registry key).
    pub engine: EngineId,
    /// Who owns it at the gateway (a user or tenant id), when the gateway tracks that.
    pub owner: Option<String>,
}

/// The gateway's check of an engine's credentials, over its own records.
#[async_trait]
pub trait EngineAuth: Send + Sync + 'static {
    /// The engine `engine` proved itself with `token`. Answer `LinkError::Unauthenticated` for
    /// an unknown engine or a wrong or revoked token; other errors mean "cannot tell now".
    async fn verify(&self, engine: &EngineId, token: &str) -> Result<EngineIdentity, LinkError>;
}

struct Bucket {
    tokens: f64,
    capacity: f64,
    at: Instant,
}

impl Bucket {
    /// A bucket refills its whole capacity in a minute.
    fn refill(&mut self, now: Instant) {
        let gained = now.duration_since(self.at).as_secs_f64() / 60.0 * self.capacity;
        self.tokens = (self.tokens + gained).min(self.capacity);
        self.at = now;
    }
}

/// A token bucket per peer address and per (address, engine): each refused connect takes a
/// token; with none left, connects are refused before the token is even checked.
pub(crate) struct FailureLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl FailureLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The buckets a connect from `peer` for `engine` draws on. Without a peer address (the
    /// server did not say) only the engine's own: one shared "unknown" bucket would let anyone
    /// lock every engine out.
    fn keys(&self, peer: Option<IpAddr>, engine: &str) -> Vec<(String, u32)> {
        match peer {
            Some(ip) => vec![
                (format!("{ip}/{engine}"), self.per_minute),
                (ip.to_string(), self.per_minute * PER_ADDRESS_FACTOR),
            ],
            None => vec![(format!("?/{engine}"), self.per_minute)],
        }
    }

    /// False when this peer (or this peer for this engine) failed too often lately.
    pub(crate) fn allows(&self, peer: Option<IpAddr>, engine: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        self.keys(peer, engine)
            .iter()
            .all(|(key, _)| match buckets.get_mut(key) {
                Some(b) => {
                    b.refill(now);
                    b.tokens >= 1.0
                }
                None => true,
            })
    }

    /// Records a refused connect.
    pub(crate) fn failed(&self, peer: Option<IpAddr>, engine: &str) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.refill(now);
                b.tokens < b.capacity
            });
        }
        for (key, cap) in self.keys(peer, engine) {
            let cap = f64::from(cap);
            let b = buckets.entry(key).or_insert(Bucket {
                tokens: cap,
                capacity: cap,
                at: now,
            });
            b.refill(now);
            b.tokens = (b.tokens - 1.0).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_blocked_after_its_failures_but_not_its_neighbours() {
        let limiter = FailureLimiter::new(2);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limiter.allows(ip, "e1"));
        limiter.failed(ip, "e1");
        limiter.failed(ip, "e1");
        assert!(!limiter.allows(ip, "e1"));
        assert!(
            limiter.allows(ip, "e2"),
            "another engine behind the same address"
        );
        assert!(limiter.allows(Some(IpAddr::from([10, 0, 0, 2])), "e1"));
    }

    #[test]
    fn without_a_peer_address_only_the_engine_is_limited() {
        let limiter = FailureLimiter::new(1);
        limiter.failed(None, "e1");
        assert!(!limiter.allows(None, "e1"));
        for i in 0..10 {
            limiter.failed(None, &format!("spray{i}"));
        }
        assert!(limiter.allows(None, "e2"));
    }

    #[test]
    fn an_address_spraying_ids_is_blocked() {
        let limiter = FailureLimiter::new(1);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for i in 0..PER_ADDRESS_FACTOR {
            limiter.failed(ip, &format!("e{i}"));
        }
        assert!(!limiter.allows(ip, "fresh"));
    }
}
