//! Storage for Flowork: the store traits and their two real backends.
//!
//! - SQLite (`sqlite://path/to/file.db`): the embedded default, WAL mode, blocking calls kept off
//!   the async runtime.
//! - Postgres (`postgres://...`): production, pooled with deadpool-postgres.
//!
//! [`connect`] picks the backend from the URL and applies the migrations in `migrations/` before
//! returning. Both backends pass the same conformance suite (`tests/conformance.rs`).

mod accounts;
mod api;
mod blob;
mod chain;
mod error;
mod gas;
mod legacy;
mod members;
mod migrate;
mod postgres;
mod problem;
mod sqlite;
mod types;
mod webhook_buffer;

use std::sync::Arc;

pub use accounts::{
    AccountStore, ApiKey, ApiKeyOwner, Engine, NewApiKey, NewEngine, NewRefreshToken,
    RefreshOutcome,
};
pub use api::*;
pub use blob::BLOB_THRESHOLD;
pub use error::{Result, StorageError};
pub use gas::GasLedger;
pub use members::{AddressChallenge, BoundAddress, EngineMember, MemberRole, MemberStore};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::*;
pub use webhook_buffer::{NewWebhookDelivery, WebhookBacklog, WebhookBufferStore, WebhookDelivery};

/// Opens the store named by `url` (`sqlite://<path>` or `postgres://...`) and migrates it.
///
/// `max_connections` sizes the Postgres pool and the SQLite reader pool.
pub async fn connect(url: &str, max_connections: usize) -> Result<Arc<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(SqliteStore::open(path, max_connections).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    } else {
        Err(StorageError::Config(format!(
            "unsupported URL {:?}: expected sqlite://<path> or postgres://...",
            redact_url(url)
        )))
    }
}

/// Opens the store a service's config names (`database.url`; SQLite under the data dir by
/// default), creating the data dir first when the store lives there, and logs the backend.
pub async fn open(
    cfg: &flowork_kit::Config,
) -> Result<Arc<dyn Store>, flowork_kit::entry::BoxError> {
    let url = cfg.database_url();
    if url.starts_with("sqlite://") {
        flowork_kit::entry::ensure_data_dir(&cfg.data_dir)?;
    }
    let store = connect(&url, cfg.database.max_connections).await?;
    tracing::info!(backend = ?store.backend(), database = %redact_url(&url), "store opened");
    Ok(store)
}

/// A store and the gateway's [`AccountStore`] over one backend (one pool, one SQLite writer).
pub async fn connect_with_accounts(
    url: &str,
    max_connections: usize,
) -> Result<(Arc<dyn Store>, Arc<dyn AccountStore>)> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let s = SqliteStore::open(path, max_connections).await?;
        Ok((Arc::new(s.clone()), Arc::new(s)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = PgStore::connect(url, max_connections).await?;
        Ok((Arc::new(s.clone()), Arc::new(s)))
    } else {
        Err(StorageError::Config(format!(
            "unsupported URL {:?}: expected sqlite://<path> or postgres://...",
            redact_url(url)
        )))
    }
}

/// [`open`] plus the gateway's [`AccountStore`] on the same backend.
pub async fn open_with_accounts(
    cfg: &flowork_kit::Config,
) -> Result<(Arc<dyn Store>, Arc<dyn AccountStore>), flowork_kit::entry::BoxError> {
    let url = cfg.database_url();
    if url.starts_with("sqlite://") {
        flowork_kit::entry::ensure_data_dir(&cfg.data_dir)?;
    }
    let (store, accounts) = connect_with_accounts(&url, cfg.database.max_connections).await?;
    tracing::info!(backend = ?store.backend(), database = %redact_url(&url), "store opened");
    Ok((store, accounts))
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => url.split('@').next_back().unwrap_or_default().to_owned(),
    }
}
