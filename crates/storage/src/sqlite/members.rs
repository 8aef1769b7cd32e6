//! Engine members and bound addresses on SQLite.

use async_trait::async_trait;
use flowork_model::{EngineId, EngineRole, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::accounts::{insert_err, parsed};
use super::{SqliteStore, db_err, now};
use crate::accounts::Engine;
use crate::error::{Result, StorageError};
use crate::members::*;

/// The owner (from `engines`) and the members, each as (user, username, role, added_at).
const MEMBERS: &str = "SELECT e.owner_id AS user_id, u.username, 'owner' AS role,
            e.created_at AS added_at, 0 AS k, '' AS m
       FROM engines e JOIN users u ON u.id = e.owner_id WHERE e.id = ?1
     UNION ALL
     SELECT m.user_id, u.username, m.role, m.added_at, 1, m.user_id
       FROM engine_members m JOIN users u ON u.id = m.user_id WHERE m.engine_id = ?1
     ORDER BY k, added_at, m";

fn member(engine: EngineId) -> impl Fn(&Row<'_>) -> rusqlite::Result<EngineMember> {
    move |r| {
        Ok(EngineMember {
            engine_id: engine,
            user_id: parsed(r, 0)?,
            username: r.get(1)?,
            role: parsed(r, 2)?,
            added_at: Timestamp(r.get(3)?),
        })
    }
}

fn address(r: &Row<'_>) -> rusqlite::Result<BoundAddress> {
    Ok(BoundAddress {
        address: r.get(0)?,
        user_id: parsed(r, 1)?,
        bound_at: Timestamp(r.get(2)?),
    })
}

/// NotFound for `id` when a write touched no row.
fn one(n: usize, entity: &'static str, id: impl ToString) -> Result<()> {
    if n == 0 {
        return Err(StorageError::not_found(entity, id));
    }
    Ok(())
}

/// One member, read back after a write in the same transaction.
fn one_member(c: &Connection, engine: EngineId, user: UserId) -> Result<EngineMember> {
    c.query_row(
        "SELECT m.user_id, u.username, m.role, m.added_at FROM engine_members m
         JOIN users u ON u.id = m.user_id WHERE m.engine_id = ?1 AND m.user_id = ?2",
        params![engine.to_string(), user.to_string()],
        member(engine),
    )
    .map_err(db_err)
}

fn owner_of(c: &Connection, engine: EngineId) -> Result<UserId> {
    c.query_row(
        "SELECT owner_id FROM engines WHERE id = ?1",
        [engine.to_string()],
        |r| parsed(r, 0),
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StorageError::not_found("engine", engine))
}

#[async_trait]
impl MemberStore for SqliteStore {
    async fn engine_role(&self, engine: EngineId, user: UserId) -> Result<Option<EngineRole>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT 'owner' FROM engines WHERE id = ?1 AND owner_id = ?2
                 UNION ALL
                 SELECT role FROM engine_members WHERE engine_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![engine.to_string(), user.to_string()], |r| {
                    parsed(r, 0)
                })
                .optional()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn list_members(&self, engine: EngineId) -> Result<Vec<EngineMember>> {
        self.read(move |c| {
            owner_of(c, engine)?;
            c.prepare_cached(MEMBERS)
                .and_then(|mut st| {
                    st.query_map([engine.to_string()], member(engine))?
                        .collect()
                })
                .map_err(db_err)
        })
        .await
    }

    async fn add_member(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember> {
        self.write(move |c| {
            if owner_of(c, engine)? == user {
                return Err(StorageError::Conflict(format!(
                    "{user} owns engine {engine}"
                )));
            }
            c.execute(
                "INSERT INTO engine_members (engine_id, user_id, role, added_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![engine.to_string(), user.to_string(), role.as_str(), now()],
            )
            .map_err(insert_err(
                user,
                format!("{user} is already a member of engine {engine}"),
            ))?;
            one_member(c, engine, user)
        })
        .await
    }

    async fn set_member_role(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember> {
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE engine_members SET role = ?3 WHERE engine_id = ?1 AND user_id = ?2",
                    params![engine.to_string(), user.to_string(), role.as_str()],
                )
                .map_err(db_err)?;
            one(n, "member", user)?;
            one_member(c, engine, user)
        })
        .await
    }

    async fn remove_member(&self, engine: EngineId, user: UserId) -> Result<()> {
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM engine_members WHERE engine_id = ?1 AND user_id = ?2",
                    params![engine.to_string(), user.to_string()],
                )
                .map_err(db_err)?;
            one(n, "member", user)
        })
        .await
    }

    async fn engines_of(&self, user: UserId) -> Result<Vec<(Engine, EngineRole)>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT e.id, e.owner_id, e.name, e.created_at, e.last_seen_at,
                        CASE WHEN e.owner_id = ?1 THEN 'owner' ELSE m.role END
                   FROM engines e LEFT JOIN engine_members m
                     ON m.engine_id = e.id AND m.user_id = ?1
                  WHERE e.owner_id = ?1 OR m.user_id IS NOT NULL
                  ORDER BY e.id",
            )
            .and_then(|mut st| {
                st.query_map([user.to_string()], |r| {
                    let e = Engine {
                        id: parsed(r, 0)?,
                        owner_id: parsed(r, 1)?,
                        name: r.get(2)?,
                        created_at: Timestamp(r.get(3)?),
                        last_seen_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
                    };
                    Ok((e, parsed(r, 5)?))
                })?
                .collect()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn put_address_challenge(&self, ch: AddressChallenge) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO address_challenges (user_id, nonce, message, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id) DO UPDATE SET nonce = excluded.nonce,
                   message = excluded.message, expires_at = excluded.expires_at",
                params![
                    ch.user_id.to_string(),
                    ch.nonce,
                    ch.message,
                    ch.expires_at.millis()
                ],
            )
            .map_err(insert_err(ch.user_id, "challenge exists".into()))?;
            Ok(())
        })
        .await
    }

    async fn take_address_challenge(&self, user: UserId) -> Result<Option<AddressChallenge>> {
        self.write(move |c| {
            c.query_row(
                "DELETE FROM address_challenges WHERE user_id = ?1
                 RETURNING nonce, message, expires_at",
                [user.to_string()],
                |r| {
                    Ok(AddressChallenge {
                        user_id: user,
                        nonce: r.get(0)?,
                        message: r.get(1)?,
                        expires_at: Timestamp(r.get(2)?),
                    })
                },
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn bind_address(&self, user: UserId, addr: &str) -> Result<BoundAddress> {
        let addr = addr.to_owned();
        self.write(move |c| {
            c.query_row(
                "INSERT INTO user_addresses (address, user_id, bound_at) VALUES (?1, ?2, ?3)
                 RETURNING address, user_id, bound_at",
                params![addr, user.to_string(), now()],
                address,
            )
            .map_err(insert_err(user, format!("address {addr} is already bound")))
        })
        .await
    }

    async fn list_addresses(&self, user: UserId) -> Result<Vec<BoundAddress>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT address, user_id, bound_at FROM user_addresses
                 WHERE user_id = ?1 ORDER BY bound_at, address",
            )
            .and_then(|mut st| st.query_map([user.to_string()], address)?.collect())
            .map_err(db_err)
        })
        .await
    }

    async fn unbind_address(&self, user: UserId, addr: &str) -> Result<()> {
        let addr = addr.to_owned();
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM user_addresses WHERE address = ?1 AND user_id = ?2",
                    params![addr, user.to_string()],
                )
                .map_err(db_err)?;
            one(n, "address", &addr)
        })
        .await
    }

    async fn address_owner(&self, addr: &str) -> Result<Option<UserId>> {
        let addr = addr.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT user_id FROM user_addresses WHERE address = ?1",
                [addr],
                |r| parsed(r, 0),
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }
}
