//! `/api/v1/executions`: history with every node run, and cancelling.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use flowork_kit::Problem;
use flowork_model::{ExecutionId, ExecutionStatus, WorkflowId};
use flowork_storage::{ExecutionFilter, Page};

use super::input;
use super::views::ExecutionView;
use crate::runner::Runner;

/// List executions, newest first; filter by `workflow_id` and `status`; page with `after`.
#[utoipa::path(get, path = "/api/v1/executions", tag = "executions",
    params(("workflow_id" = Option<String>, Query, description = "Only this workflow's"),
           ("status" = Option<String>, Query, description = "queued, running, waiting, succeeded, failed, cancelled, out_of_gas, forbidden"),
           ("limit" = Option<u32>, Query, description = "At most this many (default 100, max 1000)"),
           ("after" = Option<String>, Query, description = "Continue after (older than) this id")),
    responses((status = 200, body = [ExecutionView]), (status = 400, description = "A bad filter; names it")))]
pub(crate) async fn list(
    State(runner): State<Runner>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Vec<ExecutionView>>, Problem> {
    let Query(q) = q.map_err(|e| Problem::bad_request(e.body_text()).with_field("query"))?;
    let filter = ExecutionFilter {
        workflow_id: input::opt::<WorkflowId>(q.get("workflow_id"), "workflow_id")?,
        status: input::opt::<ExecutionStatus>(q.get("status"), "status")?,
    };
    let after = input::opt::<ExecutionId>(q.get("after"), "after")?.map(|i| i.to_string());
    let page = Page {
        limit: input::opt(q.get("limit"), "limit")?.unwrap_or(0),
        after,
    };
    let list = runner
        .engine()
        .store()
        .list_executions(filter, page)
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|e| ExecutionView::new(e, None))
            .collect(),
    ))
}

/// An execution with every node run (input, output, status, attempt, timing, error).
#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = "executions",
    params(("id" = String, Path, description = "Execution id (ex_...)")),
    responses((status = 200, body = ExecutionView), (status = 404)))]
pub(crate) async fn get(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Json<ExecutionView>, Problem> {
    let id: ExecutionId = input::id(&id, "id")?;
    let store = runner.engine().store();
    let exec = store.get_execution(id).await?;
    let runs = store.list_node_runs(id).await?;
    Ok(Json(ExecutionView::new(exec, Some(runs))))
}

/// Cancel a queued or running execution; 409 if it already finished.
#[utoipa::path(post, path = "/api/v1/executions/{id}/cancel", tag = "executions",
    params(("id" = String, Path, description = "Execution id")),
    responses((status = 200, body = ExecutionView), (status = 404), (status = 409, description = "Already finished")))]
pub(crate) async fn cancel(
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<Json<ExecutionView>, Problem> {
    let id: ExecutionId = input::id(&id, "id")?;
    let exec = runner.engine().store().get_execution(id).await?;
    if exec.status.is_terminal() {
        return Err(Problem::conflict(format!(
            "execution {id} already {}",
            exec.status
        )));
    }
    Ok(Json(ExecutionView::new(runner.cancel(id).await?, None)))
}

/// Run an execution again from node `from`, with the recorded inputs; `params` edits node
/// parameters first (saved as a new version). Answers 202 with the new execution, which links
/// back through `parent_id`; `?wait=true` waits up to 30 s for it.
#[utoipa::path(post, path = "/api/v1/executions/{id}/replay", tag = "executions",
    params(("id" = String, Path, description = "The execution to replay"), ("wait" = Option<bool>, Query, description = "Wait for the result")),
    request_body(content = Object, description = "{\"from\": \"<node id>\", \"params\": {\"<node id>\": {...}}}"),
    responses((status = 200, body = ExecutionView), (status = 202, body = ExecutionView), (status = 400), (status = 403, description = "Edited params need a new version, and this engine requires signed ones"), (status = 404), (status = 422)))]
pub(crate) async fn replay(
    State(super::ApiState {
        runner, versions, ..
    }): State<super::ApiState>,
    Path(id): Path<String>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: bytes::Bytes,
) -> Result<(axum::http::StatusCode, Json<ExecutionView>), Problem> {
    let id: ExecutionId = input::id(&id, "id")?;
    let Query(q) = q.map_err(|e| Problem::bad_request(e.body_text()).with_field("query"))?;
    let wait = input::opt::<bool>(q.get("wait"), "wait")?.unwrap_or(false);
    let body = input::json(&body)?;
    let from = body
        .get("from")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Problem::bad_request("the node id to replay from").with_field("from"))?;
    let params = match body.get("params") {
        None => Default::default(),
        Some(p) => serde_json::from_value(p.clone()).map_err(|e| {
            Problem::bad_request(format!("expected {{node: {{param: value}}}}: {e}"))
                .with_field("params")
        })?,
    };
    let req = crate::replay::ReplayRequest {
        from: from.to_owned(),
        params,
    };
    // On its own task, like every start: a client hanging up must not cut it half-way.
    let r = runner.clone();
    let exec = tokio::spawn(async move { crate::replay::replay(&r, &versions, id, req).await })
        .await
        .map_err(|e| Problem::internal(format!("the replay task failed: {e}")))??;
    if !wait {
        return Ok((
            axum::http::StatusCode::ACCEPTED,
            Json(ExecutionView::new(exec, None)),
        ));
    }
    let exec = runner
        .wait(exec.id, std::time::Duration::from_secs(30))
        .await?;
    let code = if exec.status.is_terminal() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::ACCEPTED
    };
    Ok((code, Json(ExecutionView::new(exec, None))))
}
