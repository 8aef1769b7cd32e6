//! `/api/v1/workflows/{id}/chain/...`: a workflow's whole flow-chain, exported or verified.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flowork_flowchain::{Problem as ChainProblem, VersionRecord};
use flowork_kit::Problem;
use flowork_model::WorkflowId;
use flowork_storage::WorkflowVersion;

use super::chain_views::ChainReportView;
use super::input;
use crate::runner::Runner;
use crate::versions;

/// The chain as a tar archive of its canonical files `000001.json`, `000002.json`, … at the
/// archive root (the export directory of DESIGN §5): `curl … | tar x -C DIR`, then `flowork
/// chain verify DIR`.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/chain/export", tag = "versions",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, content_type = "application/x-tar", description = "POSIX ustar archive"), (status = 404)))]
pub(crate) async fn export(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let rows = runner.engine().store().list_versions(id).await?;
    let records = rows
        .iter()
        .map(|r| {
            versions::parse_row(r).map_err(|_| {
                Problem::internal(format!(
                    "stored version {} is not a readable record; `chain/verify` reports it",
                    r.version
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let archive = tokio::task::spawn_blocking(move || flowork_flowchain::export_tar(&records))
        .await
        .map_err(|e| Problem::internal(format!("export task failed: {e}")))?
        .map_err(|e| Problem::internal(format!("cannot export the chain: {e}")))?;
    let disposition = format!("attachment; filename=\"{id}.chain.tar\"");
    let mut res = archive.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Verify the chain as stored: versions 1..N in order, each linked to the hash of the one
/// before, each signed by its `author_id`, and each unchanged since it was saved. Names the
/// first bad version and why; unsigned versions make the status `unsigned`, never `valid`.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/chain/verify", tag = "versions",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = ChainReportView), (status = 404)))]
pub(crate) async fn verify(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Json<ChainReportView>, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let rows = runner.engine().store().list_versions(id).await?;
    // Signature recovery is CPU work: off the async runtime.
    let report = tokio::task::spawn_blocking(move || {
        flowork_flowchain::verify_records(rows.iter().map(as_stored))
    })
    .await
    .map_err(|e| Problem::internal(format!("verify task failed: {e}")))?;
    Ok(Json(ChainReportView::new(id.to_string(), &report)))
}

/// A row as the record it holds, refused when its stored hash no longer matches: the record was
/// changed in the database after it was saved.
fn as_stored(row: &WorkflowVersion) -> Result<VersionRecord, ChainProblem> {
    let record = versions::parse_row(row).map_err(ChainProblem::Malformed)?;
    let hash = record
        .hash()
        .map_err(|e| ChainProblem::Malformed(e.to_string()))?;
    if hash.to_string() != row.hash {
        return Err(ChainProblem::Malformed(format!(
            "changed after it was saved: stored hash {}, the record hashes to {hash}",
            row.hash
        )));
    }
    Ok(record)
}
