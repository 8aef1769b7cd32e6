//! The gateway's webhook buffer on Postgres.

use async_trait::async_trait;
use flowork_model::{EngineId, Timestamp};
use tokio_postgres::Row;

use super::rows::get;
use super::{PgStore, db_err, is_fk_violation};
use crate::error::{Result, StorageError};
use crate::webhook_buffer::*;

const COLS: &str = "seq, id, engine_id, method, path, query, headers, body, received_at";

fn delivery(r: &Row) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        seq: get(r, 0)?,
        delivery: NewWebhookDelivery {
            id: get(r, 1)?,
            engine_id: get::<&str>(r, 2)?
                .parse()
                .map_err(|e| StorageError::Backend(format!("corrupt row (column 2): {e}")))?,
            method: get(r, 3)?,
            path: get(r, 4)?,
            query: get(r, 5)?,
            headers: decode_headers(get(r, 6)?)?,
            body: get(r, 7)?,
            received_at: Timestamp(get(r, 8)?),
        },
    })
}

fn engine_err(engine: EngineId) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |e| {
        if is_fk_violation(&e) {
            StorageError::not_found("engine", engine)
        } else {
            db_err(e)
        }
    }
}

#[async_trait]
impl WebhookBufferStore for PgStore {
    async fn buffer_webhook(&self, new: NewWebhookDelivery) -> Result<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO webhook_deliveries
                     (id, engine_id, method, path, query, headers, body, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                &[
                    &new.id,
                    &new.engine_id.to_string(),
                    &new.method,
                    &new.path,
                    &new.query,
                    &encode_headers(&new.headers),
                    &new.body,
                    &new.received_at.millis(),
                ],
            )
            .await
            .map_err(engine_err(new.engine_id))?;
        get(&row, 0)
    }

    async fn pending_webhooks(
        &self,
        engine: EngineId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {COLS} FROM webhook_deliveries WHERE engine_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3"
        );
        let rows = client
            .query(&sql, &[&engine.to_string(), &after, &i64::from(limit)])
            .await
            .map_err(db_err)?;
        rows.iter().map(delivery).collect()
    }

    async fn webhook_backlog(&self, engine: EngineId) -> Result<WebhookBacklog> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*), coalesce(sum(length(body)), 0)::BIGINT
                 FROM webhook_deliveries WHERE engine_id = $1",
                &[&engine.to_string()],
            )
            .await
            .map_err(db_err)?;
        Ok(WebhookBacklog {
            count: get::<i64>(&row, 0)?.unsigned_abs(),
            bytes: get::<i64>(&row, 1)?.unsigned_abs(),
        })
    }

    async fn purge_webhooks(&self, before: Timestamp) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM webhook_deliveries WHERE received_at < $1",
                &[&before.millis()],
            )
            .await
            .map_err(db_err)
    }

    async fn delete_webhook(&self, engine: EngineId, id: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM webhook_deliveries WHERE engine_id = $1 AND id = $2",
                &[&engine.to_string(), &id],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn set_webhook_routes(
        &self,
        engine: EngineId,
        routes: &str,
        at: Timestamp,
    ) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO engine_webhook_routes (engine_id, routes, updated_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (engine_id) DO UPDATE SET routes = $2, updated_at = $3",
                &[&engine.to_string(), &routes, &at.millis()],
            )
            .await
            .map_err(engine_err(engine))?;
        Ok(())
    }

    async fn webhook_routes(&self, engine: EngineId) -> Result<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT routes FROM engine_webhook_routes WHERE engine_id = $1",
                &[&engine.to_string()],
            )
            .await
            .map_err(db_err)?;
        row.map(|r| get::<String>(&r, 0)).transpose()
    }
}
