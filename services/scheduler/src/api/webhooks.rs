//! `ANY /webhook/{path}`: the engine side of webhooks (DESIGN §3). The gateway forwards
//! `/webhook/{engine_id}/{path}` here over EngineLink (issue #4); tests call it directly.
//!
//! The request becomes the webhook trigger's output `{method, path, headers, query, body}` (body
//! parsed when it is JSON). `respond: immediately` answers 202 with the execution id;
//! `respond: last_node` waits and answers with what a `core.respond` node set, or the last
//! node's output as JSON. A trigger with a `secret` credential only accepts requests whose
//! `x-flowork-signature: sha256=<hex HMAC-SHA256 of the body>` matches (compared in constant time).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flowork_kit::Problem;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::ApiState;
use crate::runner::{Runner, StartRequest};
use crate::webhooks::{Respond, Target};

/// How long a `respond: last_node` webhook waits for the workflow.
const WAIT: Duration = Duration::from_secs(30);
/// Largest webhook body the engine accepts.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// Starts the workflow whose webhook trigger matches the method and path.
pub(crate) async fn receive(
    State(state): State<ApiState>,
    method: Method,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let runner = &state.runner;
    let target = state
        .webhooks
        .find(runner.engine(), method.as_str(), &path)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no active workflow has a {method} webhook at /{path}"
            ))
        })?;
    if let Some(secret) = &target.secret {
        verify(runner, secret, &headers, &body).await?;
    }
    let input = json!({
        "method": method.as_str(),
        "path": path,
        "headers": header_map(&headers),
        "query": query,
        "body": parse_body(&headers, &body),
    });
    let req = StartRequest {
        workflow_id: target.workflow_id,
        version: target.version,
        trigger: target.node.clone(),
        input,
        parent_id: None,
    };
    if target.respond == Respond::Immediately {
        let exec = super::start_detached(runner, req).await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"execution_id": exec.id.to_string()})),
        )
            .into_response());
    }
    let exec = runner.run_now(req, WAIT).await?;
    match exec.status {
        flowork_model::ExecutionStatus::Succeeded => {
            Ok(respond(&target, exec.output.unwrap_or(Value::Null)))
        }
        s if s.is_terminal() => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "workflow-failed",
            format!("the workflow ended {s}: {}", exec.error.unwrap_or_default()),
        )),
        _ => Err(Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "the workflow did not finish within {} s; execution {} goes on",
                WAIT.as_secs(),
                exec.id
            ),
        )),
    }
}

/// The HTTP answer: a `core.respond` output as given, anything else as a JSON 200.
fn respond(target: &Target, output: Value) -> Response {
    if !target.has_respond_node {
        return (StatusCode::OK, Json(output)).into_response();
    }
    let status = output
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = output.get("body").cloned().unwrap_or(Value::Null);
    let mut res = match body {
        Value::String(s) => (status, s).into_response(),
        other => (status, Json(other)).into_response(),
    };
    for (k, v) in output
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(text),
        ) {
            res.headers_mut().insert(name, value);
        }
    }
    res
}

async fn verify(
    runner: &Runner,
    credential: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), Problem> {
    let unauthorized = || {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "bad-signature",
            "missing or wrong x-flowork-signature",
        )
    };
    let vault = runner
        .engine()
        .vault()
        .ok_or_else(|| Problem::unavailable("this engine has no credentials vault"))?;
    let secret = vault
        .reveal(credential)
        .await
        .map_err(super::credentials::problem)?;
    let key = secret
        .expose()
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Problem::unavailable(format!("credential {credential:?} has no \"secret\" field"))
        })?;
    let sent = headers
        .get("x-flowork-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(unauthorized)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|_| unauthorized())?;
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&sent).map_err(|_| unauthorized())
}

fn header_map(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                out.insert(name.as_str().to_owned(), Value::String(v));
            }
        }
    }
    Value::Object(out)
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if json && let Ok(v) = serde_json::from_slice(body) {
        return v;
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}
