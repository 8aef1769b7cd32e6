//! The gateway's webhook buffer read and written in its own SQLite file while the gateway is
//! down, to replay the crash that makes a redelivery: the engine ran a delivery, and the gateway
//! died before it forgot it.

use std::path::Path;

use flowork_model::EngineId;
use flowork_storage::NewWebhookDelivery;

fn url(gateway_dir: &Path) -> String {
    format!("sqlite://{}", gateway_dir.join("flowork.db").display())
}

/// What waits for `engine` in the (stopped) gateway's buffer, oldest first.
pub async fn pending(gateway_dir: &Path, engine: &str) -> Vec<NewWebhookDelivery> {
    let engine: EngineId = engine.parse().expect("engine id");
    let (_, accounts) = flowork_storage::connect_with_accounts(&url(gateway_dir), 1)
        .await
        .expect("the gateway's database");
    let rows = accounts
        .pending_webhooks(engine, 0, 1000)
        .await
        .expect("pending webhooks");
    rows.into_iter().map(|d| d.delivery).collect()
}

/// Puts `deliveries` back into the (stopped) gateway's buffer, as if it had never forgotten them.
pub async fn restore(gateway_dir: &Path, deliveries: &[NewWebhookDelivery]) {
    let (_, accounts) = flowork_storage::connect_with_accounts(&url(gateway_dir), 1)
        .await
        .expect("the gateway's database");
    for d in deliveries {
        accounts
            .buffer_webhook(d.clone())
            .await
            .expect("buffer again");
    }
}
