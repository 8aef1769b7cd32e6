//! The embedded durable queue on Postgres.
//!
//! Leasing picks the oldest visible message with `FOR UPDATE SKIP LOCKED`, so concurrent workers
//! never wait on, or take, each other's message. A lease sets `available_at` to its end: an
//! expired lease makes the message visible again without a separate sweep. Renewing a lease
//! (`extend_lease`) moves `lease_until` and `available_at` together, so a renewed message stays
//! hidden. Times come from the database clock.

use std::time::Duration;

use async_trait::async_trait;
use flowork_model::Timestamp;
use serde_json::Value;

use super::rows::{self, get};
use super::{PgStore, db_err};
use crate::api::QueueStore;
use crate::error::{Result, StorageError};
use crate::types::Job;

/// Milliseconds since the epoch by the database clock.
pub(super) const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn lost(job_id: i64, worker: &str) -> StorageError {
    StorageError::Conflict(format!(
        "job {job_id} is not leased by {worker} (lease lost or expired)"
    ))
}

#[async_trait]
impl QueueStore for PgStore {
    async fn enqueue(&self, queue: &str, payload: Value, delay: Duration) -> Result<i64> {
        let sql = format!(
            "INSERT INTO queue (queue, payload, attempts, available_at, created_at)
             SELECT $1, $2, 0, t.now + $3, t.now FROM (SELECT {NOW_MS} AS now) t RETURNING id"
        );
        let client = self.client().await?;
        let row = client
            .query_one(&sql, &[&queue, &payload, &millis(delay)])
            .await
            .map_err(db_err)?;
        get(&row, 0)
    }

    async fn enqueue_leased(
        &self,
        queue: &str,
        payload: Value,
        worker: &str,
        lease: Duration,
    ) -> Result<Job> {
        let sql = format!(
            "INSERT INTO queue (queue, payload, attempts, available_at, created_at, locked_by,
               lease_until)
             SELECT $1, $2, 1, t.now + $4, t.now, $3, t.now + $4 FROM (SELECT {NOW_MS} AS now) t
             RETURNING id, lease_until"
        );
        let client = self.client().await?;
        let row = client
            .query_one(&sql, &[&queue, &payload, &worker, &millis(lease)])
            .await
            .map_err(db_err)?;
        Ok(Job {
            id: get(&row, 0)?,
            queue: queue.to_owned(),
            payload,
            attempts: 1,
            lease_until: Timestamp(get(&row, 1)?),
        })
    }

    async fn lease(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let sql = format!(
            "WITH t AS (SELECT {NOW_MS} AS now),
             next AS (SELECT q.id FROM queue q, t WHERE q.queue = $1 AND q.available_at <= t.now
                      ORDER BY q.available_at, q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED)
             UPDATE queue SET attempts = attempts + 1, locked_by = $2,
               lease_until = t.now + $3, available_at = t.now + $3
             FROM next, t WHERE queue.id = next.id
             RETURNING queue.id, queue.queue, queue.payload, queue.attempts, queue.lease_until"
        );
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(&sql, &[&queue, &worker, &millis(lease)])
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        Ok(Some(Job {
            id: get(&row, 0)?,
            queue: get(&row, 1)?,
            payload: get(&row, 2)?,
            attempts: rows::unsigned(&row, 3)?,
            lease_until: Timestamp(get(&row, 4)?),
        }))
    }

    async fn ack(&self, job_id: i64, worker: &str) -> Result<()> {
        let sql = format!(
            "DELETE FROM queue WHERE id = $1 AND locked_by = $2 AND lease_until > {NOW_MS}"
        );
        let client = self.client().await?;
        match client
            .execute(&sql, &[&job_id, &worker])
            .await
            .map_err(db_err)?
        {
            0 => Err(lost(job_id, worker)),
            _ => Ok(()),
        }
    }

    async fn nack(&self, job_id: i64, worker: &str, delay: Duration) -> Result<()> {
        let sql = format!(
            "UPDATE queue SET locked_by = NULL, lease_until = NULL, available_at = t.now + $3
             FROM (SELECT {NOW_MS} AS now) t
             WHERE id = $1 AND locked_by = $2 AND lease_until > t.now"
        );
        let client = self.client().await?;
        match client
            .execute(&sql, &[&job_id, &worker, &millis(delay)])
            .await
            .map_err(db_err)?
        {
            0 => Err(lost(job_id, worker)),
            _ => Ok(()),
        }
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<()> {
        let sql = format!(
            "UPDATE queue SET lease_until = t.now + $3, available_at = t.now + $3
             FROM (SELECT {NOW_MS} AS now) t
             WHERE id = $1 AND locked_by = $2 AND lease_until > t.now"
        );
        let client = self.client().await?;
        match client
            .execute(&sql, &[&job_id, &worker, &millis(lease)])
            .await
            .map_err(db_err)?
        {
            0 => Err(lost(job_id, worker)),
            _ => Ok(()),
        }
    }

    async fn queue_len(&self, queue: &str) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT COUNT(*) FROM queue WHERE queue = $1", &[&queue])
            .await
            .map_err(db_err)?;
        rows::unsigned(&row, 0)
    }
}
