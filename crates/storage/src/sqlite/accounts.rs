//! The gateway's accounts (refresh tokens, API keys, engines) on SQLite.

use async_trait::async_trait;
use flowork_model::{ApiKeyId, EngineId, Timestamp, UserId};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{self, USER_COLS};
use super::{SqliteStore, db_err, is_fk_violation, now};
use crate::accounts::*;
use crate::error::{Result, StorageError};
use crate::types::User;

const KEY_COLS: &str = "id, user_id, name, prefix, created_at, last_used_at";
const ENGINE_COLS: &str = "id, owner_id, name, created_at, last_seen_at";

pub(super) fn parsed<T: std::str::FromStr>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: String = r.get(idx)?;
    s.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn api_key(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: parsed(r, 0)?,
        user_id: parsed(r, 1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        last_used_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

fn engine(r: &Row<'_>) -> rusqlite::Result<Engine> {
    Ok(Engine {
        id: parsed(r, 0)?,
        owner_id: parsed(r, 1)?,
        name: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        last_seen_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
    })
}

/// Maps an insert's error: a missing user is NotFound, a duplicate is `conflict`.
pub(super) fn insert_err(
    user: UserId,
    conflict: String,
) -> impl FnOnce(rusqlite::Error) -> StorageError {
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

fn insert_refresh(c: &Connection, family: &str, new: &NewRefreshToken, t: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO refresh_tokens (id, family, user_id, token_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            uuid::Uuid::now_v7().to_string(),
            family,
            new.user_id.to_string(),
            new.token_hash,
            t,
            new.expires_at.millis()
        ])
    })
    .map_err(insert_err(new.user_id, "refresh token exists".into()))?;
    Ok(())
}

/// The rotation state machine, run inside the writer's transaction.
fn rotate(
    c: &Connection,
    presented: &str,
    next: &str,
    expires: Timestamp,
) -> Result<RefreshOutcome> {
    let t = now();
    let found = c
        .query_row(
            "SELECT id, family, user_id, expires_at, consumed_at, revoked_at
             FROM refresh_tokens WHERE token_hash = ?1",
            [presented],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    parsed::<UserId>(r, 2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()
        .map_err(db_err)?;
    let Some((id, family, user_id, expires_at, consumed, revoked)) = found else {
        return Ok(RefreshOutcome::Invalid);
    };
    if revoked.is_some() || expires_at <= t {
        return Ok(RefreshOutcome::Invalid);
    }
    if consumed.is_some() {
        c.execute(
            "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL",
            params![family, t],
        )
        .map_err(db_err)?;
        return Ok(RefreshOutcome::Reused { user_id });
    }
    c.execute(
        "UPDATE refresh_tokens SET consumed_at = ?2 WHERE id = ?1",
        params![id, t],
    )
    .map_err(db_err)?;
    let new = NewRefreshToken {
        user_id,
        token_hash: next.to_owned(),
        expires_at: expires,
    };
    insert_refresh(c, &family, &new, t)?;
    Ok(RefreshOutcome::Rotated { user_id })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn get_user(&self, id: UserId) -> Result<User> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
                .and_then(|mut st| st.query_row([id.to_string()], rows::user).optional())
                .map_err(db_err)?
                .ok_or_else(|| StorageError::not_found("user", id))
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))
                .and_then(|mut st| st.query_map([], rows::user)?.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn create_refresh_token(&self, new: NewRefreshToken) -> Result<()> {
        let family = uuid::Uuid::now_v7().to_string();
        self.write(move |c| insert_refresh(c, &family, &new, now()))
            .await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &str,
        next_expires_at: Timestamp,
    ) -> Result<RefreshOutcome> {
        let (presented, next) = (presented.to_owned(), next.to_owned());
        self.transact(move |c| rotate(c, &presented, &next, next_expires_at))
            .await
    }

    async fn revoke_refresh_family(&self, user: UserId, token_hash: &str) -> Result<bool> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute(
                "UPDATE refresh_tokens SET revoked_at = ?3
                 WHERE revoked_at IS NULL AND family = (
                     SELECT family FROM refresh_tokens WHERE token_hash = ?1 AND user_id = ?2)",
                params![hash, user.to_string(), now()],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn purge_refresh_tokens(&self, before: Timestamp) -> Result<u64> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM refresh_tokens WHERE expires_at < ?1",
                [before.millis()],
            )
            .map(|n| n as u64)
            .map_err(db_err)
        })
        .await
    }

    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey> {
        let t = now();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {KEY_COLS}"
                ),
                params![
                    new.id.to_string(),
                    new.user_id.to_string(),
                    new.name,
                    new.prefix,
                    new.secret_hash,
                    t
                ],
                api_key,
            )
            .map_err(insert_err(
                new.user_id,
                format!("API key {} exists", new.id),
            ))
        })
        .await
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KEY_COLS} FROM api_keys
                 WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id"
            ))
            .and_then(|mut st| st.query_map([user.to_string()], api_key)?.collect())
            .map_err(db_err)
        })
        .await
    }

    async fn revoke_api_key(&self, user: UserId, id: ApiKeyId) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE api_keys SET revoked_at = ?3
                     WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                    params![id.to_string(), user.to_string(), now()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::not_found("API key", id));
            }
            Ok(())
        })
        .await
    }

    async fn authenticate_api_key(&self, secret_hash: &str) -> Result<Option<ApiKeyOwner>> {
        let hash = secret_hash.to_owned();
        let found = self
            .read(move |c| {
                c.prepare_cached(
                    "SELECT k.id, k.user_id, u.role, k.last_used_at
                     FROM api_keys k JOIN users u ON u.id = k.user_id
                     WHERE k.secret_hash = ?1 AND k.revoked_at IS NULL",
                )
                .and_then(|mut st| {
                    st.query_row([&hash], |r| {
                        let owner = ApiKeyOwner {
                            key_id: parsed(r, 0)?,
                            user_id: parsed(r, 1)?,
                            role: parsed(r, 2)?,
                        };
                        Ok((owner, r.get::<_, Option<i64>>(3)?))
                    })
                    .optional()
                })
                .map_err(db_err)
            })
            .await?;
        let Some((owner, last_used)) = found else {
            return Ok(None);
        };
        let t = now();
        if last_used.is_none_or(|l| t - l >= LAST_USED_RESOLUTION_MS) {
            let id = owner.key_id.to_string();
            self.write(move |c| {
                c.execute(
                    "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                    params![id, t],
                )
                .map_err(db_err)
            })
            .await?;
        }
        Ok(Some(owner))
    }

    async fn create_engine(&self, new: NewEngine) -> Result<Engine> {
        let t = now();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO engines (id, owner_id, name, token_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {ENGINE_COLS}"
                ),
                params![
                    new.id.to_string(),
                    new.owner_id.to_string(),
                    new.name,
                    new.token_hash,
                    t
                ],
                engine,
            )
            .map_err(insert_err(
                new.owner_id,
                format!("an engine named {:?} exists", new.name),
            ))
        })
        .await
    }

    async fn get_engine(&self, id: EngineId) -> Result<Engine> {
        self.get_engine_token_hash(id).await.map(|(e, _)| e)
    }

    async fn get_engine_token_hash(&self, id: EngineId) -> Result<(Engine, String)> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ENGINE_COLS}, token_hash FROM engines WHERE id = ?1"
            ))
            .and_then(|mut st| {
                st.query_row([id.to_string()], |r| Ok((engine(r)?, r.get(5)?)))
                    .optional()
            })
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("engine", id))
        })
        .await
    }

    async fn list_engines(&self, owner: Option<UserId>) -> Result<Vec<Engine>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ENGINE_COLS} FROM engines
                 WHERE ?1 IS NULL OR owner_id = ?1 ORDER BY id"
            ))
            .and_then(|mut st| {
                st.query_map([owner.map(|o| o.to_string())], engine)?
                    .collect()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn set_engine_token(
        &self,
        owner: UserId,
        id: EngineId,
        token_hash: &str,
    ) -> Result<Engine> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "UPDATE engines SET token_hash = ?3 WHERE id = ?1 AND owner_id = ?2
                     RETURNING {ENGINE_COLS}"
                ),
                params![id.to_string(), owner.to_string(), hash],
                engine,
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("engine", id))
        })
        .await
    }

    async fn delete_engine(&self, owner: UserId, id: EngineId) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM engines WHERE id = ?1 AND owner_id = ?2",
                    params![id.to_string(), owner.to_string()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::not_found("engine", id));
            }
            Ok(())
        })
        .await
    }

    async fn touch_engine(&self, id: EngineId, at: Timestamp) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE engines SET last_seen_at = ?2 WHERE id = ?1",
                    params![id.to_string(), at.millis()],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::not_found("engine", id));
            }
            Ok(())
        })
        .await
    }
}
