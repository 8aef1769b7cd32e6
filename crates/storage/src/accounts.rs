//! The gateway's own state (DESIGN §2): refresh tokens, API keys and engines, beside the users of
//! [`UserStore`]. Only the gateway needs it, so it is not part of [`crate::Store`] (the remote
//! store of `services/store` does not implement it).
//!
//! Secrets never reach the store: callers pass the lowercase hex SHA-256 of a high-entropy random
//! token, and presented tokens are looked up by that hash.

use async_trait::async_trait;
use flowork_model::{ApiKeyId, EngineId, Role, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use crate::api::UserStore;
use crate::error::Result;
use crate::members::MemberStore;
use crate::types::User;
use crate::webhook_buffer::WebhookBufferStore;

/// An API key as stored and listed: no secret, no hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    /// The start of the secret, so a person can tell keys apart (`fk_AbCd1234`).
    pub prefix: String,
    pub created_at: Timestamp,
    /// Updated at most about once a minute, so using a key is not a write per request.
    pub last_used_at: Option<Timestamp>,
}

/// An API key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
}

/// Who a valid API key acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyOwner {
    pub key_id: ApiKeyId,
    pub user_id: UserId,
    /// The owner's current role (not the one at key creation).
    pub role: Role,
}

/// A registered engine: a scheduler allowed to dial in over EngineLink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub id: EngineId,
    /// The user who registered it; only they see and manage it.
    pub owner_id: UserId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
}

/// An engine to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEngine {
    pub id: EngineId,
    pub owner_id: UserId,
    pub name: String,
    /// Lowercase hex SHA-256 of the engine token.
    pub token_hash: String,
}

/// A refresh token to issue, starting a new family (a login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub user_id: UserId,
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    pub expires_at: Timestamp,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// It was live: it is now consumed and the next token (same family) is stored.
    Rotated { user_id: UserId },
    /// It had been consumed already: a replay, so its whole family is now revoked.
    Reused { user_id: UserId },
    /// Unknown, expired or revoked: nothing changed.
    Invalid,
}

/// Refresh tokens, API keys and engines (plus the user queries the gateway needs).
#[async_trait]
pub trait AccountStore: UserStore + WebhookBufferStore + MemberStore {
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// Every user, in id (creation) order.
    async fn list_users(&self) -> Result<Vec<User>>;

    /// Stores the first token of a new family.
    async fn create_refresh_token(&self, new: NewRefreshToken) -> Result<()>;
    /// Atomically consumes the token hashed `presented` and stores `next` (expiring at
    /// `next_expires_at`) in its family; a consumed token revokes its family instead. Two
    /// concurrent presentations of one token: one rotates, the other counts as a reuse.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &str,
        next_expires_at: Timestamp,
    ) -> Result<RefreshOutcome>;
    /// Revokes the family of the token hashed `token_hash` if it belongs to `user`; returns
    /// whether it did.
    async fn revoke_refresh_family(&self, user: UserId, token_hash: &str) -> Result<bool>;
    /// Deletes tokens that expired before `before` (consumed ones are kept until then, to
    /// detect their reuse); returns how many.
    async fn purge_refresh_tokens(&self, before: Timestamp) -> Result<u64>;

    /// Conflict if the id or secret hash exists. NotFound if the user does not exist.
    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey>;
    /// The user's live (not revoked) keys, oldest first.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>>;
    /// NotFound unless it is a live key of `user`.
    async fn revoke_api_key(&self, user: UserId, id: ApiKeyId) -> Result<()>;
    /// The owner of the live key hashed `secret_hash`, if any; records the use.
    async fn authenticate_api_key(&self, secret_hash: &str) -> Result<Option<ApiKeyOwner>>;

    /// Conflict if the owner has an engine of that name. NotFound if the owner does not exist.
    async fn create_engine(&self, new: NewEngine) -> Result<Engine>;
    async fn get_engine(&self, id: EngineId) -> Result<Engine>;
    /// The engine with its token hash, to check a presented engine token.
    async fn get_engine_token_hash(&self, id: EngineId) -> Result<(Engine, String)>;
    /// `owner`'s engines, or every engine for `None`, oldest first.
    async fn list_engines(&self, owner: Option<UserId>) -> Result<Vec<Engine>>;
    /// Replaces the token hash; the old token stops working. NotFound unless `owner` owns it.
    async fn set_engine_token(
        &self,
        owner: UserId,
        id: EngineId,
        token_hash: &str,
    ) -> Result<Engine>;
    /// NotFound unless `owner` owns it.
    async fn delete_engine(&self, owner: UserId, id: EngineId) -> Result<()>;
    /// Records that the engine was connected at `at`.
    async fn touch_engine(&self, id: EngineId, at: Timestamp) -> Result<()>;
}

/// How often at most `last_used_at` of an API key is rewritten.
pub(crate) const LAST_USED_RESOLUTION_MS: i64 = 60_000;
