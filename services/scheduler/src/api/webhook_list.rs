//! `GET /api/v1/webhooks`: the webhook triggers of active workflows. The gateway asks this to
//! decide, while the engine is offline, whether a webhook is buffered (`respond: immediately`)
//! or answered 503 (`respond: last_node`, whose caller waits for the result).

use axum::Json;
use axum::extract::State;
use flowork_kit::Problem;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use crate::webhooks::Respond;

/// Every active webhook trigger.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// One webhook trigger.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Under `/webhook/{engine_id}/`, without leading or trailing `/`.
    #[schema(example = "orders/new")]
    pub path: String,
    /// The HTTP method it answers; null: any method.
    #[schema(example = "POST")]
    pub method: Option<String>,
    pub respond: RespondView,
    #[schema(example = "wf_01J0000000000000000000000")]
    pub workflow_id: String,
}

/// How the webhook answers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RespondView {
    /// 202 with the execution id at once: can be buffered while the engine is offline.
    Immediately,
    /// The workflow's result: the caller waits, so it cannot be buffered.
    LastNode,
}

/// The webhook triggers of active workflows, by path then method.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList)))]
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<WebhookList>, Problem> {
    let routes = state.webhooks.all(state.runner.engine()).await?;
    let items = routes
        .into_iter()
        .map(|(method, path, target)| WebhookView {
            path,
            method: (method != "ANY").then_some(method),
            respond: match target.respond {
                Respond::Immediately => RespondView::Immediately,
                Respond::LastNode => RespondView::LastNode,
            },
            workflow_id: target.workflow_id.to_string(),
        })
        .collect();
    Ok(Json(WebhookList { items }))
}
