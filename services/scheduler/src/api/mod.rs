//! The engine API (DESIGN §3): an axum Router served over EngineLink by the gateway, and directly
//! on loopback for tests. Every handler carries a utoipa annotation; the document is served at
//! `/api/openapi.json`.

mod chain;
mod chain_views;
mod credentials;
mod error;
mod executions;
mod input;
mod nodes;
mod versions;
mod views;
mod webhook_list;
mod webhooks;
mod workflows;

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRef;
use axum::routing::{any, get};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::runner::Runner;
use crate::versions::VersionPolicy;
use crate::webhooks::WebhookIndex;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) runner: Runner,
    pub(crate) webhooks: Arc<WebhookIndex>,
    /// Who may save versions, and whether they must be signed.
    pub(crate) versions: Arc<VersionPolicy>,
}

impl FromRef<ApiState> for Runner {
    fn from_ref(s: &ApiState) -> Runner {
        s.runner.clone()
    }
}

pub use chain_views::{ChainProblemView, ChainReportView, VersionView};
pub use views::{ExecutionView, NodeRunView, WorkflowView};

#[derive(OpenApi)]
#[openapi(
    info(title = "Flowork engine API", description = "Workflows, executions and the node catalog of one engine."),
    tags(
        (name = "workflows", description = "Create, read, update and delete workflows; run them"),
        (name = "versions", description = "The signed flow-chain of each workflow: save signed versions, list, export, verify"),
        (name = "executions", description = "Execution history with every node run"),
        (name = "nodes", description = "The node catalog with parameter schemas"),
        (name = "credentials", description = "Write-only secrets, sealed in the vault"),
        (name = "webhooks", description = "The webhook triggers of active workflows")
    )
)]
struct ApiDoc;

fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(workflows::create, workflows::list))
        .routes(routes!(
            workflows::get,
            workflows::update,
            workflows::delete
        ))
        .routes(routes!(workflows::run))
        .routes(routes!(workflows::activate))
        .routes(routes!(workflows::deactivate))
        .routes(routes!(versions::save, versions::list))
        .routes(routes!(versions::get))
        .routes(routes!(chain::export))
        .routes(routes!(chain::verify))
        .routes(routes!(executions::list))
        .routes(routes!(executions::get))
        .routes(routes!(executions::cancel))
        .routes(routes!(executions::replay))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(
            credentials::get,
            credentials::update,
            credentials::delete
        ))
        .routes(routes!(nodes::list))
        .routes(routes!(webhook_list::list))
}

/// Starts an execution on its own task: if the client hangs up, axum drops the handler, and a
/// start cut between recording the execution and queueing it would leave it `queued` forever.
pub(crate) async fn start_detached(
    runner: &Runner,
    req: crate::runner::StartRequest,
) -> Result<flowork_storage::Execution, flowork_kit::Problem> {
    let runner = runner.clone();
    match tokio::spawn(async move { runner.start(req).await }).await {
        Ok(started) => Ok(started?),
        Err(e) => Err(flowork_kit::Problem::internal(format!(
            "the start task failed: {e}"
        ))),
    }
}

/// The engine's routes (`/api/v1/...`) plus `/api/openapi.json`, with the development version
/// policy (unsigned saves allowed, any author).
pub fn router(runner: Runner) -> axum::Router {
    router_with(runner, VersionPolicy::default())
}

/// [`router`] with the given version policy.
pub fn router_with(runner: Runner, versions: VersionPolicy) -> axum::Router {
    let store = runner.engine().store().clone();
    let state = ApiState {
        runner,
        webhooks: Arc::default(),
        versions: Arc::new(versions),
    };
    let (router, doc) = routes().split_for_parts();
    let webhook = any(webhooks::receive)
        .layer(axum::extract::DefaultBodyLimit::max(webhooks::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            store,
            crate::deliveries::dedupe,
        ));
    router
        .route("/webhook/{*path}", webhook)
        .with_state(state)
        .route("/api/openapi.json", get(move || async move { Json(doc) }))
        .fallback(|| async { flowork_kit::Problem::not_found("no such route") })
}

/// The OpenAPI document, for the drift check and clients.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}
