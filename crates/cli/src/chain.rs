//! `flowork chain export WORKFLOW_ID DIR`: writes a workflow's flow-chain from the engine;
//! `flowork chain verify DIR`: checks an exported chain and names the first bad version.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use flowork_flowchain::{ChainReport, ChainStatus, flowork_py};
use flowork_kit::entry::ConfigArgs;
use reqwest::StatusCode;

use crate::remote::{EngineArgs, EngineClient, RemoteError};

/// `flowork chain …`
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Write a workflow's chain from the engine into DIR: one file per version, 000001.json, …,
    /// each exactly the record's canonical bytes (DIR is created; one holding a chain is
    /// refused). Check it with `flowork chain verify DIR`, here or anywhere.
    Export {
        /// The workflow (wf_…)
        workflow: String,
        /// The directory to write
        dir: PathBuf,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Verify an exported chain: versions 1..N in order, each linked to the hash of the one
    /// before, each signed by its author_id.
    ///
    /// Prints one line per problem and a summary. Exit status: 0 valid; 1 invalid or unsigned
    /// versions (the first bad version is named); 2 usage or I/O error.
    Verify {
        /// The export directory (000001.json, … or, for flowork-py, v{N}_{timestamp}.json)
        dir: PathBuf,
        /// flowork: this Flowork's export; flowork-py: the original Python Flowork's files
        #[arg(long, value_enum, default_value_t = Format::Flowork)]
        format: Format,
    },
}

/// Which exporter wrote the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `NNNNNN.json` files holding canonical version records (DESIGN §5).
    Flowork,
    /// `v{N}_{timestamp}.json` files of the Python Flowork.
    FloworkPy,
}

pub(crate) fn main(config: &ConfigArgs, command: ChainCommand) -> ExitCode {
    match command {
        ChainCommand::Verify { dir, format } => verify(&dir, format),
        ChainCommand::Export {
            workflow,
            dir,
            engine,
        } => match export(config, &workflow, &dir, &engine) {
            Ok(n) => {
                println!(
                    "wrote {n} versions to {}; check them with `flowork chain verify {}`",
                    dir.display(),
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => flowork_kit::entry::fail(&e, 1),
        },
    }
}

fn export(
    config: &ConfigArgs,
    workflow: &str,
    dir: &Path,
    engine: &EngineArgs,
) -> Result<usize, RemoteError> {
    let id: flowork_model::WorkflowId = workflow
        .parse()
        .map_err(|e| RemoteError::Input(format!("{workflow:?}: {e}")))?;
    let client = EngineClient::new(config, engine)?;
    let archive = crate::remote::runtime()?.block_on(async {
        let answer = client.get(&format!("/workflows/{id}/chain/export")).await?;
        client.expect(StatusCode::OK, answer)
    })?;
    Ok(flowork_flowchain::unpack_tar(&archive, dir)?)
}

fn verify(dir: &Path, format: Format) -> ExitCode {
    let report = match format {
        Format::Flowork => flowork_flowchain::verify_dir(dir),
        Format::FloworkPy => flowork_py::verify_dir(dir),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return flowork_kit::entry::fail(&e, 2),
    };
    let (lines, code) = render(dir, &report);
    for line in lines {
        println!("{line}");
    }
    ExitCode::from(code)
}

/// The lines to print and the exit status for a report.
pub(crate) fn render(dir: &Path, report: &ChainReport) -> (Vec<String>, u8) {
    let mut lines: Vec<String> = report
        .problems
        .iter()
        .map(|p| format!("version {}: {}", p.version, p.problem))
        .collect();
    lines.extend(
        report
            .unsigned
            .iter()
            .map(|v| format!("version {v}: unsigned")),
    );
    let n = report.versions;
    let (summary, code) = match &report.status {
        ChainStatus::Valid => {
            let head = report.head.map(|h| h.to_string()).unwrap_or_default();
            (format!("valid: {n} versions, all signed; head {head}"), 0)
        }
        ChainStatus::Unsigned { first, count } => (
            format!(
                "not verified: {count} of {n} versions are unsigned (first: version {first}); links are intact"
            ),
            1,
        ),
        ChainStatus::Invalid { version, problem } => (
            format!("invalid: first bad version {version}: {problem}"),
            1,
        ),
        ChainStatus::Empty => (
            format!("error: {} holds no version files", dir.display()),
            2,
        ),
    };
    lines.push(summary);
    (lines, code)
}
