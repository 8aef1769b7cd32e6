//! The gateway's webhook buffer (DESIGN §3): webhooks for an engine that is offline, kept until
//! the engine reconnects, and the gateway's copy of each engine's webhook table (so a gateway
//! restarted while an engine is away still knows which paths to buffer).
//!
//! Part of [`AccountStore`](crate::AccountStore) (its supertrait), so the gateway reaches it
//! through the one account store it already holds.

use async_trait::async_trait;
use flowork_model::{EngineId, Timestamp};

use crate::error::{Result, StorageError};

/// A webhook delivery to buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookDelivery {
    /// Unique; sent to the engine as `x-flowork-delivery-id` so it can drop a redelivery.
    pub id: String,
    pub engine_id: EngineId,
    pub method: String,
    /// The engine-side path, without `/webhook/` (as the caller sent it, still percent-encoded).
    pub path: String,
    pub query: Option<String>,
    /// Header names and raw values, in order (repeated names allowed).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub received_at: Timestamp,
}

/// A buffered delivery, with its position in the engine's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Increases with every buffered delivery: deliveries go out in this order.
    pub seq: i64,
    pub delivery: NewWebhookDelivery,
}

/// What waits for one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookBacklog {
    pub count: u64,
    /// The bodies' total size.
    pub bytes: u64,
}

/// Buffered webhooks and the gateway's copy of engines' webhook tables.
#[async_trait]
pub trait WebhookBufferStore: Send + Sync {
    /// Appends a delivery to its engine's queue; answers its `seq`. NotFound if the engine is
    /// not registered, Conflict if the id exists.
    async fn buffer_webhook(&self, new: NewWebhookDelivery) -> Result<i64>;
    /// Up to `limit` of the engine's deliveries with `seq > after`, oldest first.
    async fn pending_webhooks(
        &self,
        engine: EngineId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
    /// How many deliveries wait for the engine, and their body bytes.
    async fn webhook_backlog(&self, engine: EngineId) -> Result<WebhookBacklog>;
    /// Forgets a delivery (it was delivered); false if it was already gone.
    async fn delete_webhook(&self, engine: EngineId, id: &str) -> Result<bool>;
    /// Deletes deliveries received before `before` (never delivered: their engine stayed
    /// away); answers how many.
    async fn purge_webhooks(&self, before: Timestamp) -> Result<u64>;
    /// Replaces the engine's webhook table (opaque JSON text, the engine's own format).
    async fn set_webhook_routes(&self, engine: EngineId, routes: &str, at: Timestamp)
    -> Result<()>;
    /// The engine's last known webhook table, if any.
    async fn webhook_routes(&self, engine: EngineId) -> Result<Option<String>>;
}

/// Headers as stored: a JSON array of `[name, value]`, each value byte kept as the char of the
/// same code point (Latin-1), so any header value (not only UTF-8) round-trips and ASCII ones
/// stay readable.
pub(crate) fn encode_headers(headers: &[(String, Vec<u8>)]) -> String {
    let pairs: Vec<(&str, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.iter().map(|&b| char::from(b)).collect()))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

/// The inverse of [`encode_headers`].
pub(crate) fn decode_headers(text: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let corrupt = |why: &str| StorageError::Backend(format!("corrupt buffered headers: {why}"));
    let pairs: Vec<(String, String)> =
        serde_json::from_str(text).map_err(|e| corrupt(&e.to_string()))?;
    pairs
        .into_iter()
        .map(|(n, v)| {
            let bytes = v
                .chars()
                .map(|c| u8::try_from(u32::from(c)).map_err(|_| corrupt("value out of range")))
                .collect::<Result<Vec<u8>>>()?;
            Ok((n, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_any_bytes() {
        let h = vec![
            ("content-type".to_owned(), b"application/json".to_vec()),
            ("x-odd".to_owned(), vec![0x80, 0xff, b'a']),
            ("x-odd".to_owned(), Vec::new()),
        ];
        let text = encode_headers(&h);
        assert!(text.contains("application/json"), "{text}");
        assert_eq!(decode_headers(&text).expect("decode"), h);
    }
}
