//! The `flowork` command line as a library: the binary is one call to [`main`], and tests start
//! the whole stack in-process with [`up::launch`].

pub mod chain;
pub mod fac;
pub mod integrity;
pub mod key;
pub mod license;
pub mod local_engine;
pub mod remote;
pub mod serve;
pub mod up;
pub mod workflow;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowork_kit::ServiceName;
use flowork_kit::entry::ConfigArgs;

/// Flowork: self-hosted workflow automation with a private core and a public edge.
#[derive(Debug, Parser)]
#[command(name = "flowork", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process on loopback, with SQLite under the data dir.
    ///
    /// No Redis or Docker needed. On first run it creates the user `admin` (password from
    /// FLOWORK_ADMIN_PASSWORD, else generated and printed once). Ctrl-C stops everything.
    Up {
        /// Port of the gateway (the only address you need) [default: 8000]
        #[arg(long, short = 'p')]
        port: Option<u16>,
    },
    /// Run one service as its own process (production layout).
    Serve {
        /// gateway, scheduler, store, modules, inference, training, sync, license or integrity
        service: ServiceName,
        /// Address to listen on [default: 127.0.0.1:<the service's port>]
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Print the OpenAPI 3.1 document of the whole API (gateway and engine routes) as JSON.
    ///
    /// The same document the gateway serves at /api/openapi.json, with a docs page at /docs.
    Openapi,
    /// Signed integrity manifests (integrity.json): keygen, build, verify.
    ///
    /// Every service checks its executable and the files its manifest lists at boot
    /// (integrity.mode = strict, warn or off).
    Integrity {
        #[command(subcommand)]
        command: integrity::Command,
    },
    /// FAC capability tokens: `issue` signs one with the engine's key, `inspect` verifies one.
    #[command(subcommand)]
    Fac(fac::FacCommand),
    /// Workflows on an engine: `push` signs a document locally and saves it as the next version.
    Workflow {
        #[command(subcommand)]
        command: workflow::WorkflowCommand,
    },
    /// The signed flow-chain (every saved version of a workflow, signed by its author and linked
    /// by hash): `export` one from an engine, `verify` an export offline.
    Chain {
        #[command(subcommand)]
        command: chain::ChainCommand,
    },
    /// License files (Ed25519-signed tier, capabilities, seats, expiry): keygen, issue,
    /// inspect, verify. Without one (license.file unset) everything is licensed (open core).
    License {
        #[command(subcommand)]
        command: license::Command,
    },
    /// The author key that signs workflow versions (an encrypted Ethereum keystore v3 file).
    Key(key::KeyArgs),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up { port } => up::main(&cli.config, port),
        Command::Serve { service, listen } => serve::main(&cli.config, service, listen),
        Command::Integrity { command } => integrity::main(&cli.config, command),
        Command::Fac(cmd) => match cli.config.load(serde_json::json!({})) {
            Ok(cfg) => fac::main(&cfg.data_dir, cmd),
            Err(e) => flowork_kit::entry::fail(&e, 2),
        },
        Command::Chain { command } => chain::main(&cli.config, command),
        Command::Workflow { command } => workflow::main(&cli.config, command),
        Command::Key(args) => key::main(&cli.config, args),
        Command::License { command } => license::main(&cli.config, command),
        Command::Openapi => {
            let doc = flowork_gateway::openapi_document();
            match serde_json::to_string_pretty(doc) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: could not render the OpenAPI document: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
