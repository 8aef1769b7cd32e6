//! Handing buffered webhooks to their engine once it is back, oldest first, each once: a
//! delivery is deleted only after the engine answered it (2xx, or a 4xx other than 408/429,
//! which retrying cannot fix); on a 5xx or a link error the drain stops and is retried later,
//! so order holds. A delivery can still reach the engine twice (it answered, then the delete
//! failed or the gateway died in between), which is why each carries `x-flowork-delivery-id`:
//! the engine drops an id it has already seen.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use flowork_model::{EngineId, Timestamp};
use flowork_storage::WebhookDelivery;

use super::forward::engine_uri;
use super::headers::DELIVERY_ID;
use super::webhooks::WebhookRoute;
use crate::Gateway;

/// Deliveries read from the store at a time.
const BATCH: u32 = 32;
/// The most of an engine's answer read before it is dropped (reading it lets the engine's
/// handler finish instead of being cancelled).
const ANSWER_LIMIT: usize = 64 * 1024;

enum Outcome {
    /// The engine answered for good: forget the delivery.
    Done,
    /// Not now: stop, keep it and everything after it.
    Later,
}

impl Gateway {
    /// Delivers `engine`'s buffered webhooks while it is online. At most one drain per engine
    /// runs; a drain that finds another running leaves the work to it (or to the retry tick).
    pub(crate) async fn drain(self, engine: EngineId) {
        let lock = self.link.drain_lock(engine);
        let Ok(_guard) = lock.try_lock() else { return };
        // Always read from the start: delivered rows are gone, and on Postgres a row can commit
        // after one with a higher seq, so "after the last delivered" could skip it.
        loop {
            if !self.link.is_online(engine) {
                return;
            }
            let batch = match self.accounts.pending_webhooks(engine, 0, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%engine, error = %e, "cannot read buffered webhooks");
                    return;
                }
            };
            if batch.is_empty() {
                // A webhook buffered meanwhile is stored first and marks the backlog second:
                // clear, then look once more, and one of the two sides sees the other.
                self.link.clear_backlog(engine);
                match self.accounts.pending_webhooks(engine, 0, 1).await {
                    Ok(more) if more.is_empty() => return,
                    Ok(_) => self.link.mark_backlog(engine),
                    Err(_) => {
                        self.link.mark_backlog(engine);
                        return;
                    }
                }
                continue;
            }
            for d in batch {
                match self.deliver(&d).await {
                    Outcome::Done => {
                        if let Err(e) = self.accounts.delete_webhook(engine, &d.delivery.id).await {
                            // The engine has it; a redelivery is dropped by its id.
                            tracing::warn!(%engine, error = %e, "cannot forget a delivered webhook");
                            return;
                        }
                    }
                    Outcome::Later => return,
                }
            }
        }
    }

    async fn deliver(&self, d: &WebhookDelivery) -> Outcome {
        let w = &d.delivery;
        let Some(req) = request(d) else {
            // Cannot be rebuilt (it was valid when stored): nothing a retry would change.
            tracing::error!(engine = %w.engine_id, delivery = %w.id, "dropping an unreadable buffered webhook");
            return Outcome::Done;
        };
        match self.send_to_engine(w.engine_id, req).await {
            Ok(res) => {
                let status = res.status();
                let _ = axum::body::to_bytes(res.into_body(), ANSWER_LIMIT).await;
                let retry = status.is_server_error()
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS;
                tracing::info!(engine = %w.engine_id, delivery = %w.id, %status, "delivered a buffered webhook");
                if retry {
                    metrics::counter!("flowork_gateway_webhook_delivery_retries_total")
                        .increment(1);
                    Outcome::Later
                } else {
                    metrics::counter!("flowork_gateway_webhooks_delivered_total").increment(1);
                    Outcome::Done
                }
            }
            Err(e) => {
                tracing::info!(engine = %w.engine_id, delivery = %w.id, error = %e, "buffered webhook not delivered; will retry");
                metrics::counter!("flowork_gateway_webhook_delivery_retries_total").increment(1);
                Outcome::Later
            }
        }
    }

    /// Fetches the engine's webhook table (`GET /api/v1/webhooks`) and keeps it, in memory and
    /// in the store.
    pub(crate) async fn refresh_routes(self, engine: EngineId) {
        let Ok(req) = http::Request::get("/api/v1/webhooks").body(Body::empty()) else {
            return;
        };
        let res = match self.send_to_engine(engine, req).await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::warn!(%engine, status = %r.status(), "the engine did not list its webhooks");
                return;
            }
            Err(e) => {
                tracing::warn!(%engine, error = %e, "cannot fetch the engine's webhooks");
                return;
            }
        };
        #[derive(serde::Deserialize)]
        struct Items {
            items: Vec<WebhookRoute>,
        }
        let routes = match axum::body::to_bytes(res.into_body(), 4 << 20).await {
            Ok(b) => match serde_json::from_slice::<Items>(&b) {
                Ok(i) => i.items,
                Err(e) => {
                    tracing::warn!(%engine, error = %e, "the engine's webhook list is malformed");
                    return;
                }
            },
            Err(e) => {
                tracing::warn!(%engine, error = %e, "cannot read the engine's webhook list");
                return;
            }
        };
        let text = serde_json::to_string(&routes).unwrap_or_else(|_| "[]".into());
        self.link.cache_routes(engine, routes);
        if let Err(e) = self
            .accounts
            .set_webhook_routes(engine, &text, Timestamp::now())
            .await
        {
            tracing::warn!(%engine, error = %e, "cannot store the engine's webhook table");
        }
    }
}

/// The stored webhook as a request to the engine's `/webhook/{path}`.
fn request(d: &WebhookDelivery) -> Option<http::Request<Body>> {
    let w = &d.delivery;
    let target = match &w.query {
        Some(q) => format!("/webhook/{}?{q}", w.path),
        None => format!("/webhook/{}", w.path),
    };
    let mut req = http::Request::new(Body::from(w.body.clone()));
    *req.method_mut() = Method::from_bytes(w.method.as_bytes()).ok()?;
    *req.uri_mut() = engine_uri(&target).ok()?;
    let h = req.headers_mut();
    for (name, value) in &w.headers {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_bytes(value).ok()?,
        );
    }
    h.insert(DELIVERY_ID, HeaderValue::from_str(&w.id).ok()?);
    Some(req)
}
