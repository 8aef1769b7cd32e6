//! Webhook deliveries are deduplicated by `x-flowork-delivery-id`.
//!
//! The gateway buffers webhooks while the engine is offline and delivers them at least once when
//! it relinks, each with a delivery id; a redelivery (the engine answered but the answer was lost)
//! must not start the workflow twice. A middleware around the webhook handler claims the id in
//! the store (kv namespace `deliveries`) before the handler runs, so two engine processes racing
//! on one delivery start it once. A claim whose request failed is released, so a retry runs; a
//! claim left pending by a crashed engine is taken over after [`STALE`]. Delivery is therefore
//! at least once: an engine that dies between starting the workflow and recording the claim
//! may see it run again.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowork_kit::Problem;
use flowork_model::Timestamp;
use flowork_storage::{Expect, StorageError, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The header the gateway sets on each webhook delivery.
pub const DELIVERY_HEADER: &str = "x-flowork-delivery-id";
/// The kv namespace of claimed deliveries.
pub const NAMESPACE: &str = "deliveries";
/// After this, a claim still `pending` is from an engine that died mid-request.
const STALE: Duration = Duration::from_secs(120);
/// Largest answer body read back to find the execution id (a 202 is tiny).
const MAX_ANSWER: usize = 64 * 1024;

/// What a claim records.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Claim {
    /// Set once the request answered with an execution id.
    execution_id: Option<String>,
    /// False while the first request is still being served.
    done: bool,
}

/// Middleware: answers a delivery seen before with 202 `{"duplicate": true, "execution_id"?}`,
/// one still in progress with 503 + `Retry-After`, and runs the handler for a new one (or a
/// request without a delivery id).
pub(crate) async fn dedupe(
    State(store): State<Arc<dyn Store>>,
    req: Request,
    next: Next,
) -> Result<Response, Problem> {
    let Some(raw) = req.headers().get(DELIVERY_HEADER) else {
        return Ok(next.run(req).await);
    };
    let id = raw
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "{DELIVERY_HEADER} must be 1 to 128 visible characters"
            ))
            .with_field(DELIVERY_HEADER)
        })?
        .to_owned();
    match claim(store.as_ref(), &id).await? {
        None => {}
        Some(Claim {
            done: true,
            execution_id,
        }) => {
            tracing::info!(delivery = %id, "duplicate webhook delivery ignored");
            let mut body = json!({"duplicate": true});
            if let Some(exec) = execution_id {
                body["execution_id"] = Value::String(exec);
            }
            return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
        }
        // Still being served (or its engine died; the claim goes stale): answering 2xx now
        // would make the gateway forget a delivery that may yet fail, so ask it to come back.
        Some(_) => {
            let mut res =
                Problem::unavailable(format!("delivery {id} is being handled; retry shortly"))
                    .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return Ok(res);
        }
    }
    // On its own task: if the gateway gives up on this request, the claim is still settled
    // (recorded or released) instead of being left pending until it goes stale.
    let settle = tokio::spawn(serve_claimed(store, id, req, next));
    settle
        .await
        .map_err(|e| Problem::internal(format!("the webhook task failed: {e}")))
}

/// Runs the handler for a claimed delivery, then records it (success) or releases it (failure).
async fn serve_claimed(store: Arc<dyn Store>, id: String, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    // 504: a waiting webhook timed out, but its execution goes on; a retry must not start another.
    if !(status.is_success() || status == StatusCode::GATEWAY_TIMEOUT) {
        if let Err(e) = store.kv_delete(NAMESPACE, &id).await {
            tracing::warn!(delivery = %id, error = %e, "could not release a failed delivery's claim");
        }
        return res;
    }
    let (res, execution_id) = execution_id_of(res).await;
    let done = Claim {
        execution_id,
        done: true,
    };
    if let Err(e) = put(store.as_ref(), &id, &done, Expect::Any).await {
        tracing::warn!(delivery = %id, error = %e, "could not record a delivery");
    }
    res
}

/// Claims `id`; `Some(claim)` if someone holds it already.
async fn claim(store: &dyn Store, id: &str) -> Result<Option<Claim>, Problem> {
    let pending = Claim::default();
    for _ in 0..3 {
        let expect = match store.kv_get(NAMESPACE, id).await.map_err(Problem::from)? {
            None => Expect::Absent,
            Some(entry) => {
                let seen: Claim = serde_json::from_slice(&entry.value).unwrap_or_default();
                let age = Timestamp::now().millis() - entry.updated_at.millis();
                if seen.done || age < STALE.as_millis() as i64 {
                    return Ok(Some(seen));
                }
                tracing::warn!(delivery = %id, "taking over a stale delivery claim");
                Expect::Version(entry.version)
            }
        };
        match put(store, id, &pending, expect).await {
            Ok(()) => return Ok(None),
            // Another request claimed it between our read and write: look again.
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(pending))
}

async fn put(
    store: &dyn Store,
    id: &str,
    claim: &Claim,
    expect: Expect,
) -> Result<(), StorageError> {
    let value = serde_json::to_vec(claim).unwrap_or_default();
    store.kv_put(NAMESPACE, id, value, expect).await.map(drop)
}

/// The `execution_id` of a 202 answer (the response is rebuilt around the read body).
async fn execution_id_of(res: Response) -> (Response, Option<String>) {
    if res.status() != StatusCode::ACCEPTED {
        return (res, None);
    }
    let (parts, body) = res.into_parts();
    match axum::body::to_bytes(body, MAX_ANSWER).await {
        Ok(bytes) => {
            let id = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("execution_id")?.as_str().map(str::to_owned));
            (Response::from_parts(parts, bytes.into()), id)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read a webhook answer");
            (Response::from_parts(parts, axum::body::Body::empty()), None)
        }
    }
}
