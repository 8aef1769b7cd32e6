//! `ANY /api/v1/engines/{id}/{*rest}`: the engine's own API, reached through the gateway. The
//! caller must be the engine's owner or a member (404 otherwise, as for the gateway's engine
//! routes) whose role allows the call: reads need viewer, saves and runs editor (403
//! otherwise), and the license must grant the capability the call uses. The request goes down
//! the link as `/api/v1/{rest}?query` with its body streamed, without the caller's credentials
//! but with who they are and their role on the engine.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use flowork_link::LinkError;
use flowork_model::EngineId;
use tokio::time::Instant;

use super::{headers, link_id};
use crate::Gateway;
use crate::auth::Caller;
use crate::error::{GatewayError, Result};
use crate::input;
use crate::replicas::Hop;

const PREFIX: &str = "/api/v1/engines/";

/// Documents forwarding (one generic route stands for the engine's whole API).
#[utoipa::path(get, path = "/api/v1/engines/{id}/{rest}", tag = "engine-api",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id (eng_...)"),
        ("rest" = String, Path, description = "The engine API path after /api/v1/, e.g. `workflows` \
            or `executions/{id}`; the query string is passed on")),
    responses((status = 200, description = "The engine's answer, passed through (any status)"),
        (status = 400, description = "Not an engine id"), (status = 401),
        (status = 403, description = "The caller's role on the engine does not allow it (a viewer saving or running), \
            or the license does not grant the capability"),
        (status = 404, description = "No such engine, or the caller is not a member"),
        (status = 503, description = "The engine is offline or busy; see Retry-After"),
        (status = 504, description = "The engine did not answer in time")))]
#[allow(dead_code)] // documentation only; `forward` serves every method
pub(crate) async fn forward_doc() {}

/// Forwards any method to the caller's engine.
pub(crate) async fn forward(State(gw): State<Gateway>, caller: Caller, req: Request) -> Response {
    match forward_inner(&gw, caller, req, Hop::Edge).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// Forwards over this replica's link, or (from a client) relays to the replica holding it.
pub(crate) async fn forward_inner(
    gw: &Gateway,
    caller: Caller,
    req: Request,
    hop: Hop,
) -> Result<Response> {
    let (mut parts, body) = req.into_parts();
    let (id, rest) = split(parts.uri.path())?;
    let (action, capability) = flowork_access::classify(parts.method.as_str(), &rest);
    let role = gw.permit(&caller, id, action, capability).await?;
    if hop == Hop::Edge
        && !gw.link.is_online(id)
        && let Some(holder) = gw.holder_elsewhere(id).await
    {
        let target = match parts.uri.query() {
            Some(q) => format!("/internal/v1/engines/{id}/forward/{rest}?{q}"),
            None => format!("/internal/v1/engines/{id}/forward/{rest}"),
        };
        let who = Some((caller.user_id, caller.role));
        let req = Request::from_parts(parts, body);
        return gw.relay(id, &holder, &target, req, who).await;
    }
    let target = match parts.uri.query() {
        Some(q) => format!("/api/v1/{rest}?{q}"),
        None => format!("/api/v1/{rest}"),
    };
    let changes_webhooks = rest.starts_with("workflows")
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    parts.uri = engine_uri(&target)?;
    headers::for_api(&mut parts.headers, &caller);
    headers::with_engine_role(&mut parts.headers, role);
    let req = Request::from_parts(parts, body);
    let res = gw.send_to_engine(id, req).await?;
    if changes_webhooks && res.status().is_success() {
        // A workflow was saved, activated or deleted: its webhooks may have changed.
        tokio::spawn(gw.clone().refresh_routes(id));
    }
    Ok(res)
}

/// `(engine id, rest)` from the raw path, `rest` still percent-encoded as the caller sent it.
fn split(path: &str) -> Result<(EngineId, String)> {
    let tail = path.strip_prefix(PREFIX).unwrap_or_default();
    let (raw_id, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let id = input::id(raw_id, "id")?;
    if rest.is_empty() || super::webhooks::has_dot_segment(rest) {
        return Err(GatewayError::not_found("route", path));
    }
    Ok((id, rest.to_owned()))
}

pub(crate) fn engine_uri(target: &str) -> Result<Uri> {
    target
        .parse()
        .map_err(|_| GatewayError::invalid("path", "not a valid request path"))
}

impl Gateway {
    /// Sends `req` (already addressed to the engine's own routes) down `engine`'s link, within
    /// the forward timeout.
    pub(crate) async fn send_to_engine(
        &self,
        engine: EngineId,
        req: http::Request<Body>,
    ) -> Result<Response, LinkError> {
        let deadline = Instant::now() + self.link.settings.forward_timeout;
        self.link.hub.forward(&link_id(engine), req, deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_the_encoded_rest() {
        let id = EngineId::new();
        let (got, rest) = split(&format!("{PREFIX}{id}/workflows/a%2Fb")).expect("split");
        assert_eq!((got, rest.as_str()), (id, "workflows/a%2Fb"));
        assert!(split(&format!("{PREFIX}{id}/")).is_err());
        assert!(split(&format!("{PREFIX}{id}/workflows/../../auth/me")).is_err());
        assert!(split(&format!("{PREFIX}nope/x")).is_err());
    }
}
