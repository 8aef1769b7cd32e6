//! The Postgres backend: production, pooled with deadpool-postgres.
//!
//! Queue times come from the database clock (`clock_timestamp()`), so workers on hosts whose
//! clocks disagree still agree on when a lease expires. Other timestamps are taken by the caller's
//! host, as in SQLite.

mod accounts;
mod executions;
mod gas;
mod members;
mod queue;
mod records;
mod rows;
mod webhook_buffer;
mod workflows;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use flowork_model::Timestamp;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::api::Store;
use crate::error::{Result, StorageError};
use crate::{migrate, redact_url};

/// A store in one Postgres database (and schema).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The schema tables live in, when not the server's default search path.
    schema: Option<String>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` with a pool of up to `max_connections` and migrates the database.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStore> {
        Self::open(url, None, max_connections).await
    }

    /// Like [`PgStore::connect`], but keeps every table in `schema` (created if missing) by
    /// setting `search_path` on each pooled connection. Lets tests and tenants share a database.
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        max_connections: usize,
    ) -> Result<PgStore> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StorageError::Config(format!(
                "invalid schema name {schema:?}: use lowercase letters, digits and _"
            )));
        }
        Self::open(url, Some(schema), max_connections).await
    }

    /// The schema given to [`PgStore::connect_in_schema`], if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    async fn open(url: &str, schema: Option<&str>, max_connections: usize) -> Result<PgStore> {
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e| {
            StorageError::Config(format!("invalid postgres URL {}: {e}", redact_url(url)))
        })?;
        if let Some(schema) = schema {
            let opts = cfg
                .get_options()
                .map(|o| format!("{o} "))
                .unwrap_or_default();
            cfg.options(format!("{opts}-c search_path={schema}"));
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StorageError::Config(format!("postgres pool: {e}")))?;
        let store = PgStore {
            pool,
            schema: schema.map(str::to_owned),
        };
        let mut client = store.pool.get().await.map_err(|e| {
            StorageError::Config(format!(
                "cannot connect to {}: {}",
                redact_url(url),
                pool_reason(&e)
            ))
        })?;
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .or_else(|e| match e.code() {
                    // Two starters racing on CREATE SCHEMA IF NOT EXISTS: the other one won.
                    Some(c) if *c == SqlState::UNIQUE_VIOLATION => Ok(()),
                    _ => Err(db_err(e)),
                })?;
        }
        let client: &mut tokio_postgres::Client = &mut client;
        migrate::run_postgres(client, Timestamp::now().millis()).await?;
        crate::legacy::postgres(client).await?;
        Ok(store)
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::Backend(format!("postgres pool: {}", pool_reason(&e))))
    }
}

fn pool_reason(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => pg_reason(e),
        e => e.to_string(),
    }
}

/// The server's message when there is one (tokio-postgres' Display is terse for db errors).
fn pg_reason(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.to_string())
}

/// Maps a Postgres error: unique violations are conflicts, the rest backend failures.
pub(crate) fn db_err(e: tokio_postgres::Error) -> StorageError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StorageError::Conflict(pg_reason(&e)),
        _ => StorageError::Backend(pg_reason(&e)),
    }
}

/// Whether `e` is a foreign key violation (the referenced row does not exist).
pub(crate) fn is_fk_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// The current time in the stores' unit.
pub(crate) fn now() -> i64 {
    Timestamp::now().millis()
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> crate::types::Backend {
        crate::types::Backend::Postgres
    }

    async fn ping(&self) -> Result<()> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
