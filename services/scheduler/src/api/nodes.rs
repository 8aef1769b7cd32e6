//! `/api/v1/nodes`: the node catalog, with a JSON Schema of each type's parameters for GUIs.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::runner::Runner;

/// Every node type: title, description, whether it is a trigger, parameter schema, ports.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes", responses((status = 200, body = [Object])))]
pub(crate) async fn list(State(runner): State<Runner>) -> Json<Vec<Value>> {
    Json(
        runner
            .engine()
            .catalog()
            .iter()
            .map(|s| json!(s.info()))
            .collect(),
    )
}
