//! A short, bounded cache in front of a [`PermissionChecker`]: a forwarded request costs a
//! hash lookup instead of a database (or gRPC) round trip, and a changed role takes effect
//! within the TTL everywhere (at once in the process that changed it: [`Cached::forget_engine`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flowork_model::EngineId;

use crate::decide::{Decision, PermissionChecker, Query};
use crate::error::AccessError;
use crate::license::License;

/// The default time a decision is reused.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3);
/// The default number of decisions kept.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A [`PermissionChecker`] that remembers answers for a few seconds.
pub struct Cached {
    inner: Arc<dyn PermissionChecker>,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Query, (Decision, Instant)>>,
}

impl Cached {
    /// Caches `inner`'s answers for `ttl`, keeping at most `capacity` of them.
    pub fn new(inner: Arc<dyn PermissionChecker>, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Drops every cached answer about `engine` (its members just changed).
    pub fn forget_engine(&self, engine: EngineId) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|q, _| q.engine != engine);
        }
    }

    /// How many answers are cached (tests check the bound).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, q: &Query) -> Option<Decision> {
        let e = self.entries.lock().ok()?;
        e.get(q)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(d, _)| *d)
    }

    fn put(&self, q: Query, d: Decision) {
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        if e.len() >= self.capacity {
            // Expired answers go first; if all are fresh, start over (a burst of distinct
            // questions must not grow memory without bound).
            let ttl = self.ttl;
            e.retain(|_, (_, at)| at.elapsed() < ttl);
            if e.len() >= self.capacity {
                e.clear();
            }
        }
        e.insert(q, (d, Instant::now()));
    }
}

#[async_trait]
impl PermissionChecker for Cached {
    async fn check(&self, q: Query) -> Result<Decision, AccessError> {
        if let Some(d) = self.get(&q) {
            return Ok(d);
        }
        let d = self.inner.check(q).await?;
        self.put(q, d);
        Ok(d)
    }

    async fn license(&self) -> Result<License, AccessError> {
        self.inner.license().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use flowork_model::{EngineRole, UserId};

    use super::*;
    use crate::capability::Capability;
    use crate::decide::{Action, Denial};

    /// Answers from a fixed role, counting the questions that reach it.
    struct Counting(AtomicUsize, Mutex<Option<EngineRole>>);

    #[async_trait]
    impl PermissionChecker for Counting {
        async fn check(&self, q: Query) -> Result<Decision, AccessError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let role = *self.1.lock().expect("lock");
            Ok(crate::decide(
                &License::open_core(),
                role,
                q.action,
                q.capability,
                flowork_model::Timestamp::now(),
            ))
        }
        async fn license(&self) -> Result<License, AccessError> {
            Ok(License::open_core())
        }
    }

    fn q(engine: EngineId) -> Query {
        Query {
            principal: UserId::new(),
            engine,
            action: Action::Write,
            capability: Capability::BasicExecution,
        }
    }

    #[tokio::test]
    async fn answers_are_reused_within_the_ttl_forgotten_per_engine_and_bounded() {
        let inner = Arc::new(Counting(
            AtomicUsize::new(0),
            Mutex::new(Some(EngineRole::Viewer)),
        ));
        let cache = Cached::new(inner.clone(), Duration::from_millis(200), 3);
        let query = q(EngineId::new());
        let denied = Decision::Deny(Denial::Role {
            needed: EngineRole::Editor,
            have: EngineRole::Viewer,
        });
        assert_eq!(cache.check(query).await.expect("check"), denied);
        assert_eq!(cache.check(query).await.expect("check"), denied);
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            1,
            "the second came from the cache"
        );

        *inner.1.lock().expect("lock") = Some(EngineRole::Editor);
        cache.forget_engine(query.engine);
        assert!(cache.check(query).await.expect("check").is_allowed());
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);

        *inner.1.lock().expect("lock") = None;
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            cache.check(query).await.expect("check"),
            Decision::Deny(Denial::NotMember),
            "an expired answer is asked again"
        );
        for _ in 0..10 {
            cache.check(q(EngineId::new())).await.expect("check");
            assert!(cache.len() <= 3, "{}", cache.len());
        }
    }
}
