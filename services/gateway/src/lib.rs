//! The gateway: Flowork's public edge (DESIGN §3).
//!
//! `/healthz`, `/readyz`, `/metrics`, the first-run admin account, the gateway's own REST API
//! (auth, users, API keys, engines; `api`), and EngineLink (`link`) on the same port: engines
//! dial in, their API is forwarded under `/api/v1/engines/{id}/...`, public webhooks under
//! `/webhook/{engine_id}/...` (buffered durably while the engine is away), live execution
//! events as SSE.

mod addresses;
mod admin;
pub mod api;
mod api_doc;
mod api_keys;
pub mod auth;
mod docs;
mod engines;
mod error;
mod health;
mod input;
mod keyfile;
mod link;
mod members;
mod permissions;
mod replicas;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use flowork_kit::entry::BoxError;
use flowork_kit::health::Probe;
use flowork_kit::{CancellationToken, Config, KitError, ServiceName};
use flowork_model::Timestamp;
use flowork_storage::{AccountStore, Store};
use tokio::net::TcpListener;

pub use admin::{AdminBootstrap, bootstrap_admin, print_generated};
pub use api_doc::openapi_document;
pub use auth::ratelimit::Limit;
pub use auth::{Caller, LoginLimits, Via};
pub use engines::{EnginePresence, NoPresence};
pub use error::GatewayError;
pub use keyfile::{GATEWAY_SECRET_ENV, KEY_FILE};
pub use link::LinkSettings;

/// How often expired refresh tokens are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What the gateway's handlers share.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    accounts: Arc<dyn AccountStore>,
    /// Services to report in `/healthz` (all of them under `flowork up`).
    probes: Arc<Vec<Probe>>,
    public_metrics: bool,
    cors_origins: Arc<Vec<String>>,
    auth: Arc<auth::Auth>,
    login_limits: Arc<auth::LoginLimiters>,
    request_limits: Arc<auth::ratelimit::RequestLimiters>,
    /// `online` in engine listings, when a test overrides the gateway's own answer.
    presence: Option<Arc<dyn EnginePresence>>,
    /// The EngineLink hub and what the gateway tracks about linked engines.
    link: Arc<link::Link>,
    /// The other replicas (with `gateway.redis_url`).
    replicas: Option<Arc<replicas::Replicas>>,
    /// Who may do what on which engine (cached a few seconds).
    permissions: Arc<flowork_access::Cached>,
    /// How long an address challenge may be answered.
    challenge_ttl: Duration,
}

impl Gateway {
    /// A gateway over `store` and `accounts` (one backend), reporting the health of `probes`.
    /// Reads the signing secret from `FLOWORK_GATEWAY_SECRET`, else `<data_dir>/gateway.key`
    /// (created on first start).
    pub async fn new(
        cfg: &Config,
        store: Arc<dyn Store>,
        accounts: Arc<dyn AccountStore>,
        probes: Vec<Probe>,
    ) -> Result<Self, GatewayError> {
        let secret = keyfile::load(&cfg.data_dir).await?;
        let g = &cfg.gateway;
        let auth = auth::Auth::new(
            &secret,
            Duration::from_secs(g.access_token_ttl_secs),
            Duration::from_secs(g.refresh_token_ttl_secs),
        );
        let settings = LinkSettings {
            forward_timeout: Duration::from_secs(g.forward_timeout_secs),
            webhook_max_body: g.webhook_max_body_bytes,
            ..LinkSettings::default()
        };
        let link = Arc::new(link::Link::new(settings, accounts.clone()));
        let replicas = replicas::Replicas::connect(g, &secret).await?.map(Arc::new);
        let permissions = permissions::cached(permissions::checker(cfg, &accounts)?);
        Ok(Self {
            permissions,
            challenge_ttl: addresses::CHALLENGE_TTL,
            store,
            presence: None,
            link,
            replicas,
            accounts,
            probes: Arc::new(probes),
            public_metrics: g.public_metrics,
            cors_origins: Arc::new(g.cors_origins.clone()),
            auth: Arc::new(auth),
            login_limits: Arc::new(auth::LoginLimiters::new(LoginLimits::default())),
            request_limits: Arc::new(auth::ratelimit::RequestLimiters::new(
                Limit::per_second(g.rate_limit_per_ip),
                Limit::per_second(g.rate_limit_per_key),
            )),
        })
    }

    /// Replaces the EngineLink settings (timeouts, webhook buffer limits; tests shorten them).
    /// Call before serving: it starts a fresh hub.
    pub fn with_link_settings(mut self, settings: LinkSettings) -> Self {
        self.link = Arc::new(link::Link::new(settings, self.accounts.clone()));
        self
    }

    /// The EngineLink hub engines dial into (served by [`run`] on the gateway's port).
    pub fn hub(&self) -> &flowork_link::Hub {
        &self.link.hub
    }

    /// Answers `online` in engine listings from `presence` instead of the gateway's own hub
    /// (and, with replicas, Redis).
    pub fn with_presence(mut self, presence: Arc<dyn EnginePresence>) -> Self {
        self.presence = Some(presence);
        self
    }

    /// Answers permission questions with `checker` (behind the usual short cache) instead of
    /// the one the config names: `flowork up` shares its license service's, tests swap in
    /// the gRPC client.
    pub fn with_permissions(mut self, checker: Arc<dyn flowork_access::PermissionChecker>) -> Self {
        self.permissions = permissions::cached(checker);
        self
    }

    /// Replaces how long an address challenge may be answered (tests shorten it).
    pub fn with_challenge_ttl(mut self, ttl: Duration) -> Self {
        self.challenge_ttl = ttl;
        self
    }

    /// Replaces the login rate limits (tests use tight ones).
    pub fn with_login_limits(mut self, limits: LoginLimits) -> Self {
        self.login_limits = Arc::new(auth::LoginLimiters::new(limits));
        self
    }

    /// Replaces the request rate limits (per client address, per caller; `None`: no limit).
    pub fn with_request_limits(mut self, per_ip: Option<Limit>, per_key: Option<Limit>) -> Self {
        self.request_limits = Arc::new(auth::ratelimit::RequestLimiters::new(per_ip, per_key));
        self
    }

    /// The account store (users, API keys, engines).
    pub fn accounts(&self) -> &Arc<dyn AccountStore> {
        &self.accounts
    }

    /// The gateway's HTTP routes, and the EngineLink gRPC service beside them (and, with
    /// replicas, the internal routes they call each other on).
    pub fn router(self) -> Router {
        let grpc = self.link.grpc_routes();
        let internal = self
            .replicas
            .is_some()
            .then(|| replicas::internal::routes().with_state(self.clone()));
        let app = api::router(self).merge(grpc);
        match internal {
            Some(internal) => app.merge(internal),
            None => app,
        }
    }

    /// Deletes expired refresh tokens, and buffered webhooks whose engine stayed away too
    /// long, every hour until `shutdown`.
    async fn purge_loop(self, shutdown: CancellationToken) {
        loop {
            match self.accounts.purge_refresh_tokens(Timestamp::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(count = n, "purged expired refresh tokens"),
                Err(e) => tracing::warn!(error = %e, "cannot purge expired refresh tokens"),
            }
            let keep =
                i64::try_from(self.link.settings.webhook_retention.as_millis()).unwrap_or(i64::MAX);
            let before = Timestamp(Timestamp::now().millis().saturating_sub(keep));
            match self.accounts.purge_webhooks(before).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "dropped buffered webhooks never delivered"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old buffered webhooks"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(PURGE_EVERY) => {}
            }
        }
    }
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn run(
    gw: Gateway,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), KitError> {
    if let (Some(r), Ok(addr)) = (&gw.replicas, listener.local_addr()) {
        r.bound(addr);
    }
    gw.mark_stored_backlogs().await;
    tokio::spawn(gw.clone().purge_loop(shutdown.clone()));
    tokio::spawn(gw.clone().keep_links(shutdown.clone()));
    let presence = gw.link.hub.presence();
    tokio::spawn(gw.clone().watch_links(presence, shutdown.clone()));
    let hub = gw.link.hub.clone();
    let closing = shutdown.clone();
    // Linked engines hold their stream open; end the links so the server can drain.
    tokio::spawn(async move {
        closing.cancelled().await;
        hub.close();
    });
    flowork_kit::server::serve(ServiceName::Gateway, listener, gw.router(), shutdown).await
}

/// The standalone gateway (`flowork-gateway`): its own database connection, no local services.
pub async fn start(
    cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let (store, accounts) = flowork_storage::open_with_accounts(&cfg).await?;
    if let AdminBootstrap::Generated(password) = bootstrap_admin(accounts.as_ref()).await? {
        print_generated(&password);
    }
    let gw = Gateway::new(&cfg, store, accounts, Vec::new()).await?;
    run(gw, listener, shutdown).await?;
    Ok(())
}
