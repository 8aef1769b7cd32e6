//! `GET /api/v1/engines/{id}/executions/{execution_id}/events`: an execution's progress as
//! Server-Sent Events (`event: <kind>`, `data: <json>`), from the events the engine sends up
//! its link. Ends after `execution_finished` or when the client leaves; keepalive comments
//! hold idle proxies open. An execution already over gets one `execution_finished` and the end.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flowork_access::{Action, Capability};
use flowork_link::{EngineEvents, ExecutionEvent};
use flowork_model::{EngineId, ExecutionId, Timestamp};
use futures::Stream;
use serde_json::{Value, json};

use super::forward::engine_uri;
use super::{headers, link_id};
use crate::Gateway;
use crate::auth::Caller;
use crate::error::Result;
use crate::input;
use crate::replicas::Hop;

const KEEPALIVE: Duration = Duration::from_secs(15);
const FINISHED: &str = "execution_finished";

/// Follow an execution live.
#[utoipa::path(get, path = "/api/v1/engines/{id}/executions/{execution_id}/events",
    tag = "engine-api", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id"),
        ("execution_id" = String, Path, description = "Execution id (ex_...)")),
    responses((status = 200, content_type = "text/event-stream",
            description = "`event: node_started | node_finished | node_failed | execution_finished`, \
                `data: {\"execution_id\",\"workflow_id\",\"kind\",\"node_id\",\"data\",\"at\"}`"),
        (status = 400), (status = 401), (status = 404, description = "No such engine or execution"),
        (status = 503, description = "The engine is offline; see Retry-After")))]
pub(crate) async fn follow(
    State(gw): State<Gateway>,
    caller: Caller,
    Path((id, execution)): Path<(String, String)>,
) -> Response {
    match follow_inner(gw, caller, &id, &execution, Hop::Edge).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// Streams from this replica's link, or (from a client) relays to the replica holding it.
pub(crate) async fn follow_inner(
    gw: Gateway,
    caller: Caller,
    id: &str,
    exec: &str,
    hop: Hop,
) -> Result<Response> {
    let engine: EngineId = input::id(id, "id")?;
    gw.permit(&caller, engine, Action::Read, Capability::BasicExecution)
        .await?;
    let execution: ExecutionId = input::id(exec, "execution_id")?;
    if hop == Hop::Edge
        && !gw.link.is_online(engine)
        && let Some(holder) = gw.holder_elsewhere(engine).await
    {
        let target = format!("/internal/v1/engines/{}/events/{execution}", engine);
        let who = Some((caller.user_id, caller.role));
        let req = http::Request::get("/").body(Body::empty()).map_err(|e| {
            crate::error::GatewayError::Internal(format!("relayed events request: {e}"))
        })?;
        return gw.relay(engine, &holder, &target, req, who).await;
    }
    // Subscribe before asking where it stands, so nothing falls between the two.
    let events = gw.link.hub.events(&link_id(engine));
    let mut req = http::Request::new(Body::empty());
    *req.uri_mut() = engine_uri(&format!("/api/v1/executions/{execution}"))?;
    headers::for_api(req.headers_mut(), &caller);
    let res = gw.send_to_engine(engine, req).await?;
    if !res.status().is_success() {
        return Ok(res);
    }
    let now: Value = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let live = matches!(now["status"].as_str(), Some("queued" | "running"));
    let first = (!live).then(|| {
        Event::default().event(FINISHED).data(
            json!({"execution_id": execution.to_string(), "workflow_id": now["workflow_id"],
                "kind": FINISHED, "node_id": null, "data": {"status": now["status"]},
                "at": Timestamp::now()})
            .to_string(),
        )
    });
    let stream = stream(events, execution.to_string(), first);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEPALIVE))
        .into_response())
}

/// The execution's events until it finishes; with `first`, just that one.
fn stream(
    events: EngineEvents,
    execution: String,
    first: Option<Event>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = (events, execution, first, false);
    futures::stream::unfold(state, |(mut events, execution, first, done)| async move {
        if done {
            return None;
        }
        if let Some(e) = first {
            return Some((Ok(e), (events, execution, None, true)));
        }
        loop {
            let ev = events.recv().await?;
            if ev.execution_id == execution {
                let finished = ev.kind == FINISHED;
                return Some((Ok(sse(&ev)), (events, execution, None, finished)));
            }
        }
    })
}

fn sse(ev: &ExecutionEvent) -> Event {
    let data: Value = serde_json::from_slice(&ev.data_json).unwrap_or(Value::Null);
    let body = json!({
        "execution_id": ev.execution_id,
        "workflow_id": ev.workflow_id,
        "kind": ev.kind,
        "node_id": ev.node_id,
        "data": data,
        "at": Timestamp(ev.at_unix_ms),
    });
    Event::default()
        .event(kind(&ev.kind))
        .data(body.to_string())
}

/// The kind as an SSE event name: the engine's word, if it is a plain one (a line break would
/// end the field early).
fn kind(k: &str) -> &str {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if !k.is_empty() && k.chars().all(plain) {
        k
    } else {
        "message"
    }
}
