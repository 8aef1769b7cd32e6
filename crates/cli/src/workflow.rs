//! `flowork workflow push FILE`: signs the next version of a workflow locally and saves it. The
//! private key never leaves this process: only the signed record is sent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use flowork_flowchain::{SigningKey, VersionRecord};
use flowork_kit::entry::ConfigArgs;
use flowork_model::workflow::WorkflowDoc;
use flowork_model::{Timestamp, WorkflowId};
use reqwest::StatusCode;
use serde_json::Value;

use crate::remote::{EngineArgs, EngineClient, RemoteError};

/// `flowork workflow …`
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Sign a workflow document as the next version of its flow-chain and save it on the engine.
    ///
    /// Fetches the head version, builds the next record (previous_hash = the head's hash),
    /// signs it with the author key (passphrase from FLOWORK_KEY_PASSPHRASE or a prompt) and
    /// sends the signed record. Without --workflow it creates a new workflow and prints its id.
    /// If someone saved in between, the engine answers 409: push again.
    Push {
        /// The workflow document: JSON, or YAML (.yaml / .yml)
        file: PathBuf,
        /// The workflow to add a version to [default: a new workflow]
        #[arg(long, value_name = "ID")]
        workflow: Option<String>,
        /// The author keystore [default: <data dir>/author.key.json]
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

pub(crate) fn main(config: &ConfigArgs, command: WorkflowCommand) -> ExitCode {
    let WorkflowCommand::Push {
        file,
        workflow,
        key,
        engine,
    } = command;
    match push(config, &file, workflow.as_deref(), key, &engine) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => flowork_kit::entry::fail(&e, 1),
    }
}

fn push(
    config: &ConfigArgs,
    file: &Path,
    workflow: Option<&str>,
    key: Option<PathBuf>,
    engine: &EngineArgs,
) -> Result<String, RemoteError> {
    let doc = read_doc(file)?;
    let id = match workflow {
        Some(id) => id
            .parse::<WorkflowId>()
            .map_err(|e| RemoteError::Input(format!("--workflow {id:?}: {e}")))?,
        None => WorkflowId::new(),
    };
    let client = EngineClient::new(config, engine)?;
    let key_path = match key {
        Some(p) => p,
        None => crate::key::default_path(config)?,
    };
    let key = crate::key::unlock(&key_path)?;
    crate::remote::runtime()?.block_on(save(&client, id, doc, &key))
}

async fn save(
    client: &EngineClient,
    id: WorkflowId,
    doc: Value,
    key: &SigningKey,
) -> Result<String, RemoteError> {
    let head = head(client, id).await?;
    let mut record = VersionRecord::next(
        head.as_ref(),
        id.to_string(),
        Timestamp::now().to_rfc3339(),
        doc,
    )?;
    record.sign(key)?;
    let answer = client
        .post_json(
            &format!("/workflows/{id}/versions"),
            record.canonical_bytes()?,
        )
        .await?;
    let body = client.expect(StatusCode::CREATED, answer)?;
    let saved: Value = serde_json::from_slice(&body).unwrap_or_default();
    let hash = saved["hash"].as_str().unwrap_or_default();
    Ok(format!(
        "saved version {} of {id} (hash {hash}), signed by {}",
        record.version,
        key.address()
    ))
}

/// The head record, checked to be canonical; `None` when the workflow has no version yet.
async fn head(client: &EngineClient, id: WorkflowId) -> Result<Option<VersionRecord>, RemoteError> {
    let answer = client
        .get(&format!("/workflows/{id}/versions/head"))
        .await?;
    if answer.0 == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let bytes = client.expect(StatusCode::OK, answer)?;
    VersionRecord::from_canonical_bytes(&bytes)
        .map(Some)
        .map_err(|p| {
            RemoteError::Input(format!(
                "the engine's head version of {id} is unusable: {p}"
            ))
        })
}

/// The document of `file` as JSON, checked locally so a typo fails before anything is signed.
fn read_doc(file: &Path) -> Result<Value, RemoteError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| RemoteError::Input(format!("{}: {e}", file.display())))?;
    let bad = |why: String| RemoteError::Input(format!("{}: {why}", file.display()));
    let yaml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let value = if yaml {
        let doc = WorkflowDoc::from_yaml(&text).map_err(|e| bad(e.message))?;
        serde_json::to_value(doc).map_err(|e| bad(e.to_string()))?
    } else {
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?
    };
    WorkflowDoc::from_value(value.clone()).map_err(|e| bad(e.message))?;
    Ok(value)
}
