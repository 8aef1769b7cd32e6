//! The routes other replicas call on the holder of an engine's link, mounted only with
//! `gateway.redis_url`. Every call must carry a fresh signature (401 otherwise); what it asks
//! for is then served here exactly as a client's request would be, with the identity the
//! first replica established, and never relayed again.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use flowork_model::EngineId;

use super::Hop;
use super::sign::{self, Identity};
use crate::auth::{Caller, Via};
use crate::error::{GatewayError, Result};
use crate::link::{events, forward, webhooks};
use crate::{Gateway, input};

const PREFIX: &str = "/internal/v1/engines/";

/// The internal routes.
pub(crate) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/internal/v1/engines/{id}/forward/{*rest}", any(forward))
        .route("/internal/v1/engines/{id}/events/{execution}", get(events))
        .route("/internal/v1/engines/{id}/webhook/{*path}", any(webhook))
        .route("/internal/v1/engines/{id}/drain", post(drain))
        .route("/internal/v1/engines/{id}/disconnect", post(disconnect))
}

/// Checks the signature and takes the signing headers off (the engine never sees them).
fn verified(
    gw: &Gateway,
    method: &Method,
    uri: &Uri,
    h: &mut HeaderMap,
) -> Result<Option<Identity>> {
    let signer = &gw
        .replicas
        .as_ref()
        .ok_or(GatewayError::Unauthenticated("not a replica"))?
        .signer;
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let who = signer.verify(method, target, h, sign::now_secs())?;
    for name in [sign::TS, sign::SIG, sign::USER, sign::ROLE] {
        h.remove(name);
    }
    Ok(who)
}

fn caller(who: Option<Identity>) -> Result<Caller> {
    let (user_id, role) = who.ok_or(GatewayError::Unauthenticated(
        "a relayed API call names its caller",
    ))?;
    Ok(Caller {
        user_id,
        role,
        via: Via::Relay,
    })
}

/// `/internal/v1/engines/{id}/{kind}/{tail}` → `{to}{id}/{tail}`, query kept.
fn rewrite(uri: &Uri, kind: &str, to: &str) -> Result<Uri> {
    let tail = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let (id, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let rest = rest.strip_prefix(kind).unwrap_or(rest);
    let path = format!("{to}{id}{rest}");
    forward::engine_uri(&match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    })
}

async fn forward(State(gw): State<Gateway>, mut req: Request) -> Response {
    let run = async {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let who = caller(verified(&gw, &method, &uri, req.headers_mut())?)?;
        *req.uri_mut() = rewrite(&uri, "forward", "/api/v1/engines/")?;
        forward::forward_inner(&gw, who, req, Hop::Relayed).await
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn events(
    State(gw): State<Gateway>,
    Path((id, execution)): Path<(String, String)>,
    mut req: Request,
) -> Response {
    let run = async {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let who = caller(verified(&gw, &method, &uri, req.headers_mut())?)?;
        events::follow_inner(gw.clone(), who, &id, &execution, Hop::Relayed).await
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn webhook(State(gw): State<Gateway>, mut req: Request) -> Response {
    let (method, uri) = (req.method().clone(), req.uri().clone());
    if let Err(e) = verified(&gw, &method, &uri, req.headers_mut()) {
        return e.into_response();
    }
    match rewrite(&uri, "webhook", "/webhook/") {
        Ok(u) => *req.uri_mut() = u,
        Err(e) => return e.into_response(),
    }
    webhooks::receive_inner(gw, req, Hop::Relayed).await
}

/// A replica buffered a webhook for an engine linked here: drain it now.
async fn drain(State(gw): State<Gateway>, Path(id): Path<String>, req: Request) -> Response {
    let run = async {
        let engine = notice(&gw, &id, req)?;
        gw.link.mark_backlog(engine);
        if gw.link.is_online(engine) {
            tokio::spawn(gw.clone().drain(engine));
        }
        Ok::<_, GatewayError>(StatusCode::ACCEPTED)
    };
    run.await.into_response()
}

/// The engine's token changed or it was deleted (at another replica): close its link here.
async fn disconnect(State(gw): State<Gateway>, Path(id): Path<String>, req: Request) -> Response {
    let run = async {
        let engine = notice(&gw, &id, req)?;
        gw.link.hub.disconnect(&crate::link::link_id(engine));
        Ok::<_, GatewayError>(StatusCode::NO_CONTENT)
    };
    run.await.into_response()
}

fn notice(gw: &Gateway, id: &str, mut req: Request) -> Result<EngineId> {
    let (method, uri) = (req.method().clone(), req.uri().clone());
    verified(gw, &method, &uri, req.headers_mut())?;
    input::id(id, "id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_paths_map_back_to_the_public_ones() {
        let uri: Uri = "/internal/v1/engines/eng_1/forward/workflows/a%2Fb?x=1"
            .parse()
            .expect("uri");
        let got = rewrite(&uri, "forward", "/api/v1/engines/").expect("rewrite");
        assert_eq!(got, "/api/v1/engines/eng_1/workflows/a%2Fb?x=1");
        let uri: Uri = "/internal/v1/engines/eng_1/webhook/orders/new"
            .parse()
            .expect("uri");
        let got = rewrite(&uri, "webhook", "/webhook/").expect("rewrite");
        assert_eq!(got, "/webhook/eng_1/orders/new");
    }
}
