//! Credentials, key/value pairs and users on SQLite.

use async_trait::async_trait;
use flowork_model::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::rows::{self, CREDENTIAL_COLS, KV_COLS, USER_COLS};
use super::{SqliteStore, db_err, now};
use crate::api::{CredentialStore, KvStore, UserStore};
use crate::error::{Result, StorageError};
use crate::types::{Credential, Expect, KvEntry, NewCredential, NewUser, User};

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn create_credential(&self, new: NewCredential) -> Result<Credential> {
        let t = now();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO credentials ({CREDENTIAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                     RETURNING {CREDENTIAL_COLS}"
                ),
                params![new.id.to_string(), new.name, new.kind, new.sealed, t],
                rows::credential,
            )
            .map_err(|e| match db_err(e) {
                StorageError::Conflict(_) => {
                    StorageError::Conflict(format!("credential {:?} exists", new.name))
                }
                e => e,
            })
        })
        .await
    }

    async fn get_credential(&self, name: &str) -> Result<Credential> {
        let name = name.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {CREDENTIAL_COLS} FROM credentials WHERE name = ?1"
            ))
            .and_then(|mut st| st.query_row([&name], rows::credential).optional())
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("credential", &name))
        })
        .await
    }

    async fn update_credential(&self, name: &str, sealed: Vec<u8>) -> Result<Credential> {
        let name = name.to_owned();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "UPDATE credentials SET sealed = ?2, updated_at = ?3 WHERE name = ?1
                     RETURNING {CREDENTIAL_COLS}"
                ),
                params![name, sealed, now()],
                rows::credential,
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("credential", &name))
        })
        .await
    }

    async fn list_credentials(&self) -> Result<Vec<Credential>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLS} FROM credentials ORDER BY name"
                ))
                .map_err(db_err)?;
            st.query_map([], rows::credential)
                .and_then(|it| it.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn delete_credential(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(move |c| {
            match c
                .execute("DELETE FROM credentials WHERE name = ?1", [&name])
                .map_err(db_err)?
            {
                0 => Err(StorageError::not_found("credential", &name)),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[async_trait]
impl KvStore for SqliteStore {
    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KV_COLS} FROM kv WHERE namespace = ?1 AND key = ?2"
            ))
            .and_then(|mut st| st.query_row([&ns, &key], rows::kv).optional())
            .map_err(db_err)
        })
        .await
    }

    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expect: Expect,
    ) -> Result<u64> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        let expected = match expect {
            Expect::Version(v) => Some(rows::to_i64("version", v)?),
            _ => None,
        };
        self.write(move |c| {
            // Each case is one statement, so the check and the write are atomic.
            let sql = match expect {
                Expect::Any => {
                    "INSERT INTO kv (namespace, key, value, version, updated_at)
                     VALUES (?1, ?2, ?3, 1, ?4)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                       version = kv.version + 1, updated_at = excluded.updated_at
                     RETURNING version"
                }
                Expect::Absent => {
                    "INSERT INTO kv (namespace, key, value, version, updated_at)
                     VALUES (?1, ?2, ?3, 1, ?4)
                     ON CONFLICT (namespace, key) DO NOTHING RETURNING version"
                }
                Expect::Version(_) => {
                    "UPDATE kv SET value = ?3, version = version + 1, updated_at = ?4
                     WHERE namespace = ?1 AND key = ?2 AND version = ?5 RETURNING version"
                }
            };
            let t = now();
            let version: Option<i64> = match expected {
                Some(v) => c.query_row(sql, params![ns, key, value, t, v], |r| r.get(0)),
                None => c.query_row(sql, params![ns, key, value, t], |r| r.get(0)),
            }
            .optional()
            .map_err(db_err)?;
            let version = version.ok_or_else(|| {
                StorageError::Conflict(format!("kv {ns}/{key}: expected {expect:?} does not hold"))
            })?;
            u64::try_from(version).map_err(|e| StorageError::Backend(format!("kv version: {e}")))
        })
        .await
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        self.write(move |c| {
            c.execute(
                "DELETE FROM kv WHERE namespace = ?1 AND key = ?2",
                [&ns, &key],
            )
            .map(|n| n > 0)
            .map_err(db_err)
        })
        .await
    }

    async fn kv_list(&self, namespace: &str, prefix: &str) -> Result<Vec<KvEntry>> {
        let (ns, prefix) = (namespace.to_owned(), prefix.to_owned());
        self.read(move |c| {
            // substr, not LIKE: the prefix may contain % or _.
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {KV_COLS} FROM kv WHERE namespace = ?1
                     AND substr(key, 1, length(?2)) = ?2 ORDER BY key"
                ))
                .map_err(db_err)?;
            st.query_map([&ns, &prefix], rows::kv)
                .and_then(|it| it.collect())
                .map_err(db_err)
        })
        .await
    }

    async fn kv_delete_before(
        &self,
        namespace: &str,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        let ns = namespace.to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM kv WHERE rowid IN (
                       SELECT rowid FROM kv WHERE namespace = ?1 AND updated_at < ?2 LIMIT ?3)",
                )
                .and_then(|mut st| st.execute(params![ns, before.millis(), i64::from(limit)]))
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let t = now();
        self.write(move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {USER_COLS}"
                ),
                params![new.id.to_string(), new.username, new.password_hash, new.role.as_str(), t],
                rows::user,
            )
            .map_err(|e| match db_err(e) {
                StorageError::Conflict(_) => {
                    StorageError::Conflict(format!("user {:?} exists", new.username))
                }
                e => e,
            })
        })
        .await
    }

    async fn get_user_by_name(&self, username: &str) -> Result<User> {
        let name = username.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {USER_COLS} FROM users WHERE username = ?1"
            ))
            .and_then(|mut st| st.query_row([&name], rows::user).optional())
            .map_err(db_err)?
            .ok_or_else(|| StorageError::not_found("user", name))
        })
        .await
    }

    async fn count_users(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
                .map_err(db_err)?;
            u64::try_from(n).map_err(|e| StorageError::Backend(format!("user count: {e}")))
        })
        .await
    }
}
