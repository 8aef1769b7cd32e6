//! Backends for the queue suite: embedded on SQLite in a temp dir, Redis under a random prefix.

use std::sync::Arc;
use std::time::Duration;

use flowork_queue::{EmbeddedQueue, JobQueue, RedisConfig, RedisQueue};
use flowork_storage::Store;

const QUEUE: &str = "jobs";

/// One backend's queue factory; every queue it makes shares the same jobs.
pub enum Fixture {
    Embedded {
        store: Arc<dyn Store>,
        _dir: tempfile::TempDir,
    },
    Redis {
        url: String,
        prefix: String,
    },
}

impl Fixture {
    pub async fn embedded() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let store = flowork_storage::connect(&url, 4).await.expect("sqlite");
        Some(Self::Embedded { store, _dir: dir })
    }

    /// `None` (after a loud SKIPPED line) without `FLOWORK_TEST_REDIS`, unless `CI=true`.
    pub async fn redis() -> Option<Self> {
        let url = flowork_testkit::redis()?;
        let prefix = format!("flowork-test:{}", uuid::Uuid::now_v7().simple());
        Some(Self::Redis { url, prefix })
    }

    /// A queue handle (its own connections, as another worker process would have).
    pub async fn queue(&self, lease: Duration) -> Arc<dyn JobQueue> {
        match self {
            Self::Embedded { store, .. } => {
                Arc::new(EmbeddedQueue::new(store.clone(), QUEUE).with_lease(lease))
            }
            Self::Redis { url, prefix } => {
                let mut cfg = RedisConfig::new(url.clone(), QUEUE);
                cfg.prefix = prefix.clone();
                cfg.lease = lease;
                Arc::new(RedisQueue::connect(cfg).await.expect("connect redis"))
            }
        }
    }

    /// Deletes the test's Redis keys; the SQLite file goes with the temp dir.
    pub async fn cleanup(self) {
        let Self::Redis { url, prefix } = self else {
            return;
        };
        let client = ::redis::Client::open(url).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis cleanup connection");
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .expect("list test keys");
        if !keys.is_empty() {
            let _: () = ::redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("delete test keys");
        }
    }
}
