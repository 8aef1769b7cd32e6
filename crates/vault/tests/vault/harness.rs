//! Test fixtures: a fresh store per test, in a temp SQLite file or a fresh Postgres schema.

use std::sync::Arc;

use flowork_model::CredentialId;
use flowork_storage::{Credential, KvEntry, PgStore, SqliteStore, Store};
use flowork_vault::KV_NAMESPACE;
use tempfile::TempDir;

/// One store under test.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    target: Target,
}

enum Target {
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres { url: String, schema: String },
}

impl Fixture {
    /// A store in a new SQLite file in a temp directory.
    pub async fn sqlite() -> Option<Fixture> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flowork.db").to_string_lossy().into_owned();
        let store = SqliteStore::open(&path, 4).await.expect("open sqlite");
        Some(Fixture {
            store: Arc::new(store),
            target: Target::Sqlite(dir),
        })
    }

    /// A store in a fresh schema of `FLOWORK_TEST_PG`; `None` (skip, loudly) when that is unset
    /// outside CI, a panic under `CI=true`.
    pub async fn postgres() -> Option<Fixture> {
        let url = flowork_testkit::postgres()?;
        let schema = format!("flowork_vault_test_{}", CredentialId::new().uuid().simple());
        let store = PgStore::connect_in_schema(&url, &schema, 8)
            .await
            .expect("connect postgres");
        Some(Fixture {
            store: Arc::new(store),
            target: Target::Postgres { url, schema },
        })
    }

    /// Everything the vault has written: the credential rows and the vault's kv records.
    pub async fn snapshot(&self) -> (Vec<Credential>, Vec<KvEntry>) {
        let creds = self
            .store
            .list_credentials()
            .await
            .expect("list credentials");
        let kv = self.store.kv_list(KV_NAMESPACE, "").await.expect("kv list");
        (creds, kv)
    }

    /// Drops the Postgres schema (the temp dir goes with the fixture).
    pub async fn cleanup(self) {
        let Fixture { store, target } = self;
        drop(store);
        if let Target::Postgres { url, schema } = target {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("raw pg connect");
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop test schema");
        }
    }
}
