//! Flowork's one typed configuration.
//!
//! Layers, later wins: built-in defaults → a TOML file (`--config`, or `FLOWORK_CONFIG`) →
//! environment variables `FLOWORK_<SECTION>__<KEY>` (e.g. `FLOWORK_DATABASE__URL`) → command-line
//! flags. Unknown keys are errors, so a typo never silently falls back to a default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::KitError;
use crate::integrity::IntegrityConfig;
use crate::service::ServiceName;

mod versions;
pub use versions::VersionsConfig;

/// Environment variables with the `FLOWORK_` prefix that are not config keys.
/// (Secrets stay out of the config, so `--dump-config` can never print them.)
const NOT_CONFIG_ENV: [&str; 10] = [
    "admin_password",
    // Read at build time (the pinned key), and harmless if also set when running.
    "integrity_pubkey",
    "config",
    "master_key",
    "gateway_secret",
    "engine_token",
    // `flowork key`: the author keystore's passphrase and (tests only) its scrypt cost.
    "key_passphrase",
    "key_scrypt_log_n",
    // `flowork workflow push` / `chain export`: the gateway credential and a direct engine URL.
    "api_token",
    "engine_url",
];

/// The whole configuration of every service (each reads its own section).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where embedded state lives: the SQLite file, modules, models, artifacts.
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub gateway: GatewayConfig,
    pub scheduler: SchedulerConfig,
    pub store: ServiceConfig,
    pub modules: ServiceConfig,
    pub inference: ServiceConfig,
    pub training: ServiceConfig,
    pub sync: ServiceConfig,
    pub license: LicenseConfig,
    pub integrity: IntegrityConfig,
    pub versions: VersionsConfig,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `flowork_store=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://<path>` or `postgres://user:pass@host:port/db`. Unset: SQLite at
    /// `<data_dir>/flowork.db`.
    pub url: Option<String>,
    /// Pool size (Postgres) or reader connections (SQLite).
    pub max_connections: usize,
}

/// `[gateway]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// The public HTTP address (REST, webhooks, EngineLink).
    pub listen: SocketAddr,
    /// Serve `/metrics` without auth.
    pub public_metrics: bool,
    /// Lifetime of an access token (a JWT), in seconds. Short: a logout cannot recall one.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds; each refresh issues a new one for this long.
    pub refresh_token_ttl_secs: u64,
    /// Origins allowed to call the API from a browser (`https://app.example`, or `*`). Empty:
    /// no CORS headers, so browsers allow same-origin calls only.
    pub cors_origins: Vec<String>,
    /// Longest a request forwarded to an engine (API call or webhook) waits for its answer
    /// before the caller gets 504, in seconds.
    pub forward_timeout_secs: u64,
    /// Largest webhook body the gateway buffers for an offline engine (413 above it).
    pub webhook_max_body_bytes: usize,
    /// `redis://...` shared by several gateway replicas: which replica holds which engine's
    /// link. Unset: a single gateway, no Redis.
    pub redis_url: Option<String>,
    /// How the other replicas reach this one over HTTP (`http://10.0.0.5:8000`). Unset: from
    /// the address it listens on (which must then not be 0.0.0.0 / [::]).
    pub advertise_url: Option<String>,
    /// The license service that answers permission checks (`http://127.0.0.1:7106`). Unset:
    /// the gateway checks in-process, with the license of `[license]` and its own database.
    pub license_url: Option<String>,
    /// Prefix of the gateway's Redis keys (replicas of one deployment share it).
    pub redis_prefix: String,
    /// Requests per second one client address may make (bursts of twice that), webhooks and
    /// login included, health excluded; 429 + Retry-After beyond. `0`: no limit.
    pub rate_limit_per_ip: u32,
    /// Requests per second one caller (an API key, or a user's access tokens) may make on
    /// authenticated routes (bursts of twice that). `0`: no limit.
    pub rate_limit_per_key: u32,
}

/// `[scheduler]`: the engine's workers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Where the engine API and health listen (private). Unset: as for other services, except
    /// that an engine with a `gateway_url` then opens no port at all (DESIGN §2).
    pub listen: Option<SocketAddr>,
    /// The gateway this engine dials out to over EngineLink (`https://gw.example.com`). Unset:
    /// no link; the engine API is served on `listen` only.
    pub gateway_url: Option<String>,
    /// This engine's id at the gateway (`POST /api/v1/engines` gives it); needed with
    /// `gateway_url`. The token comes from `FLOWORK_ENGINE_TOKEN` or `<data_dir>/engine.token`.
    pub engine_id: Option<String>,
    /// The store service this engine keeps its state in (`http://127.0.0.1:7101`). Unset: the
    /// engine opens `database.url` itself. `flowork up` ignores it (its engine shares its store).
    pub store_url: Option<String>,
    /// Executions one process drives at once.
    pub concurrency: usize,
    /// How long a worker holds a job without renewing it; a dead worker's executions resume
    /// elsewhere after this.
    pub lease_ms: u64,
    /// `redis://...` to share the work queue among many schedulers (Redis Streams). Unset: the
    /// embedded queue in the database.
    pub redis_url: Option<String>,
    /// Execution history retention: finished executions (succeeded, failed, cancelled, ...) are
    /// deleted with their node runs this many days after they finished. `0` keeps them forever.
    /// Queued, running and waiting executions are never deleted, however old.
    pub retention_days: u32,
}

impl SchedulerConfig {
    /// Whether the engine opens a port: not when it dials out to a gateway and no `listen` was
    /// asked for (the gateway is then its only way in).
    pub fn opens_port(&self) -> bool {
        self.listen.is_some() || self.gateway_url.is_none()
    }

    /// `gateway_url` and `engine_id` come together, and each must be usable.
    fn validate_link(&self) -> Result<(), KitError> {
        match (&self.gateway_url, &self.engine_id) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(KitError::Config(
                "scheduler.engine_id is required with scheduler.gateway_url".into(),
            )),
            (None, Some(_)) => Err(KitError::Config(
                "scheduler.gateway_url is required with scheduler.engine_id".into(),
            )),
            (Some(url), Some(id)) => {
                match url::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    _ => {
                        return Err(KitError::Config(format!(
                            "scheduler.gateway_url = {:?}: expected http(s)://host[:port]",
                            redact_password(url)
                        )));
                    }
                }
                // It travels as gRPC metadata, so it must be a plain visible-ASCII token.
                let plain = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
                if id.is_empty() || id.len() > 128 || !id.chars().all(plain) {
                    return Err(KitError::Config(format!(
                        "scheduler.engine_id = {id:?}: expected an engine id such as eng_…"
                    )));
                }
                Ok(())
            }
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            gateway_url: None,
            engine_id: None,
            store_url: None,
            concurrency: 64,
            lease_ms: 60_000,
            redis_url: None,
            retention_days: 30,
        }
    }
}

/// `[store]`, `[modules]`, ...: a private gRPC service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Where the service listens. Unset: `127.0.0.1:<its default port>` when run alone, and an
    /// ephemeral loopback port under `flowork up`.
    pub listen: Option<SocketAddr>,
}

/// `[license]`: the license service, and the license file every checker of this process uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LicenseConfig {
    /// Where the license service listens (as for every private service).
    pub listen: Option<SocketAddr>,
    /// A signed license file (`flowork license issue`). Unset: the open-core default, tier
    /// `architect` with every capability.
    pub file: Option<PathBuf>,
    /// The Ed25519 public key (64 hex digits) license files must be signed with. Unset: the
    /// key compiled in (`FLOWORK_LICENSE_PUBKEY=<hex> cargo build`).
    pub public_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".flowork"),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            gateway: GatewayConfig::default(),
            scheduler: SchedulerConfig::default(),
            store: ServiceConfig::default(),
            modules: ServiceConfig::default(),
            inference: ServiceConfig::default(),
            training: ServiceConfig::default(),
            sync: ServiceConfig::default(),
            license: LicenseConfig::default(),
            integrity: IntegrityConfig::default(),
            versions: VersionsConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
        Self {
            listen: addr,
            public_metrics: true,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 86_400,
            cors_origins: Vec::new(),
            forward_timeout_secs: 300,
            webhook_max_body_bytes: 16 * 1024 * 1024,
            redis_url: None,
            advertise_url: None,
            license_url: None,
            redis_prefix: "flowork:gateway".to_owned(),
            rate_limit_per_ip: 1000,
            rate_limit_per_key: 300,
        }
    }
}

impl GatewayConfig {
    /// The replica settings: a usable Redis URL, and a way for other replicas to reach this one.
    fn validate_replicas(&self) -> Result<(), KitError> {
        let Some(url) = &self.redis_url else {
            return Ok(());
        };
        if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss")) {
            return Err(KitError::Config(format!(
                "gateway.redis_url = {:?}: expected redis://host:port/",
                redact_password(url)
            )));
        }
        match &self.advertise_url {
            Some(a) => match url::Url::parse(a) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
                _ => Err(KitError::Config(format!(
                    "gateway.advertise_url = {a:?}: expected http(s)://host:port"
                ))),
            },
            None if self.listen.ip().is_unspecified() => Err(KitError::Config(format!(
                "gateway.advertise_url is required with gateway.redis_url when gateway.listen \
                 is {} (other replicas cannot reach an unspecified address)",
                self.listen
            ))),
            None => Ok(()),
        }
    }
}

impl Config {
    /// Loads the layers. `file` is an explicit `--config`; `overrides` are flags, as a partial
    /// config (only the keys the user set).
    pub fn load(
        file: Option<&Path>,
        overrides: Serialized<serde_json::Value>,
    ) -> Result<Self, KitError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("FLOWORK_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(KitError::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("FLOWORK_").split("__").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            !(NOT_CONFIG_ENV.contains(&k.as_str()) || k.starts_with("test_"))
        });
        let cfg: Config = fig
            .merge(env)
            .merge(overrides)
            .extract()
            .map_err(figment_error)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what serde can't: URLs and value ranges.
    pub fn validate(&self) -> Result<(), KitError> {
        if let Some(url) = &self.database.url {
            check_database_url(url)?;
        }
        if self.scheduler.concurrency == 0 {
            return Err(KitError::Config(
                "scheduler.concurrency must be at least 1".into(),
            ));
        }
        if self.scheduler.lease_ms < 1_000 {
            return Err(KitError::Config(
                "scheduler.lease_ms must be at least 1000".into(),
            ));
        }
        if let Some(url) = &self.scheduler.redis_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "redis" | "rediss") => {}
                _ => {
                    return Err(KitError::Config(format!(
                        "scheduler.redis_url = {:?}: expected redis://host:port/",
                        redact_password(url)
                    )));
                }
            }
        }
        self.scheduler.validate_link()?;
        if let Some(url) = &self.scheduler.store_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(KitError::Config(format!(
                        "scheduler.store_url = {:?}: expected http(s)://host:port",
                        redact_password(url)
                    )));
                }
            }
        }
        self.gateway.validate_replicas()?;
        if !(60..=86_400).contains(&self.gateway.access_token_ttl_secs) {
            return Err(KitError::Config(
                "gateway.access_token_ttl_secs must be between 60 and 86400".into(),
            ));
        }
        if self.gateway.refresh_token_ttl_secs < self.gateway.access_token_ttl_secs {
            return Err(KitError::Config(
                "gateway.refresh_token_ttl_secs must be at least gateway.access_token_ttl_secs"
                    .into(),
            ));
        }
        if !(1..=3600).contains(&self.gateway.forward_timeout_secs) {
            return Err(KitError::Config(
                "gateway.forward_timeout_secs must be between 1 and 3600".into(),
            ));
        }
        if !(1..=1 << 30).contains(&self.gateway.webhook_max_body_bytes) {
            return Err(KitError::Config(
                "gateway.webhook_max_body_bytes must be between 1 and 1073741824".into(),
            ));
        }
        if let Some(bad) =
            self.gateway.cors_origins.iter().find(|o| {
                o.as_str() != "*" && !(o.starts_with("http://") || o.starts_with("https://"))
            })
        {
            return Err(KitError::Config(format!(
                "gateway.cors_origins: {bad:?} is not an origin (https://host[:port] or *)"
            )));
        }
        if self.database.max_connections == 0 {
            return Err(KitError::Config(
                "database.max_connections must be at least 1".into(),
            ));
        }
        self.integrity.validate()?;
        self.versions.validate()?;
        if let Some(k) = &self.license.public_key {
            flowork_manifest::PublicKey::parse_hex(k, "license.public_key")
                .map_err(|e| KitError::Config(e.to_string()))?;
        }
        if let Some(url) = &self.gateway.license_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(KitError::Config(format!(
                        "gateway.license_url = {:?}: expected http(s)://host:port",
                        redact_password(url)
                    )));
                }
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| KitError::Config(format!("log.level = {:?}: {e}", self.log.level)))?;
        Ok(())
    }

    /// The database URL to use: the configured one, else SQLite under the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("flowork.db").display()),
        }
    }

    /// Whether `name` opens a port at all (every service but an engine that only dials out).
    pub fn opens_port(&self, name: ServiceName) -> bool {
        name != ServiceName::Scheduler || self.scheduler.opens_port()
    }

    /// The configured address of a private service, if any.
    pub fn service_listen(&self, name: ServiceName) -> Option<SocketAddr> {
        match name {
            ServiceName::Gateway => Some(self.gateway.listen),
            ServiceName::Scheduler => self.scheduler.listen,
            ServiceName::Store => self.store.listen,
            ServiceName::Modules => self.modules.listen,
            ServiceName::Inference => self.inference.listen,
            ServiceName::Training => self.training.listen,
            ServiceName::Sync => self.sync.listen,
            ServiceName::License => self.license.listen,
            ServiceName::Integrity => self.integrity.listen,
        }
    }

    /// The config as TOML with secrets (database password) redacted, for `--dump-config`.
    pub fn dump(&self) -> Result<String, KitError> {
        let mut shown = self.clone();
        shown.database.url = shown.database.url.as_deref().map(redact_password);
        shown.scheduler.redis_url = shown.scheduler.redis_url.as_deref().map(redact_password);
        shown.gateway.redis_url = shown.gateway.redis_url.as_deref().map(redact_password);
        shown.scheduler.gateway_url = shown.scheduler.gateway_url.as_deref().map(redact_password);
        shown.scheduler.store_url = shown.scheduler.store_url.as_deref().map(redact_password);
        toml::to_string_pretty(&shown).map_err(|e| KitError::Config(e.to_string()))
    }
}

fn check_database_url(raw: &str) -> Result<(), KitError> {
    let bad =
        |why: &str| KitError::Config(format!("database.url = {:?}: {why}", redact_password(raw)));
    if let Some(path) = raw.strip_prefix("sqlite://") {
        return if path.is_empty() {
            Err(bad("the SQLite path is empty"))
        } else {
            Ok(())
        };
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "postgres" | "postgresql" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "postgres" | "postgresql" => Err(bad("a Postgres URL needs a host")),
        other => Err(bad(&format!(
            "unsupported scheme {other:?}; use sqlite://<path> or postgres://..."
        ))),
    }
}

/// `scheme://user:***@host/...`: a URL safe to print.
pub fn redact_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// One line naming the key and where its value came from.
fn figment_error(e: figment::Error) -> KitError {
    let Some(e) = e.into_iter().next() else {
        return KitError::Config("invalid configuration".to_owned());
    };
    let key = e.path.join(".");
    let from = match &e.metadata {
        Some(m) if m.name.contains("environment") && !key.is_empty() => {
            format!(
                " (from env FLOWORK_{})",
                e.path.join("__").to_ascii_uppercase()
            )
        }
        Some(m) => match &m.source {
            Some(src) => format!(" (from {src})"),
            None => format!(" (from {})", m.name),
        },
        None => String::new(),
    };
    let key = if key.is_empty() {
        key
    } else {
        format!("{key}: ")
    };
    KitError::Config(format!("{key}{}{from}", e.kind))
}

#[cfg(test)]
mod tests;
