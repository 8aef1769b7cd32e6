//! The gateway's accounts (refresh tokens, API keys, engines) on Postgres.

use std::fmt::Display;

use async_trait::async_trait;
use flowork_model::{ApiKeyId, EngineId, Timestamp, UserId};
use tokio_postgres::{GenericClient, Row};

use super::rows::{self, USER_COLS, get};
use super::{PgStore, db_err, is_fk_violation, now};
use crate::accounts::*;
use crate::error::{Result, StorageError};
use crate::types::User;

const KEY_COLS: &str = "id, user_id, name, prefix, created_at, last_used_at";
const ENGINE_COLS: &str = "id, owner_id, name, created_at, last_seen_at";

pub(super) fn parsed<T: std::str::FromStr>(r: &Row, idx: usize) -> Result<T>
where
    T::Err: Display,
{
    get::<&str>(r, idx)?
        .parse()
        .map_err(|e| StorageError::Backend(format!("corrupt row (column {idx}): {e}")))
}

fn api_key(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: parsed(r, 0)?,
        user_id: parsed(r, 1)?,
        name: get(r, 2)?,
        prefix: get(r, 3)?,
        created_at: Timestamp(get(r, 4)?),
        last_used_at: get::<Option<i64>>(r, 5)?.map(Timestamp),
    })
}

fn engine(r: &Row) -> Result<Engine> {
    Ok(Engine {
        id: parsed(r, 0)?,
        owner_id: parsed(r, 1)?,
        name: get(r, 2)?,
        created_at: Timestamp(get(r, 3)?),
        last_seen_at: get::<Option<i64>>(r, 4)?.map(Timestamp),
    })
}

/// Maps an insert's error: a missing user is NotFound, a duplicate is `conflict`.
pub(super) fn insert_err(
    user: UserId,
    conflict: String,
) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |e| {
        if is_fk_violation(&e) {
            return StorageError::not_found("user", user);
        }
        match db_err(e) {
            StorageError::Conflict(_) => StorageError::Conflict(conflict),
            e => e,
        }
    }
}

async fn insert_refresh(
    c: &impl GenericClient,
    family: &str,
    new: &NewRefreshToken,
    t: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO refresh_tokens (id, family, user_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &uuid::Uuid::now_v7().to_string(),
            &family,
            &new.user_id.to_string(),
            &new.token_hash,
            &t,
            &new.expires_at.millis(),
        ],
    )
    .await
    .map_err(insert_err(new.user_id, "refresh token exists".into()))?;
    Ok(())
}

/// The rotation state machine, on a transaction holding the presented token's row lock.
async fn rotate(
    tx: &tokio_postgres::Transaction<'_>,
    presented: &str,
    next: &str,
    expires: Timestamp,
) -> Result<RefreshOutcome> {
    let t = now();
    let found = tx
        .query_opt(
            "SELECT id, family, user_id, expires_at, consumed_at, revoked_at
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            &[&presented],
        )
        .await
        .map_err(db_err)?;
    let Some(row) = found else {
        return Ok(RefreshOutcome::Invalid);
    };
    let (id, family): (String, String) = (get(&row, 0)?, get(&row, 1)?);
    let user_id: UserId = parsed(&row, 2)?;
    let expires_at: i64 = get(&row, 3)?;
    let consumed: Option<i64> = get(&row, 4)?;
    let revoked: Option<i64> = get(&row, 5)?;
    if revoked.is_some() || expires_at <= t {
        return Ok(RefreshOutcome::Invalid);
    }
    if consumed.is_some() {
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL",
            &[&family, &t],
        )
        .await
        .map_err(db_err)?;
        return Ok(RefreshOutcome::Reused { user_id });
    }
    tx.execute(
        "UPDATE refresh_tokens SET consumed_at = $2 WHERE id = $1",
        &[&id, &t],
    )
    .await
    .map_err(db_err)?;
    let new = NewRefreshToken {
        user_id,
        token_hash: next.to_owned(),
        expires_at: expires,
    };
    insert_refresh(tx, &family, &new, t).await?;
    Ok(RefreshOutcome::Rotated { user_id })
}

/// NotFound for `id` when an update or delete touched no row.
pub(super) fn one(n: u64, entity: &'static str, id: impl ToString) -> Result<()> {
    if n == 0 {
        return Err(StorageError::not_found(entity, id));
    }
    Ok(())
}

#[async_trait]
impl AccountStore for PgStore {
    async fn get_user(&self, id: UserId) -> Result<User> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&id.to_string()])
            .await
            .map_err(db_err)?
        {
            Some(row) => rows::user(&row),
            None => Err(StorageError::not_found("user", id)),
        }
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users ORDER BY id");
        let client = self.client().await?;
        let found = client.query(&sql, &[]).await.map_err(db_err)?;
        found.iter().map(rows::user).collect()
    }

    async fn create_refresh_token(&self, new: NewRefreshToken) -> Result<()> {
        let family = uuid::Uuid::now_v7().to_string();
        let client = self.client().await?;
        insert_refresh(&**client, &family, &new, now()).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &str,
        next_expires_at: Timestamp,
    ) -> Result<RefreshOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let outcome = rotate(&tx, presented, next, next_expires_at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    }

    async fn revoke_refresh_family(&self, user: UserId, token_hash: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE refresh_tokens SET revoked_at = $3
                 WHERE revoked_at IS NULL AND family = (
                     SELECT family FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)",
                &[&token_hash, &user.to_string(), &now()],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn purge_refresh_tokens(&self, before: Timestamp) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM refresh_tokens WHERE expires_at < $1",
                &[&before.millis()],
            )
            .await
            .map_err(db_err)
    }

    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey> {
        let sql = format!(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KEY_COLS}"
        );
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.user_id.to_string(),
                    &new.name,
                    &new.prefix,
                    &new.secret_hash,
                    &now(),
                ],
            )
            .await
            .map_err(insert_err(
                new.user_id,
                format!("API key {} exists", new.id),
            ))?;
        api_key(&row)
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id"
        );
        let client = self.client().await?;
        let found = client
            .query(&sql, &[&user.to_string()])
            .await
            .map_err(db_err)?;
        found.iter().map(api_key).collect()
    }

    async fn revoke_api_key(&self, user: UserId, id: ApiKeyId) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET revoked_at = $3
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&id.to_string(), &user.to_string(), &now()],
            )
            .await
            .map_err(db_err)?;
        one(n, "API key", id)
    }

    async fn authenticate_api_key(&self, secret_hash: &str) -> Result<Option<ApiKeyOwner>> {
        let client = self.client().await?;
        let found = client
            .query_opt(
                "SELECT k.id, k.user_id, u.role, k.last_used_at
                 FROM api_keys k JOIN users u ON u.id = k.user_id
                 WHERE k.secret_hash = $1 AND k.revoked_at IS NULL",
                &[&secret_hash],
            )
            .await
            .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(None);
        };
        let owner = ApiKeyOwner {
            key_id: parsed(&row, 0)?,
            user_id: parsed(&row, 1)?,
            role: parsed(&row, 2)?,
        };
        let t = now();
        let last_used: Option<i64> = get(&row, 3)?;
        if last_used.is_none_or(|l| t - l >= LAST_USED_RESOLUTION_MS) {
            client
                .execute(
                    "UPDATE api_keys SET last_used_at = $2 WHERE id = $1",
                    &[&owner.key_id.to_string(), &t],
                )
                .await
                .map_err(db_err)?;
        }
        Ok(Some(owner))
    }

    async fn create_engine(&self, new: NewEngine) -> Result<Engine> {
        let sql = format!(
            "INSERT INTO engines (id, owner_id, name, token_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {ENGINE_COLS}"
        );
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.owner_id.to_string(),
                    &new.name,
                    &new.token_hash,
                    &now(),
                ],
            )
            .await
            .map_err(insert_err(
                new.owner_id,
                format!("an engine named {:?} exists", new.name),
            ))?;
        engine(&row)
    }

    async fn get_engine(&self, id: EngineId) -> Result<Engine> {
        self.get_engine_token_hash(id).await.map(|(e, _)| e)
    }

    async fn get_engine_token_hash(&self, id: EngineId) -> Result<(Engine, String)> {
        let sql = format!("SELECT {ENGINE_COLS}, token_hash FROM engines WHERE id = $1");
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&id.to_string()])
            .await
            .map_err(db_err)?
        {
            Some(row) => Ok((engine(&row)?, get(&row, 5)?)),
            None => Err(StorageError::not_found("engine", id)),
        }
    }

    async fn list_engines(&self, owner: Option<UserId>) -> Result<Vec<Engine>> {
        let sql = format!(
            "SELECT {ENGINE_COLS} FROM engines
             WHERE $1::TEXT IS NULL OR owner_id = $1 ORDER BY id"
        );
        let client = self.client().await?;
        let found = client
            .query(&sql, &[&owner.map(|o| o.to_string())])
            .await
            .map_err(db_err)?;
        found.iter().map(engine).collect()
    }

    async fn set_engine_token(
        &self,
        owner: UserId,
        id: EngineId,
        token_hash: &str,
    ) -> Result<Engine> {
        let sql = format!(
            "UPDATE engines SET token_hash = $3 WHERE id = $1 AND owner_id = $2
             RETURNING {ENGINE_COLS}"
        );
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&id.to_string(), &owner.to_string(), &token_hash])
            .await
            .map_err(db_err)?
        {
            Some(row) => engine(&row),
            None => Err(StorageError::not_found("engine", id)),
        }
    }

    async fn delete_engine(&self, owner: UserId, id: EngineId) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM engines WHERE id = $1 AND owner_id = $2",
                &[&id.to_string(), &owner.to_string()],
            )
            .await
            .map_err(db_err)?;
        one(n, "engine", id)
    }

    async fn touch_engine(&self, id: EngineId, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE engines SET last_seen_at = $2 WHERE id = $1",
                &[&id.to_string(), &at.millis()],
            )
            .await
            .map_err(db_err)?;
        one(n, "engine", id)
    }
}
