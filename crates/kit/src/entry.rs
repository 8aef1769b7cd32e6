//! The shared `main()` of every `flowork-<service>` binary, and the config flags every command has.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use figment::providers::Serialized;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::KitError;
use crate::service::ServiceName;

/// Errors a service's `start` may return; printed as one line.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Flags that shape the configuration, shared by every Flowork command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// A TOML config file (also: FLOWORK_CONFIG). Env vars FLOWORK_<SECTION>__<KEY> override it.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML (secrets redacted) and exit.
    #[arg(long, global = true)]
    pub dump_config: bool,
    /// Where embedded state lives [default: ./.flowork]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: text or json [default: text]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or flowork_store=debug [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

impl ConfigArgs {
    /// Loads the config with these flags (plus `extra` overrides, as a partial config) on top.
    pub fn load(&self, extra: Value) -> Result<Config, KitError> {
        let mut flags = Map::new();
        if let Some(d) = &self.data_dir {
            flags.insert("data_dir".into(), json!(d));
        }
        let mut log = Map::new();
        if let Some(f) = &self.log_format {
            log.insert("format".into(), json!(f));
        }
        if let Some(l) = &self.log_level {
            log.insert("level".into(), json!(l));
        }
        if !log.is_empty() {
            flags.insert("log".into(), Value::Object(log));
        }
        if let Value::Object(extra) = extra {
            flags.extend(extra);
        }
        Config::load(
            self.config.as_deref(),
            Serialized::defaults(Value::Object(flags)),
        )
    }
}

/// Creates the data dir and proves it writable, so a bad one fails at start, naming `data_dir`.
pub fn ensure_data_dir(dir: &Path) -> Result<(), KitError> {
    let fail = |e: std::io::Error| KitError::DataDir {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

#[derive(Debug, Parser)]
struct ServiceCli {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on [default: 127.0.0.1:<the service's port>]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// Runs one service as its own process: flags, config, tracing, signals, bind, `start`.
/// Returns exit code 2 for bad configuration and 1 for a failure while serving.
pub fn service_main<F, Fut>(name: ServiceName, start: F) -> ExitCode
where
    F: FnOnce(Arc<Config>, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    main_with(name, true, |cfg, listener, shutdown| async move {
        match listener {
            Some(l) => start(cfg, l, shutdown).await,
            None => Err("no listener".into()),
        }
    })
}

/// As [`service_main`], for a service that may open no port ([`Config::opens_port`]): `start`
/// then gets `None`.
pub fn service_main_unbound<F, Fut>(name: ServiceName, start: F) -> ExitCode
where
    F: FnOnce(Arc<Config>, Option<TcpListener>, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    main_with(name, false, start)
}

fn main_with<F, Fut>(name: ServiceName, always_bind: bool, start: F) -> ExitCode
where
    F: FnOnce(Arc<Config>, Option<TcpListener>, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let bin = format!("flowork-{name}");
    let cli = ServiceCli::parse_from(
        std::env::args_os()
            .enumerate()
            .map(|(i, a)| if i == 0 { bin.clone().into() } else { a }),
    );
    let section = name.as_str();
    let extra = match cli.listen {
        Some(addr) if name == ServiceName::Gateway => json!({ "gateway": { "listen": addr } }),
        Some(addr) => json!({ section: { "listen": addr } }),
        None => json!({}),
    };
    let cfg = match cli.config.load(extra) {
        Ok(cfg) => cfg,
        Err(e) => return fail(&e, 2),
    };
    if cli.config.dump_config {
        return match cfg.dump() {
            Ok(s) => {
                print!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 2),
        };
    }
    crate::telemetry::init_tracing(&cfg.log);
    // Before any port or state is touched: a tampered install must not get that far.
    if let Err(e) = crate::integrity::boot(&cfg.integrity) {
        return fail(&e, 1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    runtime.block_on(async move {
        crate::integrity::spawn_recheck();
        let listener = if always_bind || cfg.opens_port(name) {
            let addr = cfg
                .service_listen(name)
                .unwrap_or_else(|| default_addr(name));
            match crate::net::bind(&format!("{section}.listen"), addr).await {
                Ok(l) => Some(l),
                Err(e) => return fail(&e, 2),
            }
        } else {
            None
        };
        let shutdown = crate::shutdown::on_signal();
        match start(Arc::new(cfg), listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&*e, 1),
        }
    })
}

/// `127.0.0.1:<default port>`.
pub fn default_addr(name: ServiceName) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], name.default_port()))
}

/// Prints `error: <message>` as one line and returns the exit code.
pub fn fail(e: &(dyn std::error::Error + '_), code: u8) -> ExitCode {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    eprintln!("error: {}", msg.replace('\n', " "));
    ExitCode::from(code)
}
