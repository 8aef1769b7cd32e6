//! Who may use an engine besides its owner (engine members with a role), and which Ethereum
//! addresses a user has proven to hold (bound by signing a gateway challenge). Gateway state,
//! beside [`crate::AccountStore`].
//!
//! The owner is never a row of its own: `engines.owner_id` says who it is, so ownership has one
//! source and a member row can never claim `owner`.

use async_trait::async_trait;
use flowork_model::{EngineId, EngineRole, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use crate::accounts::Engine;
use crate::error::Result;

/// A member's role: what a member row may hold (`owner` comes from the engine itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Admin,
    Editor,
    Viewer,
}

impl MemberRole {
    /// The engine role this member has.
    pub fn engine_role(self) -> EngineRole {
        match self {
            Self::Admin => EngineRole::Admin,
            Self::Editor => EngineRole::Editor,
            Self::Viewer => EngineRole::Viewer,
        }
    }

    /// The member role for `role`; `None` for `owner`, which no member can be given.
    pub fn from_engine_role(role: EngineRole) -> Option<Self> {
        match role {
            EngineRole::Owner => None,
            EngineRole::Admin => Some(Self::Admin),
            EngineRole::Editor => Some(Self::Editor),
            EngineRole::Viewer => Some(Self::Viewer),
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        self.engine_role().as_str()
    }
}

/// One person who may use an engine, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineMember {
    pub engine_id: EngineId,
    pub user_id: UserId,
    pub username: String,
    pub role: EngineRole,
    /// When they were added (the engine's creation, for its owner).
    pub added_at: Timestamp,
}

/// An Ethereum address a user proved to hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundAddress {
    /// `0x` + 40 lowercase hex digits.
    pub address: String,
    pub user_id: UserId,
    pub bound_at: Timestamp,
}

/// A message a user must sign to bind an address: one live per user, used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressChallenge {
    pub user_id: UserId,
    /// Random, and part of `message`.
    pub nonce: String,
    /// The exact text to `personal_sign`.
    pub message: String,
    pub expires_at: Timestamp,
}

/// Engine members and bound addresses.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// `user`'s role on `engine`: `owner` for its owner, a member's role, or `None` (including
    /// for an engine that does not exist).
    async fn engine_role(&self, engine: EngineId, user: UserId) -> Result<Option<EngineRole>>;
    /// The owner first, then members in the order they were added. NotFound for no engine.
    async fn list_members(&self, engine: EngineId) -> Result<Vec<EngineMember>>;
    /// Adds `user` as a member. Conflict if they are already one (or the owner); NotFound if
    /// the engine or the user does not exist.
    async fn add_member(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember>;
    /// Changes a member's role. NotFound unless `user` is a member (the owner is not).
    async fn set_member_role(
        &self,
        engine: EngineId,
        user: UserId,
        role: MemberRole,
    ) -> Result<EngineMember>;
    /// Removes a member. NotFound unless `user` is a member (the owner is not).
    async fn remove_member(&self, engine: EngineId, user: UserId) -> Result<()>;
    /// Every engine `user` owns or is a member of, with their role there, oldest first.
    async fn engines_of(&self, user: UserId) -> Result<Vec<(Engine, EngineRole)>>;

    /// Stores `challenge` as `user`'s one live challenge (replacing an earlier one).
    async fn put_address_challenge(&self, challenge: AddressChallenge) -> Result<()>;
    /// Removes and returns `user`'s challenge, whether or not it has expired: presenting a
    /// signature uses it up, right or wrong. Two concurrent takes: one gets it.
    async fn take_address_challenge(&self, user: UserId) -> Result<Option<AddressChallenge>>;
    /// Binds `address` (lowercase) to `user`. Conflict if it is bound to anyone already.
    async fn bind_address(&self, user: UserId, address: &str) -> Result<BoundAddress>;
    /// `user`'s addresses, oldest first.
    async fn list_addresses(&self, user: UserId) -> Result<Vec<BoundAddress>>;
    /// NotFound unless `address` is bound to `user`.
    async fn unbind_address(&self, user: UserId, address: &str) -> Result<()>;
    /// Who holds `address`, if anyone (an author check can map a signer to a user).
    async fn address_owner(&self, address: &str) -> Result<Option<UserId>>;
}
