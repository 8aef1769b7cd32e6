//! `flowork up`: every service in one process, each on its own loopback port, sharing one store.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowork_gateway::{AdminBootstrap, Gateway};
use flowork_kit::entry::{BoxError, ConfigArgs, ensure_data_dir, fail};
use flowork_kit::health::Probe;
use flowork_kit::{CancellationToken, Config, ServiceName};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long `/healthz` waits for each service.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn main(args: &ConfigArgs, port: Option<u16>) -> ExitCode {
    let extra = match port {
        Some(p) => json!({ "gateway": { "listen": SocketAddr::from(([127, 0, 0, 1], p)) } }),
        None => json!({}),
    };
    let cfg = match load(args, extra) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => return ExitCode::SUCCESS,
        Err(code) => return code,
    };
    if let Err(e) = ensure_data_dir(&cfg.data_dir) {
        return fail(&e, 2);
    }
    runtime(up(Arc::new(cfg)))
}

/// Loads the config and handles `--dump-config`. `Ok(None)`: nothing more to do.
pub fn load(args: &ConfigArgs, extra: Value) -> Result<Option<Config>, ExitCode> {
    let cfg = args.load(extra).map_err(|e| fail(&e, 2))?;
    if args.dump_config {
        let dumped = cfg.dump().map_err(|e| fail(&e, 2))?;
        print!("{dumped}");
        return Ok(None);
    }
    flowork_kit::telemetry::init_tracing(&cfg.log);
    // `flowork up` and `flowork serve` check their executable like every service binary.
    flowork_kit::integrity::boot(&cfg.integrity).map_err(|e| fail(&e, 1))?;
    Ok(Some(cfg))
}

/// Runs `fut` on a multi-threaded tokio runtime.
pub fn runtime(fut: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async move {
            flowork_kit::integrity::spawn_recheck();
            fut.await
        }),
        Err(e) => fail(&e, 1),
    }
}

async fn up(cfg: Arc<Config>) -> ExitCode {
    let started = Instant::now();
    let stack = match launch(cfg.clone(), flowork_kit::shutdown::on_signal()).await {
        Ok(stack) => stack,
        Err(e) => return fail(&*e.error, e.exit_code),
    };
    banner(&cfg, &stack, started.elapsed());
    let code = stack.wait().await;
    if code == ExitCode::SUCCESS {
        // Not println!: stdout may be a closed pipe by now, and that must not turn into a panic.
        let _ = writeln!(std::io::stdout(), "Flowork stopped.");
    }
    code
}

/// Every service of one `flowork up`, running.
pub struct Stack {
    /// Where the gateway listens (the port is real even when `gateway.listen` asked for 0).
    pub gateway_addr: SocketAddr,
    /// Which database the store uses.
    pub backend: flowork_storage::Backend,
    /// What happened to the admin account at start.
    pub admin: AdminBootstrap,
    /// Where each private service listens (ephemeral loopback ports unless configured).
    pub services: Vec<(ServiceName, SocketAddr)>,
    /// The local engine's id at the gateway (registered on first run; linked over EngineLink).
    pub engine_id: flowork_model::EngineId,
    tasks: JoinSet<(ServiceName, Result<(), BoxError>)>,
    shutdown: CancellationToken,
}

/// Why the stack did not start, and the exit code that says so.
#[derive(Debug)]
pub struct LaunchError {
    pub error: BoxError,
    /// 2 for configuration (port in use, bad database URL), 1 otherwise.
    pub exit_code: u8,
}

fn launch_err(exit_code: u8) -> impl FnOnce(BoxError) -> LaunchError {
    move |error| LaunchError { error, exit_code }
}

/// Starts every service. Cancel `shutdown` to stop them, then [`Stack::wait`].
pub async fn launch(cfg: Arc<Config>, shutdown: CancellationToken) -> Result<Stack, LaunchError> {
    // The embedded development default takes unsigned saves unless the config says otherwise.
    let cfg = match cfg.versions.require_signed {
        Some(_) => cfg,
        None => {
            let mut c = (*cfg).clone();
            c.versions.require_signed = Some(false);
            Arc::new(c)
        }
    };
    // Bind every port before touching any state, so a port in use fails fast and cleanly.
    let gateway = flowork_kit::net::bind("gateway.listen", cfg.gateway.listen)
        .await
        .map_err(|e| launch_err(2)(e.into()))?;
    let gateway_addr = gateway.local_addr().map_err(|e| launch_err(1)(e.into()))?;
    let mut internal = Vec::new();
    for name in ServiceName::ALL
        .into_iter()
        .filter(|n| *n != ServiceName::Gateway)
    {
        let addr = cfg
            .service_listen(name)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = flowork_kit::net::bind(&format!("{name}.listen"), addr)
            .await
            .map_err(|e| launch_err(2)(e.into()))?;
        internal.push((name, listener));
    }
    let (store, accounts) =
        flowork_storage::connect_with_accounts(&cfg.database_url(), cfg.database.max_connections)
            .await
            .map_err(|e| launch_err(2)(e.into()))?;
    let admin = flowork_gateway::bootstrap_admin(store.as_ref())
        .await
        .map_err(|e| launch_err(1)(e.into()))?;
    // A token file others can read stops start-up here (exit 2); other failures are the store's.
    let local = crate::local_engine::ensure(accounts.as_ref(), &cfg.data_dir)
        .await
        .map_err(|e| {
            let code = if e.is::<flowork_kit::KitError>() {
                2
            } else {
                1
            };
            launch_err(code)(e)
        })?;
    if cfg.scheduler.gateway_url.is_some() {
        tracing::warn!(
            "scheduler.gateway_url is ignored by flowork up: its engine links to its own gateway"
        );
    }
    let link = flowork_scheduler::link::LinkSettings {
        gateway_url: format!("http://{}", dial_addr(gateway_addr)),
        engine_id: local.id.to_string(),
        token: local.token,
    };
    // Opens the vault: a master key that does not fit the stored credentials stops start-up here.
    let engine = flowork_scheduler::prepare(&cfg, store.clone())
        .await
        .map_err(|e| launch_err(2)(e.into()))?;
    // One permission checker for the stack: the gateway asks it in-process, and the license
    // service answers other callers with it. A license file that does not verify stops here.
    let license =
        flowork_access::load_license(&cfg.license).map_err(|e| launch_err(2)(e.into()))?;
    let checker: Arc<dyn flowork_access::PermissionChecker> =
        Arc::new(flowork_access::LocalChecker::new(license, accounts.clone()));
    let shared = Shared {
        cfg: &cfg,
        store: &store,
        checker: &checker,
        engine: &engine,
        link: &link,
        shutdown: &shutdown,
    };

    let mut tasks: JoinSet<(ServiceName, Result<(), BoxError>)> = JoinSet::new();
    let mut probes = Vec::new();
    let services = internal
        .iter()
        .filter_map(|(n, l)| l.local_addr().ok().map(|a| (*n, a)))
        .collect();
    for (name, listener) in internal {
        spawn_service(&mut tasks, &mut probes, name, listener, &shared);
    }
    // A gateway.key with a lax mode or an unusable FLOWORK_GATEWAY_SECRET is a setup error.
    let gw = Gateway::new(&cfg, store.clone(), accounts, probes)
        .await
        .map_err(|e| launch_err(2)(e.into()))?
        .with_permissions(checker.clone());
    let token = shutdown.clone();
    tasks.spawn(async move {
        (
            ServiceName::Gateway,
            flowork_gateway::run(gw, gateway, token)
                .await
                .map_err(Into::into),
        )
    });
    Ok(Stack {
        gateway_addr,
        backend: store.backend(),
        admin,
        services,
        engine_id: local.id,
        tasks,
        shutdown,
    })
}

/// Where to reach a listener bound to `addr`: an unspecified IP (`0.0.0.0`) means loopback.
fn dial_addr(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// What the services of one stack share.
struct Shared<'a> {
    cfg: &'a Arc<Config>,
    store: &'a Arc<dyn flowork_storage::Store>,
    /// Who may do what (the license library over the stack's accounts).
    checker: &'a Arc<dyn flowork_access::PermissionChecker>,
    engine: &'a flowork_scheduler::Engine,
    /// How the engine links to this stack's gateway.
    link: &'a flowork_scheduler::link::LinkSettings,
    shutdown: &'a CancellationToken,
}

fn spawn_service(
    tasks: &mut JoinSet<(ServiceName, Result<(), BoxError>)>,
    probes: &mut Vec<Probe>,
    name: ServiceName,
    listener: TcpListener,
    shared: &Shared<'_>,
) {
    match listener
        .local_addr()
        .map_err(|e| e.to_string())
        .and_then(|a| Probe::new(name, a, PROBE_TIMEOUT))
    {
        Ok(p) => probes.push(p),
        Err(e) => tracing::warn!(service = %name, error = %e, "no health probe"),
    }
    let (cfg, store, token) = (
        shared.cfg.clone(),
        shared.store.clone(),
        shared.shutdown.clone(),
    );
    let engine = shared.engine.clone();
    let link = shared.link.clone();
    let checker = shared.checker.clone();
    tasks.spawn(async move {
        let res = match name {
            // Under `flowork up` the store and the engine share the process's one store.
            ServiceName::Store => flowork_store::run(store, listener, token)
                .await
                .map_err(Into::into),
            // The engine API on loopback (health probes, local tools) and over EngineLink.
            ServiceName::Scheduler => {
                flowork_scheduler::serve(&cfg, engine, Some(listener), Some(link), token)
                    .await
                    .map_err(Into::into)
            }
            // The license service answers with the stack's checker (no second database handle).
            ServiceName::License => flowork_license::run(checker, listener, token).await,
            other => crate::serve::start(other, cfg, listener, token).await,
        };
        (name, res)
    });
}

impl Stack {
    /// Waits for every service; the first one to stop (or fail) stops the rest.
    pub async fn wait(self) -> ExitCode {
        supervise(self.tasks, self.shutdown).await
    }
}

/// Waits for every service; the first one to stop (or fail) stops the rest.
async fn supervise(
    mut tasks: JoinSet<(ServiceName, Result<(), BoxError>)>,
    shutdown: CancellationToken,
) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(()))) if shutdown.is_cancelled() => {}
            Ok((name, Ok(()))) => {
                eprintln!("error: {name} stopped unexpectedly; stopping everything");
                code = ExitCode::FAILURE;
            }
            Ok((name, Err(e))) => {
                eprintln!("error: {name}: {e}");
                code = ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("error: a service task panicked: {e}");
                code = ExitCode::FAILURE;
            }
        }
        shutdown.cancel();
    }
    code
}

fn banner(cfg: &Config, stack: &Stack, took: Duration) {
    let data_dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    println!(
        "Flowork {} is up ({} ms)",
        flowork_kit::VERSION,
        took.as_millis()
    );
    println!(
        "  URL:      http://{}  (health: /healthz, API docs: /api/openapi.json)",
        stack.gateway_addr
    );
    let gw = format!("http://{}", dial_addr(stack.gateway_addr));
    let id = &stack.engine_id;
    println!("  Engine:   {id}  (this machine's engine, linked to the gateway)");
    println!("            workflows: {gw}/api/v1/engines/{id}/workflows");
    println!("            webhooks:  {gw}/webhook/{id}/<path>");
    if let Some((_, engine)) = stack
        .services
        .iter()
        .find(|(n, _)| *n == ServiceName::Scheduler)
    {
        // Loopback only, without auth: for health probes and tools on this machine.
        println!("  Engine API (loopback): http://{engine}/api/v1  (API docs: /api/openapi.json)");
    }
    println!("  Data dir: {}", data_dir.display());
    println!("  Database: {:?}", stack.backend);
    match &stack.admin {
        AdminBootstrap::Generated(password) => flowork_gateway::print_generated(password.as_str()),
        AdminBootstrap::FromEnv => {
            println!("  Login:    admin (password from FLOWORK_ADMIN_PASSWORD)")
        }
        AdminBootstrap::Existing => {}
    }
    println!("Press Ctrl-C to stop.");
}
