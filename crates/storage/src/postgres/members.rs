//! Engine members and bound addresses on Postgres.

use async_trait::async_trait;
use flowork_model::{EngineId, EngineRole, Timestamp, UserId};
use tokio_postgres::{GenericClient, Row};

use super::accounts::{insert_err, one, parsed};
use super::rows::get;
use super::{PgStore, db_err, now};
use crate::accounts::Engine;
use crate::error::{Result, StorageError};
use crate::members::*;

/// The owner (from `engines`) and the members, each as (user, username, role, added_at).
const MEMBERS: &str = "SELECT e.owner_id AS user_id, u.username, 'owner' AS role,
            e.created_at AS added_at, 0 AS k, '' AS m
       FROM engines e JOIN users u ON u.id = e.owner_id WHERE e.id = $1
     UNION ALL
     SELECT m.user_id, u.username, m.role, m.added_at, 1, m.user_id
       FROM engine_members m JOIN users u ON u.id = m.user_id WHERE m.engine_id = $1
     ORDER BY k, added_at, m";

const ONE_MEMBER: &str = "SELECT m.user_id, u.username, m.role, m.added_at FROM engine_members m
     JOIN users u ON u.id = m.user_id WHERE m.engine_id = $1 AND m.user_id = $2";

fn member(engine: EngineId, r: &Row) -> Result<EngineMember> {
    Ok(EngineMember {
        engine_id: engine,
        user_id: parsed(r, 0)?,
        username: get(r, 1)?,
        role: parsed(r, 2)?,
        added_at: Timestamp(get(r, 3)?),
    })
}

fn address(r: &Row) -> Result<BoundAddress> {
    Ok(BoundAddress {
        address: get(r, 0)?,
        user_id: parsed(r, 1)?,
        bound_at: Timestamp(get(r, 2)?),
    })
}

async fn owner_of(c: &impl GenericClient, engine: EngineId) -> Result<UserId> {
    match c
        .query_opt(
            "SELECT owner_id FROM engines WHERE id = $1",
            &[&engine.to_string()],
        )
        .await
        .map_err(db_err)?
    {
        Some(row) => parsed(&row, 0),
        None => Err(StorageError::not_found("engine", engine)),
    }
}

#[async_trait]
impl MemberStore for PgStore {
    async fn engine_role(&self, engine: EngineId, user: UserId) -> Result<Option<EngineRole>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT 'owner'::TEXT FROM engines WHERE id = $1 AND owner_id = $2
                 UNION ALL
                 SELECT role FROM engine_members WHERE engine_id = $1 AND user_id = $2
                 LIMIT 1",
                &[&engine.to_string(), &user.to_string()],
            )
            .await
            .map_err(db_err)?;
        row.map(|r| parsed(&r, 0)).transpose()
    }

    async fn list_members(&self, engine: EngineId) -> Result<Vec<EngineMember>> {
        let client = self.client().await?;
        owner_of(&**client, engine).await?;
        let rows = client
            .query(MEMBERS, &[&engine.to_string()])
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| member(engine, r)).collect()
    }

    async fn add_member(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember> {
        let client = self.client().await?;
        // An engine's owner never changes, so this check cannot go stale before the insert.
        if owner_of(&**client, engine).await? == user {
            return Err(StorageError::Conflict(format!(
                "{user} owns engine {engine}"
            )));
        }
        client
            .execute(
                "INSERT INTO engine_members (engine_id, user_id, role, added_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &engine.to_string(),
                    &user.to_string(),
                    &role.as_str(),
                    &now(),
                ],
            )
            .await
            .map_err(insert_err(
                user,
                format!("{user} is already a member of engine {engine}"),
            ))?;
        let row = client
            .query_one(ONE_MEMBER, &[&engine.to_string(), &user.to_string()])
            .await
            .map_err(db_err)?;
        member(engine, &row)
    }

    async fn set_member_role(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE engine_members SET role = $3 WHERE engine_id = $1 AND user_id = $2",
                &[&engine.to_string(), &user.to_string(), &role.as_str()],
            )
            .await
            .map_err(db_err)?;
        one(n, "member", user)?;
        let row = client
            .query_one(ONE_MEMBER, &[&engine.to_string(), &user.to_string()])
            .await
            .map_err(db_err)?;
        member(engine, &row)
    }

    async fn remove_member(&self, engine: EngineId, user: UserId) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM engine_members WHERE engine_id = $1 AND user_id = $2",
                &[&engine.to_string(), &user.to_string()],
            )
            .await
            .map_err(db_err)?;
        one(n, "member", user)
    }

    async fn engines_of(&self, user: UserId) -> Result<Vec<(Engine, EngineRole)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT e.id, e.owner_id, e.name, e.created_at, e.last_seen_at,
                        CASE WHEN e.owner_id = $1 THEN 'owner' ELSE m.role END
                   FROM engines e LEFT JOIN engine_members m
                     ON m.engine_id = e.id AND m.user_id = $1
                  WHERE e.owner_id = $1 OR m.user_id IS NOT NULL
                  ORDER BY e.id",
                &[&user.to_string()],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let e = Engine {
                    id: parsed(r, 0)?,
                    owner_id: parsed(r, 1)?,
                    name: get(r, 2)?,
                    created_at: Timestamp(get(r, 3)?),
                    last_seen_at: get::<Option<i64>>(r, 4)?.map(Timestamp),
                };
                Ok((e, parsed(r, 5)?))
            })
            .collect()
    }

    async fn put_address_challenge(&self, ch: AddressChallenge) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO address_challenges (user_id, nonce, message, expires_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO UPDATE SET nonce = excluded.nonce,
                   message = excluded.message, expires_at = excluded.expires_at",
                &[
                    &ch.user_id.to_string(),
                    &ch.nonce,
                    &ch.message,
                    &ch.expires_at.millis(),
                ],
            )
            .await
            .map_err(insert_err(ch.user_id, "challenge exists".into()))?;
        Ok(())
    }

    async fn take_address_challenge(&self, user: UserId) -> Result<Option<AddressChallenge>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "DELETE FROM address_challenges WHERE user_id = $1
                 RETURNING nonce, message, expires_at",
                &[&user.to_string()],
            )
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(AddressChallenge {
                user_id: user,
                nonce: get(&r, 0)?,
                message: get(&r, 1)?,
                expires_at: Timestamp(get(&r, 2)?),
            })
        })
        .transpose()
    }

    async fn bind_address(&self, user: UserId, addr: &str) -> Result<BoundAddress> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO user_addresses (address, user_id, bound_at) VALUES ($1, $2, $3)
                 RETURNING address, user_id, bound_at",
                &[&addr, &user.to_string(), &now()],
            )
            .await
            .map_err(insert_err(user, format!("address {addr} is already bound")))?;
        address(&row)
    }

    async fn list_addresses(&self, user: UserId) -> Result<Vec<BoundAddress>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT address, user_id, bound_at FROM user_addresses
                 WHERE user_id = $1 ORDER BY bound_at, address",
                &[&user.to_string()],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(address).collect()
    }

    async fn unbind_address(&self, user: UserId, addr: &str) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM user_addresses WHERE address = $1 AND user_id = $2",
                &[&addr, &user.to_string()],
            )
            .await
            .map_err(db_err)?;
        one(n, "address", addr)
    }

    async fn address_owner(&self, addr: &str) -> Result<Option<UserId>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT user_id FROM user_addresses WHERE address = $1",
                &[&addr],
            )
            .await
            .map_err(db_err)?;
        row.map(|r| parsed(&r, 0)).transpose()
    }
}
