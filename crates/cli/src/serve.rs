//! `flowork serve <service>`: one service, as its own process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use flowork_kit::entry::{BoxError, ConfigArgs, default_addr, fail};
use flowork_kit::{CancellationToken, Config, ServiceName};
use serde_json::json;
use tokio::net::TcpListener;

pub(crate) fn main(
    args: &ConfigArgs,
    service: ServiceName,
    listen: Option<SocketAddr>,
) -> ExitCode {
    let section = service.as_str();
    let extra = match listen {
        Some(addr) => json!({ section: { "listen": addr } }),
        None => json!({}),
    };
    let cfg = match crate::up::load(args, extra) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    crate::up::runtime(async move {
        if !cfg.opens_port(service) {
            // An engine that dials out to its gateway and was given no address listens nowhere.
            let shutdown = flowork_kit::shutdown::on_signal();
            return match flowork_scheduler::start(Arc::new(cfg), None, shutdown).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&*e, 1),
            };
        }
        let addr = cfg
            .service_listen(service)
            .unwrap_or_else(|| default_addr(service));
        let listener = match flowork_kit::net::bind(&format!("{section}.listen"), addr).await {
            Ok(l) => l,
            Err(e) => return fail(&e, 2),
        };
        match start(
            service,
            Arc::new(cfg),
            listener,
            flowork_kit::shutdown::on_signal(),
        )
        .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&*e, 1),
        }
    })
}

/// Starts `service` standalone; the same function its `flowork-<service>` binary calls.
pub async fn start(
    service: ServiceName,
    cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    match service {
        ServiceName::Gateway => flowork_gateway::start(cfg, listener, shutdown).await,
        ServiceName::Scheduler => flowork_scheduler::start(cfg, Some(listener), shutdown).await,
        ServiceName::Store => flowork_store::start(cfg, listener, shutdown).await,
        ServiceName::Modules => flowork_modules::start(cfg, listener, shutdown).await,
        ServiceName::Inference => flowork_inference::start(cfg, listener, shutdown).await,
        ServiceName::Training => flowork_training::start(cfg, listener, shutdown).await,
        ServiceName::Sync => flowork_sync::start(cfg, listener, shutdown).await,
        ServiceName::License => flowork_license::start(cfg, listener, shutdown).await,
        ServiceName::Integrity => flowork_integrity::start(cfg, listener, shutdown).await,
    }
}
