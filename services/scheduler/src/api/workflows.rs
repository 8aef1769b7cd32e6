//! `/api/v1/workflows`: CRUD with validation, and running.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use flowork_kit::Problem;
use flowork_model::WorkflowId;
use flowork_storage::Page;
use serde_json::Value;

use super::ApiState;
use super::input;
use super::views::{ExecutionView, WorkflowView};
use crate::runner::{Runner, StartRequest};
use crate::versions;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn query(q: Params) -> Result<HashMap<String, String>, Problem> {
    q.map(|Query(q)| q)
        .map_err(|e| Problem::bad_request(e.body_text()).with_field("query"))
}

/// Create a workflow (JSON, or YAML with `content-type: application/yaml`); saved as version 1,
/// unsigned (refused where `versions.require_signed`: push a signed version 1 instead).
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows",
    request_body(content = Object, description = "The workflow document (DESIGN §4)"),
    responses((status = 201, body = WorkflowView), (status = 400, description = "Not JSON/YAML"), (status = 403, description = "Unsigned saves are refused here (versions.require_signed): push a signed version"), (status = 422, description = "Invalid workflow; names the node and field")))]
pub(crate) async fn create(
    State(ApiState {
        runner,
        webhooks,
        versions: policy,
    }): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<WorkflowView>), Problem> {
    let doc = input::workflow(&headers, &body)?;
    let (wf, doc) = versions::create(runner.engine(), &policy, doc).await?;
    webhooks.invalidate();
    Ok((StatusCode::CREATED, Json(WorkflowView::new(&wf, Some(doc)))))
}

/// List workflows in creation order (`limit`, `after` = the last id seen).
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows",
    params(("limit" = Option<u32>, Query, description = "At most this many (default 100, max 1000)"), ("after" = Option<String>, Query, description = "Continue after this id")),
    responses((status = 200, body = [WorkflowView])))]
pub(crate) async fn list(
    State(runner): State<Runner>,
    q: Params,
) -> Result<Json<Vec<WorkflowView>>, Problem> {
    let q = query(q)?;
    let page = Page {
        limit: input::opt(q.get("limit"), "limit")?.unwrap_or(0),
        after: input::opt::<WorkflowId>(q.get("after"), "after")?.map(|i| i.to_string()),
    };
    let list = runner.engine().store().list_workflows(page).await?;
    Ok(Json(
        list.iter().map(|w| WorkflowView::new(w, None)).collect(),
    ))
}

/// A workflow with its head version's document.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id (wf_...)")),
    responses((status = 200, body = WorkflowView), (status = 404, description = "No such workflow")))]
pub(crate) async fn get(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Json<WorkflowView>, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let store = runner.engine().store();
    let wf = store.get_workflow(id).await?;
    let doc = match wf.head_version {
        0 => None,
        v => store
            .get_version(id, v)
            .await?
            .record
            .get("workflow")
            .cloned(),
    };
    Ok(Json(WorkflowView::new(&wf, doc)))
}

/// Save a new (unsigned) version. `If-Match: <version>` makes it fail with 409 if someone saved
/// first. Refused where `versions.require_signed` (use `POST …/versions`).
#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id"), ("If-Match" = Option<u32>, Header, description = "The version this edit started from")),
    request_body(content = Object, description = "The workflow document"),
    responses((status = 200, body = WorkflowView), (status = 403, description = "Unsigned saves are refused here (versions.require_signed)"), (status = 404), (status = 409, description = "Someone saved first"), (status = 422)))]
pub(crate) async fn update(
    State(ApiState {
        runner,
        webhooks,
        versions: policy,
    }): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WorkflowView>, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let expected = headers
        .get("if-match")
        .map(|v| v.to_str().unwrap_or("").trim_matches('"').to_owned());
    let expected = input::opt::<u32>(expected.as_ref(), "If-Match")?;
    let doc = input::workflow(&headers, &body)?;
    let (wf, doc) = versions::update(runner.engine(), &policy, id, doc, expected).await?;
    webhooks.invalidate();
    Ok(Json(WorkflowView::new(&wf, Some(doc))))
}

/// Delete a workflow with its versions and executions.
#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 204), (status = 404)))]
pub(crate) async fn delete(
    State(ApiState {
        runner, webhooks, ..
    }): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    runner.engine().store().delete_workflow(id).await?;
    webhooks.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// Run the head version with the body as input. `?wait=true` answers when it finishes (up to
/// `timeout_ms`, default 30 s) with 200; otherwise, or on timeout, 202 with the execution.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/run", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id"), ("wait" = Option<bool>, Query, description = "Wait for the result"), ("timeout_ms" = Option<u64>, Query, description = "How long to wait (default 30000, max 300000)")),
    request_body(content = Object, description = "The input (default {})"),
    responses((status = 200, body = ExecutionView, description = "Finished"), (status = 202, body = ExecutionView, description = "Accepted; still running"), (status = 404), (status = 422)))]
pub(crate) async fn run(
    State(runner): State<Runner>,
    Path(id): Path<String>,
    q: Params,
    body: Bytes,
) -> Result<(StatusCode, Json<ExecutionView>), Problem> {
    let id: WorkflowId = input::id(&id, "id")?;
    let q = query(q)?;
    let wait = input::opt::<bool>(q.get("wait"), "wait")?.unwrap_or(false);
    let timeout = input::opt::<u64>(q.get("timeout_ms"), "timeout_ms")?.unwrap_or(30_000);
    if timeout > 300_000 {
        return Err(Problem::bad_request("at most 300000").with_field("timeout_ms"));
    }
    let input: Value = input::json(&body)?;
    let wf = runner.engine().store().get_workflow(id).await?;
    if wf.head_version == 0 {
        return Err(Problem::conflict("the workflow has no saved version").with_field("id"));
    }
    let req = StartRequest {
        workflow_id: id,
        version: wf.head_version,
        trigger: "api".into(),
        input,
        parent_id: None,
    };
    if !wait {
        let exec = super::start_detached(&runner, req).await?;
        return Ok((StatusCode::ACCEPTED, Json(ExecutionView::new(exec, None))));
    }
    let exec = runner.run_now(req, Duration::from_millis(timeout)).await?;
    let code = if exec.status.is_terminal() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(ExecutionView::new(exec, None))))
}

async fn set_active(
    state: ApiState,
    id: &str,
    active: bool,
) -> Result<Json<WorkflowView>, Problem> {
    let id: WorkflowId = input::id(id, "id")?;
    let patch = flowork_storage::WorkflowPatch {
        name: None,
        active: Some(active),
    };
    let wf = state
        .runner
        .engine()
        .store()
        .update_workflow(id, patch)
        .await?;
    state.webhooks.invalidate();
    Ok(Json(WorkflowView::new(&wf, None)))
}

/// Activate: its webhook and cron triggers start firing.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/activate", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = WorkflowView), (status = 404)))]
pub(crate) async fn activate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<WorkflowView>, Problem> {
    set_active(state, &id, true).await
}

/// Deactivate: its triggers stop firing (running executions go on).
#[utoipa::path(post, path = "/api/v1/workflows/{id}/deactivate", tag = "workflows",
    params(("id" = String, Path, description = "Workflow id")),
    responses((status = 200, body = WorkflowView), (status = 404)))]
pub(crate) async fn deactivate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<WorkflowView>, Problem> {
    set_active(state, &id, false).await
}
