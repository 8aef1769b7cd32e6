//! The embedded durable queue on SQLite.
//!
//! Leasing is one UPDATE ... RETURNING on the single writer connection, so two workers can never
//! take the same message. A lease sets `available_at` to its end: an expired lease makes the
//! message visible again without a separate sweep. Renewing a lease (`extend_lease`) moves
//! `lease_until` and `available_at` together, so a renewed message stays hidden.

use std::time::Duration;

use async_trait::async_trait;
use flowork_model::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{SqliteStore, db_err, now};
use crate::api::QueueStore;
use crate::error::{Result, StorageError};
use crate::types::Job;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn lost(job_id: i64, worker: &str) -> StorageError {
    StorageError::Conflict(format!(
        "job {job_id} is not leased by {worker} (lease lost or expired)"
    ))
}

/// `Ok` if the statement touched the job (the worker still held it), else "lease lost".
fn held(rows: usize, job_id: i64, worker: &str) -> Result<()> {
    if rows == 0 {
        Err(lost(job_id, worker))
    } else {
        Ok(())
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn enqueue(&self, queue: &str, payload: Value, delay: Duration) -> Result<i64> {
        let queue = queue.to_owned();
        let payload = super::rows::to_json(&payload)?;
        self.write(move |c| {
            let t = now();
            c.prepare_cached(
                "INSERT INTO queue (queue, payload, attempts, available_at, created_at)
                 VALUES (?1, ?2, 0, ?3, ?4) RETURNING id",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![queue, payload, t.saturating_add(millis(delay)), t],
                    |r| r.get(0),
                )
            })
            .map_err(db_err)
        })
        .await
    }

    async fn enqueue_leased(
        &self,
        queue: &str,
        payload: Value,
        worker: &str,
        lease: Duration,
    ) -> Result<Job> {
        let (queue, worker) = (queue.to_owned(), worker.to_owned());
        let text = super::rows::to_json(&payload)?;
        self.write(move |c| {
            let t = now();
            let until = t.saturating_add(millis(lease));
            let id = c
                .prepare_cached(
                    "INSERT INTO queue (queue, payload, attempts, available_at, created_at,
                       locked_by, lease_until)
                     VALUES (?1, ?2, 1, ?3, ?4, ?5, ?3) RETURNING id",
                )
                .and_then(|mut st| {
                    st.query_row(params![queue, text, until, t, worker], |r| r.get(0))
                })
                .map_err(db_err)?;
            Ok(Job {
                id,
                queue: queue.clone(),
                payload: payload.clone(),
                attempts: 1,
                lease_until: Timestamp(until),
            })
        })
        .await
    }

    async fn lease(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let (queue, worker) = (queue.to_owned(), worker.to_owned());
        self.write(move |c| {
            let t = now();
            let until = t.saturating_add(millis(lease));
            let row = c
                .prepare_cached(
                    "UPDATE queue SET attempts = attempts + 1, locked_by = ?2, lease_until = ?4,
                       available_at = ?4
                     WHERE id = (SELECT id FROM queue WHERE queue = ?1 AND available_at <= ?3
                                 ORDER BY available_at, id LIMIT 1)
                     RETURNING id, queue, payload, attempts, lease_until",
                )
                .and_then(|mut st| {
                    st.query_row(params![queue, worker, t, until], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, u32>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    })
                    .optional()
                })
                .map_err(db_err)?;
            row.map(|(id, queue, payload, attempts, until)| {
                let payload = serde_json::from_str(&payload).map_err(|e| {
                    StorageError::Backend(format!("job {id}: corrupt payload: {e}"))
                })?;
                Ok(Job {
                    id,
                    queue,
                    payload,
                    attempts,
                    lease_until: Timestamp(until),
                })
            })
            .transpose()
        })
        .await
    }

    async fn ack(&self, job_id: i64, worker: &str) -> Result<()> {
        let worker = worker.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM queue WHERE id = ?1 AND locked_by = ?2 AND lease_until > ?3",
                )
                .and_then(|mut st| st.execute(params![job_id, worker, now()]))
                .map_err(db_err)?;
            held(n, job_id, &worker)
        })
        .await
    }

    async fn nack(&self, job_id: i64, worker: &str, delay: Duration) -> Result<()> {
        let worker = worker.to_owned();
        self.write(move |c| {
            let t = now();
            let n = c
                .execute(
                    "UPDATE queue SET locked_by = NULL, lease_until = NULL, available_at = ?4
                     WHERE id = ?1 AND locked_by = ?2 AND lease_until > ?3",
                    params![job_id, worker, t, t.saturating_add(millis(delay))],
                )
                .map_err(db_err)?;
            held(n, job_id, &worker)
        })
        .await
    }

    async fn extend_lease(&self, job_id: i64, worker: &str, lease: Duration) -> Result<()> {
        let worker = worker.to_owned();
        self.write(move |c| {
            let t = now();
            let n = c
                .execute(
                    "UPDATE queue SET lease_until = ?4, available_at = ?4
                     WHERE id = ?1 AND locked_by = ?2 AND lease_until > ?3",
                    params![job_id, worker, t, t.saturating_add(millis(lease))],
                )
                .map_err(db_err)?;
            held(n, job_id, &worker)
        })
        .await
    }

    async fn queue_len(&self, queue: &str) -> Result<u64> {
        let queue = queue.to_owned();
        self.read(move |c| {
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM queue WHERE queue = ?1",
                    [&queue],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            u64::try_from(n).map_err(|e| StorageError::Backend(format!("queue length: {e}")))
        })
        .await
    }
}
