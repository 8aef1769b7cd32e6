//! Several gateway replicas (DESIGN §6). An engine links to one replica; Redis records which
//! (`registry`), and a request for that engine reaching another replica is relayed to the holder
//! over HTTP (`relay`), on internal routes only a replica can call (`internal`, `sign`). The
//! database is shared, so accounts, engines and the webhook buffer need nothing more. Without
//! `gateway.redis_url` none of this exists and the gateway is the single replica it always was.

pub(crate) mod internal;
mod registry;
mod relay;
pub(crate) mod sign;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use flowork_kit::CancellationToken;
use flowork_kit::config::GatewayConfig;
use flowork_model::EngineId;

use self::registry::{Claim, Registry};
use self::sign::Signer;
use crate::Gateway;
use crate::error::{GatewayError, Result};

/// How long a holder record outlives its replica's last refresh (refreshed every third of it):
/// after a crash, requests go to the dead replica (503) for at most this long.
const HOLD_TTL: Duration = Duration::from_secs(15);

/// Whether a request may still be relayed: one that a replica relayed here is served here,
/// whatever Redis says now, so two replicas can never bounce a request between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// Straight from a client.
    Edge,
    /// From another replica, for an engine it believed linked here.
    Relayed,
}

/// This replica's view of the others.
pub(crate) struct Replicas {
    registry: Registry,
    signer: Signer,
    http: reqwest::Client,
    /// How the other replicas reach this one (from config, else from the bound listener).
    me: OnceLock<String>,
    /// Engines this replica recorded as its own (released at shutdown).
    claimed: Mutex<HashSet<EngineId>>,
}

impl Replicas {
    /// `None` without `gateway.redis_url`; else connected to Redis (or an error naming it).
    pub(crate) async fn connect(cfg: &GatewayConfig, secret: &[u8]) -> Result<Option<Self>> {
        let Some(url) = &cfg.redis_url else {
            return Ok(None);
        };
        let registry = Registry::connect(url, &cfg.redis_prefix, HOLD_TTL)
            .await
            .map_err(|e| GatewayError::Redis(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .map_err(|e| GatewayError::Internal(format!("replica HTTP client: {e}")))?;
        let me = OnceLock::new();
        if let Some(a) = &cfg.advertise_url {
            let _ = me.set(a.trim_end_matches('/').to_owned());
        }
        Ok(Some(Self {
            registry,
            signer: Signer::new(secret),
            http,
            me,
            claimed: Mutex::default(),
        }))
    }

    /// Advertises the bound address unless `gateway.advertise_url` named one.
    pub(crate) fn bound(&self, addr: SocketAddr) {
        let _ = self.me.set(format!("http://{addr}"));
    }

    fn me(&self) -> &str {
        self.me.get().map_or("", String::as_str)
    }

    fn claimed(&self) -> std::sync::MutexGuard<'_, HashSet<EngineId>> {
        self.claimed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Gateway {
    /// Records that `engine` is linked here; before its buffer is drained, so a webhook another
    /// replica buffers meanwhile is either seen by the drain or nudged here (see `relay`).
    pub(crate) async fn claim_link(&self, engine: EngineId) {
        let Some(r) = &self.replicas else { return };
        r.claimed().insert(engine);
        if let Err(e) = r.registry.claim(engine, r.me()).await {
            // The refresh tick retries; until then other replicas see the engine offline.
            tracing::warn!(%engine, error = %e, "cannot record the engine's link in Redis");
        }
    }

    /// Forgets `engine`'s record once its last link here closed.
    pub(crate) async fn release_link(&self, engine: EngineId) {
        let Some(r) = &self.replicas else { return };
        if self.link.is_online(engine) {
            return;
        }
        r.claimed().remove(&engine);
        if let Err(e) = r.registry.release(engine, r.me()).await {
            tracing::warn!(%engine, error = %e, "cannot remove the engine's link from Redis");
        }
    }

    /// Refreshes this replica's records every third of their TTL; at shutdown, removes them
    /// (the engines will link elsewhere).
    pub(crate) async fn keep_links(self, shutdown: CancellationToken) {
        let Some(r) = self.replicas.clone() else {
            return;
        };
        let mut tick = tokio::time::interval(HOLD_TTL / 3);
        // Redis failed last tick: other replicas may have buffered webhooks meanwhile.
        let mut recovering = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            recovering = !self.keep_once(&r, recovering).await;
        }
        let mine: Vec<EngineId> = r.claimed().drain().collect();
        for engine in mine {
            let _ = r.registry.release(engine, r.me()).await;
        }
    }

    /// One refresh of every link held here; false if Redis failed for any.
    async fn keep_once(&self, r: &Replicas, recovering: bool) -> bool {
        let mut ok = true;
        for engine in self.online() {
            r.claimed().insert(engine);
            match r.registry.keep(engine, r.me()).await {
                Ok(Claim::Held) if !recovering => {}
                Ok(Claim::Held | Claim::Restored) => {
                    // While the record was missing or unreadable, other replicas buffered this
                    // engine's webhooks instead of relaying them: deliver them now.
                    self.link.mark_backlog(engine);
                    tokio::spawn(self.clone().drain(engine));
                }
                Ok(Claim::Lost) => {
                    tracing::info!(%engine, "another replica holds the engine's link now");
                }
                Err(e) => {
                    ok = false;
                    tracing::warn!(%engine, error = %e, "cannot refresh the engine's link in Redis");
                }
            }
        }
        ok
    }

    /// The replica holding `engine`'s link when it is linked to another one.
    pub(crate) async fn holder_elsewhere(&self, engine: EngineId) -> Option<String> {
        let r = self.replicas.as_ref()?;
        match r.registry.holder(engine).await {
            Ok(Some(h)) if h != r.me() => Some(h),
            Ok(_) => None,
            Err(e) => {
                // Redis is down: answer as a single replica would (buffer, or 503).
                tracing::warn!(%engine, error = %e, "cannot ask Redis where the engine is linked");
                None
            }
        }
    }

    /// Linked here or to another replica (`online` in engine listings).
    pub(crate) async fn linked_anywhere(&self, engine: EngineId) -> bool {
        self.link.is_online(engine) || self.holder_elsewhere(engine).await.is_some()
    }
}
