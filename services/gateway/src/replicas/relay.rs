//! Relaying to the replica that holds an engine's link: the request goes on, signed, to that
//! replica's internal route, bodies streamed both ways (an SSE answer streams for as long as
//! it lasts). Relays also carry the small notices a holder needs: "a webhook was buffered for
//! your engine" and "close its link".

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use flowork_link::LinkError;
use flowork_model::EngineId;

use super::sign::Identity;
use crate::Gateway;
use crate::error::{GatewayError, Result};
use crate::link::headers;

/// Beyond the forward timeout, so the holder's own 504 arrives before ours.
const SLACK: Duration = Duration::from_secs(5);
/// For notices: a holder that does not answer this fast is as good as gone.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(5);

impl Gateway {
    /// Sends `req` to `holder` at `target` (internal path and query) on behalf of `who` (the
    /// caller's credentials then stay here), and answers what the holder answered.
    pub(crate) async fn relay(
        &self,
        engine: EngineId,
        holder: &str,
        target: &str,
        req: Request,
        who: Option<Identity>,
    ) -> Result<Response> {
        let (parts, body) = req.into_parts();
        let mut h = parts.headers;
        headers::strip(&mut h);
        h.remove(header::HOST);
        if who.is_some() {
            for name in [
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
            ] {
                h.remove(name);
            }
        }
        let body = reqwest::Body::wrap_stream(body.into_data_stream());
        let send = self
            .signed(holder, target, parts.method, h, who)?
            .body(body);
        let wait = self.link.settings.forward_timeout + SLACK;
        metrics::counter!("flowork_gateway_relayed_total").increment(1);
        let res = match tokio::time::timeout(wait, send.send()).await {
            Err(_) => return Err(LinkError::Timeout.into()),
            Ok(Err(e)) => return Err(unreachable(engine, holder, &e)),
            Ok(Ok(res)) => res,
        };
        let mut out = Response::builder().status(res.status());
        if let Some(h) = out.headers_mut() {
            h.extend(res.headers().clone());
            headers::strip(h);
        }
        out.body(Body::from_stream(res.bytes_stream()))
            .map_err(|e| GatewayError::Internal(format!("relayed answer: {e}")))
    }

    /// Tells `holder` that `engine` has new buffered webhooks (it drains them over its link).
    pub(crate) async fn nudge(self, engine: EngineId, holder: String) {
        self.notice(engine, &holder, "drain").await;
    }

    /// Closes `engine`'s link wherever it is (its token changed or it was deleted).
    pub(crate) async fn disconnect_everywhere(&self, engine: EngineId) {
        self.link.hub.disconnect(&crate::link::link_id(engine));
        if let Some(holder) = self.holder_elsewhere(engine).await {
            self.notice(engine, &holder, "disconnect").await;
        }
    }

    async fn notice(&self, engine: EngineId, holder: &str, what: &str) {
        let target = format!("/internal/v1/engines/{engine}/{what}");
        let Ok(req) = self.signed(holder, &target, Method::POST, HeaderMap::new(), None) else {
            return;
        };
        match req.timeout(NOTICE_TIMEOUT).send().await {
            Ok(res) if res.status().is_success() => {}
            Ok(res) => {
                tracing::warn!(%engine, holder, status = %res.status(), what, "a replica refused a notice");
            }
            Err(e) => {
                let _ = unreachable(engine, holder, &e);
            }
        }
    }

    /// A request to `holder`'s `target`, signed for `who`.
    fn signed(
        &self,
        holder: &str,
        target: &str,
        method: Method,
        mut h: HeaderMap,
        who: Option<Identity>,
    ) -> Result<reqwest::RequestBuilder> {
        let r = self
            .replicas
            .as_ref()
            .ok_or_else(|| GatewayError::Internal("relay without replicas".into()))?;
        let url = reqwest::Url::parse(&format!("{holder}{target}"))
            .map_err(|e| GatewayError::Internal(format!("relay URL: {e}")))?;
        if !same_route(target, url.path()) {
            // URL parsing resolved something (a `\..`) that climbed out of the route we meant:
            // never sign that.
            return Err(GatewayError::invalid("path", "not a valid request path"));
        }
        // Sign what the holder will see: the path and query as the URL serializes them.
        let seen = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        r.signer.sign(&method, &seen, who, &mut h);
        Ok(r.http.request(method, url).headers(h))
    }
}

fn unreachable(engine: EngineId, holder: &str, e: &reqwest::Error) -> GatewayError {
    tracing::warn!(%engine, holder, error = %e, "cannot reach the replica holding the engine's link");
    GatewayError::ReplicaUnreachable {
        engine: engine.to_string(),
    }
}

/// Whether `path` still names the same internal route (engine and kind) as `target`.
fn same_route(target: &str, path: &str) -> bool {
    let head = |p: &str| -> Vec<String> {
        let p = p.split('?').next().unwrap_or_default();
        p.split('/').take(6).map(str::to_owned).collect()
    };
    head(target) == head(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_climbs_out_of_its_route_is_caught() {
        let ok = "/internal/v1/engines/eng_1/forward/workflows/a%2Fb?x=1";
        let url = reqwest::Url::parse(&format!("http://h{ok}")).expect("url");
        assert!(same_route(ok, url.path()));
        let bad = "/internal/v1/engines/eng_1/forward/a\\..\\..\\eng_2/disconnect";
        let url = reqwest::Url::parse(&format!("http://h{bad}")).expect("url");
        assert!(!same_route(bad, url.path()), "{}", url.path());
    }
}
