//! Credentials, key/value pairs and users on Postgres.

use async_trait::async_trait;
use flowork_model::Timestamp;

use super::rows::{self, CREDENTIAL_COLS, KV_COLS, USER_COLS};
use super::{PgStore, db_err, now};
use crate::api::{CredentialStore, KvStore, UserStore};
use crate::error::{Result, StorageError};
use crate::types::{Credential, Expect, KvEntry, NewCredential, NewUser, User};

#[async_trait]
impl CredentialStore for PgStore {
    async fn create_credential(&self, new: NewCredential) -> Result<Credential> {
        let sql = format!(
            "INSERT INTO credentials ({CREDENTIAL_COLS}) VALUES ($1, $2, $3, $4, $5, $5)
             RETURNING {CREDENTIAL_COLS}"
        );
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.name,
                    &new.kind,
                    &new.sealed,
                    &now(),
                ],
            )
            .await
            .map_err(|e| match db_err(e) {
                StorageError::Conflict(_) => {
                    StorageError::Conflict(format!("credential {:?} exists", new.name))
                }
                e => e,
            })?;
        rows::credential(&row)
    }

    async fn get_credential(&self, name: &str) -> Result<Credential> {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE name = $1");
        let client = self.client().await?;
        match client.query_opt(&sql, &[&name]).await.map_err(db_err)? {
            Some(row) => rows::credential(&row),
            None => Err(StorageError::not_found("credential", name)),
        }
    }

    async fn update_credential(&self, name: &str, sealed: Vec<u8>) -> Result<Credential> {
        let sql = format!(
            "UPDATE credentials SET sealed = $2, updated_at = $3 WHERE name = $1
             RETURNING {CREDENTIAL_COLS}"
        );
        let client = self.client().await?;
        match client
            .query_opt(&sql, &[&name, &sealed, &now()])
            .await
            .map_err(db_err)?
        {
            Some(row) => rows::credential(&row),
            None => Err(StorageError::not_found("credential", name)),
        }
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials ORDER BY name");
        let client = self.client().await?;
        let found = client.query(&sql, &[]).await.map_err(db_err)?;
        found.iter().map(rows::credential).collect()
    }

    async fn delete_credential(&self, name: &str) -> Result<()> {
        let client = self.client().await?;
        match client
            .execute("DELETE FROM credentials WHERE name = $1", &[&name])
            .await
            .map_err(db_err)?
        {
            0 => Err(StorageError::not_found("credential", name)),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl KvStore for PgStore {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let sql = format!("SELECT {KV_COLS} FROM kv WHERE namespace = $1 AND key = $2");
        let client = self.client().await?;
        let row = client
            .query_opt(&sql, &[&namespace, &key])
            .await
            .map_err(db_err)?;
        row.as_ref().map(rows::kv).transpose()
    }

    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64> {
        let client = self.client().await?;
        let t = now();
        // Each case is one statement, so the check and the write are atomic.
        let row = match expect {
            Expect::Any => {
                client
                    .query_opt(
                        "INSERT INTO kv (namespace, key, value, version, updated_at)
                         VALUES ($1, $2, $3, 1, $4)
                         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                           version = kv.version + 1, updated_at = excluded.updated_at
                         RETURNING version",
                        &[&namespace, &key, &value, &t],
                    )
                    .await
            }
            Expect::Absent => {
                client
                    .query_opt(
                        "INSERT INTO kv (namespace, key, value, version, updated_at)
                         VALUES ($1, $2, $3, 1, $4)
                         ON CONFLICT (namespace, key) DO NOTHING RETURNING version",
                        &[&namespace, &key, &value, &t],
                    )
                    .await
            }
            Expect::Version(v) => {
                let v = rows::to_i64("version", v)?;
                client
                    .query_opt(
                        "UPDATE kv SET value = $3, version = version + 1, updated_at = $4
                         WHERE namespace = $1 AND key = $2 AND version = $5 RETURNING version",
                        &[&namespace, &key, &value, &t, &v],
                    )
                    .await
            }
        }
        .map_err(db_err)?;
        match row {
            Some(row) => rows::unsigned(&row, 0),
            None => Err(StorageError::Conflict(format!(
                "kv {namespace}/{key}: expected {expect:?} does not hold"
            ))),
        }
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM kv WHERE namespace = $1 AND key = $2",
                &[&namespace, &key],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn kv_list(&self, namespace: &str, prefix: &str) -> Result<Vec<KvEntry>> {
        // starts_with, not LIKE: the prefix may contain % or _.
        let sql = format!(
            "SELECT {KV_COLS} FROM kv WHERE namespace = $1 AND starts_with(key, $2) ORDER BY key"
        );
        let client = self.client().await?;
        let found = client
            .query(&sql, &[&namespace, &prefix])
            .await
            .map_err(db_err)?;
        found.iter().map(rows::kv).collect()
    }

    async fn kv_delete_before(
        &self,
        namespace: &str,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM kv WHERE (namespace, key) IN (
                   SELECT namespace, key FROM kv WHERE namespace = $1 AND updated_at < $2
                   LIMIT $3 FOR UPDATE SKIP LOCKED)",
                &[&namespace, &before.millis(), &i64::from(limit)],
            )
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let sql = format!(
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLS}"
        );
        let client = self.client().await?;
        let row = client
            .query_one(
                &sql,
                &[
                    &new.id.to_string(),
                    &new.username,
                    &new.password_hash,
                    &new.role.as_str(),
                    &now(),
                ],
            )
            .await
            .map_err(|e| match db_err(e) {
                StorageError::Conflict(_) => {
                    StorageError::Conflict(format!("user {:?} exists", new.username))
                }
                e => e,
            })?;
        rows::user(&row)
    }

    async fn get_user_by_name(&self, username: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username = $1");
        let client = self.client().await?;
        match client.query_opt(&sql, &[&username]).await.map_err(db_err)? {
            Some(row) => rows::user(&row),
            None => Err(StorageError::not_found("user", username)),
        }
    }

    async fn count_users(&self) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await
            .map_err(db_err)?;
        rows::unsigned(&row, 0)
    }
}
