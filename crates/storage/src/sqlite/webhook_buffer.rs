//! The gateway's webhook buffer on SQLite.

use async_trait::async_trait;
use flowork_model::{EngineId, Timestamp};
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, db_err, is_fk_violation};
use crate::error::{Result, StorageError};
use crate::webhook_buffer::*;

const COLS: &str = "seq, id, engine_id, method, path, query, headers, body, received_at";

fn delivery(r: &Row<'_>) -> rusqlite::Result<WebhookDelivery> {
    let engine: String = r.get(2)?;
    let headers: String = r.get(6)?;
    let bad = |idx, e: StorageError| {
        rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
    };
    Ok(WebhookDelivery {
        seq: r.get(0)?,
        delivery: NewWebhookDelivery {
            id: r.get(1)?,
            engine_id: engine.parse().map_err(|e: flowork_model::IdError| {
                bad(2, StorageError::Backend(e.to_string()))
            })?,
            method: r.get(3)?,
            path: r.get(4)?,
            query: r.get(5)?,
            headers: decode_headers(&headers).map_err(|e| bad(6, e))?,
            body: r.get(7)?,
            received_at: Timestamp(r.get(8)?),
        },
    })
}

#[async_trait]
impl WebhookBufferStore for SqliteStore {
    async fn buffer_webhook(&self, new: NewWebhookDelivery) -> Result<i64> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO webhook_deliveries
                     (id, engine_id, method, path, query, headers, body, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![
                        new.id,
                        new.engine_id.to_string(),
                        new.method,
                        new.path,
                        new.query,
                        encode_headers(&new.headers),
                        new.body,
                        new.received_at.millis()
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StorageError::not_found("engine", new.engine_id)
                } else {
                    db_err(e)
                }
            })
        })
        .await
    }

    async fn pending_webhooks(
        &self,
        engine: EngineId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLS} FROM webhook_deliveries WHERE engine_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3"
            ))
            .and_then(|mut st| {
                st.query_map(params![engine.to_string(), after, limit], delivery)?
                    .collect()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn webhook_backlog(&self, engine: EngineId) -> Result<WebhookBacklog> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT count(*), coalesce(sum(length(body)), 0)
                 FROM webhook_deliveries WHERE engine_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([engine.to_string()], |r| {
                    Ok(WebhookBacklog {
                        count: r.get::<_, i64>(0)?.unsigned_abs(),
                        bytes: r.get::<_, i64>(1)?.unsigned_abs(),
                    })
                })
            })
            .map_err(db_err)
        })
        .await
    }

    async fn purge_webhooks(&self, before: Timestamp) -> Result<u64> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < ?1",
                [before.millis()],
            )
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }

    async fn delete_webhook(&self, engine: EngineId, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            c.execute(
                "DELETE FROM webhook_deliveries WHERE engine_id = ?1 AND id = ?2",
                params![engine.to_string(), id],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn set_webhook_routes(
        &self,
        engine: EngineId,
        routes: &str,
        at: Timestamp,
    ) -> Result<()> {
        let routes = routes.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO engine_webhook_routes (engine_id, routes, updated_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (engine_id) DO UPDATE SET routes = ?2, updated_at = ?3",
                params![engine.to_string(), routes, at.millis()],
            )
            .map(drop)
            .map_err(|e| {
                if is_fk_violation(&e) {
                    StorageError::not_found("engine", engine)
                } else {
                    db_err(e)
                }
            })
        })
        .await
    }

    async fn webhook_routes(&self, engine: EngineId) -> Result<Option<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT routes FROM engine_webhook_routes WHERE engine_id = ?1")
                .and_then(|mut st| st.query_row([engine.to_string()], |r| r.get(0)).optional())
                .map_err(db_err)
        })
        .await
    }
}
