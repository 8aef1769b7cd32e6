//! `/api/v1/workflows/{id}/versions` and `/chain`: the signed flow-chain (DESIGN §5). Save a
//! record the author signed; list, read, export and verify the chain.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flowork_flowchain::{Address, RecordHash, Signature, VersionRecord};
use flowork_kit::Problem;
use flowork_model::WorkflowId;
use flowork_storage::WorkflowVersion;
use serde_json::Value;

use super::ApiState;
use super::chain_views::VersionView;
use super::input;
use crate::runner::Runner;
use crate::versions;

/// The gateway's header naming the calling user (it strips any the client sent).
const USER_ID: &str = "x-flowork-user-id";

/// Save the next version: a flow-chain record (DESIGN §5) built and signed by its author. A
/// version 1 for an unused id creates the workflow.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/versions", tag = "versions",
    params(("id" = String, Path, description = "Workflow id (wf_...); the record's workflow_id")),
    request_body(content = Object, description = "The signed record: {workflow_id, version, author_id, created_at, previous_hash, workflow, signature}"),
    responses((status = 201, body = VersionView, description = "Saved; the new head"),
        (status = 400, description = "Not JSON"),
        (status = 403, description = "Unsigned where versions.require_signed, or an author not in versions.allowed_authors"),
        (status = 404, description = "No such workflow (and the record is not a version 1)"),
        (status = 409, description = "previous_hash is not the current head: someone saved first"),
        (status = 422, description = "Bad record: the type names the reason (bad-signature, wrong-author, version-gap, malformed, ...) and `field` the member")))]
pub(crate) async fn save(
    State(ApiState {
        runner,
        webhooks,
        versions: policy,
    }): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<VersionView>), Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let record = parse_record(&body)?;
    let caller = headers.get(USER_ID).and_then(|v| v.to_str().ok());
    let saved = versions::save_signed(runner.engine(), &policy, id, record, caller).await?;
    webhooks.invalidate();
    Ok((StatusCode::CREATED, Json(VersionView::new(&saved))))
}

/// The record from the body, or a problem naming the member at fault.
fn parse_record(body: &Bytes) -> Result<VersionRecord, Problem> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("invalid JSON: {e}")).with_field("body"))?;
    serde_json::from_value(value.clone()).map_err(|e| {
        let field = fault(&value).unwrap_or("body");
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed",
            format!("not a version record: {e}"),
        )
        .with_field(field)
    })
}

/// Which member of a would-be record is wrong (serde's message does not say).
fn fault(value: &Value) -> Option<&str> {
    fn bad<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> bool {
        serde_json::from_value::<T>(v.cloned().unwrap_or(Value::Null)).is_err()
    }
    let obj = value.as_object()?;
    const KNOWN: [&str; 7] = [
        "workflow_id",
        "version",
        "author_id",
        "created_at",
        "previous_hash",
        "workflow",
        "signature",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Some(k);
    }
    type Check = fn(Option<&Value>) -> bool;
    let checks: [(&str, Check); 6] = [
        ("workflow_id", bad::<String>),
        ("version", bad::<u32>),
        ("author_id", bad::<Option<Address>>),
        ("created_at", bad::<String>),
        ("previous_hash", bad::<Option<RecordHash>>),
        ("signature", bad::<Option<Signature>>),
    ];
    checks
        .into_iter()
        .find(|(k, check)| check(obj.get(*k)))
        .map(|(k, _)| k)
        .or_else(|| (!obj.contains_key("workflow")).then_some("workflow"))
}

/// Every version, oldest first (no documents; get one version for its record).
#[utoipa::path(get, path = "/api/v1/workflows/{id}/versions", tag = "versions",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = [VersionView]), (status = 404)))]
pub(crate) async fn list(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionView>>, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let rows = runner.engine().store().list_versions(id).await?;
    Ok(Json(rows.iter().map(VersionView::new).collect()))
}

/// One version's record, exactly its canonical (RFC 8785) bytes: the file an export holds, and
/// what the next version's `previous_hash` is the SHA-256 of (also in `ETag`). `head` is the
/// newest version.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/versions/{version}", tag = "versions",
    params(("id" = String, Path, description = "Workflow id"), ("version" = String, Path, description = "A version number, or `head`")),
    responses((status = 200, content_type = "application/json", description = "The record's canonical bytes"), (status = 404)))]
pub(crate) async fn get(
    State(runner): State<Runner>,
    Path((id, version)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let store = runner.engine().store();
    let number = match version.as_str() {
        "head" => match store.get_workflow(id).await?.head_version {
            0 => return Err(Problem::not_found("the workflow has no saved version")),
            n => n,
        },
        n => input::id::<u32>(n, "version")?,
    };
    let row = store.get_version(id, number).await?;
    let bytes = canonical(&row)?;
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", row.hash)) {
        res.headers_mut().insert(header::ETAG, tag);
    }
    Ok(res)
}

/// A stored row's canonical bytes (every row is a flow-chain record since migration 0009).
pub(super) fn canonical(row: &WorkflowVersion) -> Result<Vec<u8>, Problem> {
    versions::parse_row(row)
        .map_err(|e| e.to_string())
        .and_then(|r| r.canonical_bytes().map_err(|e| e.to_string()))
        .map_err(|why| {
            tracing::error!(workflow = %row.workflow_id, version = row.version, error = %why, "stored version unreadable");
            Problem::internal(format!(
                "stored version {} is not a readable record; `chain/verify` reports it",
                row.version
            ))
        })
}
