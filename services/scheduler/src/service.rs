//! The scheduler as a service: open the vault, run queue workers, serve the engine API.

use std::sync::Arc;
use std::time::Duration;

use flowork_kit::entry::BoxError;
use flowork_kit::server::{self, Grpc};
use flowork_kit::{CancellationToken, Config, KitError, ServiceName};
use flowork_storage::Store;
use flowork_vault::{MASTER_KEY_ENV, MasterKey, Vault, VaultError};
use tokio::net::TcpListener;

use crate::engine::Engine;
use crate::link::LinkSettings;
use crate::runner::Runner;

/// Where the master key lives when `FLOWORK_MASTER_KEY` is not set.
pub const KEY_FILE: &str = "master.key";

/// The master key from `FLOWORK_MASTER_KEY`, else `<data_dir>/master.key` (created on first use,
/// mode 0600). Either way, a key that does not open the stored credentials stops start-up.
pub async fn open_vault(cfg: &Config, store: Arc<dyn Store>) -> Result<Arc<Vault>, VaultError> {
    let key = match std::env::var(MASTER_KEY_ENV) {
        Ok(value) if !value.trim().is_empty() => MasterKey::from_base64(&value)?,
        _ => {
            let path = cfg.data_dir.join(KEY_FILE);
            tokio::task::spawn_blocking(move || MasterKey::load_or_create(&path))
                .await
                .map_err(|e| VaultError::MasterKey {
                    origin: KEY_FILE.into(),
                    message: e.to_string(),
                })??
        }
    };
    let vault = Vault::open(store, key).await?;
    tracing::info!(key = vault.fingerprint(), "credentials vault open");
    Ok(Arc::new(vault))
}

/// An engine over `store` with its vault; fails (naming the reason) if the key is wrong.
pub async fn prepare(cfg: &Config, store: Arc<dyn Store>) -> Result<Engine, VaultError> {
    let vault = open_vault(cfg, store.clone()).await?;
    Ok(Engine::new(store).with_vault(vault))
}

/// Serves the engine API and health on `listener` (if any) and over EngineLink (when
/// `scheduler.gateway_url` is set) until `shutdown`, with queue workers, the cron loop and
/// execution history retention running.
pub async fn run(
    cfg: &Config,
    engine: Engine,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    let link = LinkSettings::from_config(cfg).await?;
    serve(cfg, engine, listener, link, shutdown).await
}

/// As [`run`], with the link given rather than read from the config (`flowork up` registers
/// its own local engine).
pub async fn serve(
    cfg: &Config,
    engine: Engine,
    listener: Option<TcpListener>,
    link: Option<LinkSettings>,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    if listener.is_none() && link.is_none() {
        return Err(KitError::Config(
            "scheduler: no listen address and no gateway_url: nothing could reach the engine"
                .into(),
        ));
    }
    let store = engine.store().clone();
    // Workers start pulling at once; jobs a previous run left leased come back when their
    // lease runs out, and the engine resumes those executions from their checkpoints.
    let runner = runner(cfg, engine.clone(), shutdown.child_token()).await?;
    // Every worker runs the cron loop; claims in the store make each tick fire once overall.
    crate::cron::CronScheduler::spawn(
        runner.clone(),
        Duration::from_secs(1),
        shutdown.child_token(),
    );
    crate::retention::spawn(store, cfg.scheduler.retention_days, shutdown.child_token());
    let grpc = Grpc::new();
    grpc.set_serving(ServiceName::Scheduler).await;
    // Unset require_signed means on: `flowork up` fills in its embedded default (off) itself.
    let policy = crate::versions::VersionPolicy::from_config(&cfg.versions, false)?;
    if policy.require_signed {
        tracing::info!("versions.require_signed: unsigned saves are refused");
    }
    // One router for both ways in, so they share the webhook index and its invalidation.
    let api = crate::api::router_with(runner, policy);
    if let Some(link) = link {
        crate::link::spawn(link, api.clone(), &engine, grpc.health(), shutdown.clone());
    }
    match listener {
        Some(l) => {
            server::serve(
                ServiceName::Scheduler,
                l,
                api.merge(grpc.into_router()),
                shutdown,
            )
            .await
        }
        None => {
            tracing::info!("the engine opens no port: it is reached through its gateway only");
            shutdown.cancelled().await;
            tracing::info!(service = %ServiceName::Scheduler, "stopped");
            Ok(())
        }
    }
}

/// The standalone `flowork-scheduler`: the store service at `scheduler.store_url`, else its own
/// database connection. `listener` is `None` when it dials out to a gateway and no
/// `scheduler.listen` is set.
pub async fn start(
    cfg: Arc<Config>,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    // Read the token before touching the database, so a missing one fails fast.
    let link = LinkSettings::from_config(&cfg).await?;
    let store = open_store(&cfg).await?;
    let engine = prepare(&cfg, store).await?;
    serve(&cfg, engine, listener, link, shutdown).await?;
    Ok(())
}

/// The store service when `scheduler.store_url` is set, else the configured database.
async fn open_store(cfg: &Config) -> Result<Arc<dyn Store>, BoxError> {
    let Some(url) = &cfg.scheduler.store_url else {
        return flowork_storage::open(cfg).await;
    };
    // The data dir still holds the master key and the engine token.
    flowork_kit::entry::ensure_data_dir(&cfg.data_dir)?;
    let shown = flowork_kit::config::redact_password(url);
    let store = flowork_store::RemoteStore::connect(url)
        .await
        .map_err(|e| format!("scheduler.store_url = {shown}: {e}"))?;
    tracing::info!(backend = ?store.backend(), store = %shown, "store service connected");
    Ok(Arc::new(store))
}

/// Workers on the configured queue: Redis Streams when `scheduler.redis_url` is set, else the
/// embedded queue in the database.
async fn runner(
    cfg: &Config,
    engine: Engine,
    shutdown: CancellationToken,
) -> Result<Runner, KitError> {
    let sc = &cfg.scheduler;
    let lease = Duration::from_millis(sc.lease_ms);
    let Some(url) = &sc.redis_url else {
        return Ok(Runner::embedded(engine, sc.concurrency, lease, shutdown));
    };
    let mut rc = flowork_queue::RedisConfig::new(url.clone(), "executions");
    rc.lease = lease;
    let queue = flowork_queue::RedisQueue::connect(rc).await.map_err(|e| {
        KitError::Config(format!(
            "scheduler.redis_url = {}: {e}",
            flowork_kit::config::redact_password(url)
        ))
    })?;
    tracing::info!(queue = "redis", "work queue connected");
    Ok(Runner::with_queue(
        engine,
        std::sync::Arc::new(queue),
        sc.concurrency,
        lease,
        shutdown,
    ))
}
