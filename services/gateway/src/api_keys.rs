//! `/api/v1/api-keys`: long-lived credentials for scripts and CI, acting as their owner.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowork_model::ApiKeyId;
use flowork_storage::{ApiKey, NewApiKey};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Gateway;
use crate::auth::Caller;
use crate::auth::tokens::{self, API_KEY_PREFIX};
use crate::error::Result;
use crate::input::{self, JsonObject};

/// Characters of the secret kept for display (`fk_` plus 8).
const PREFIX_LEN: usize = API_KEY_PREFIX.len() + 8;

/// An API key as listed: never the secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    id: String,
    name: String,
    /// The start of the secret, to tell keys apart.
    prefix: String,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at.to_rfc3339(),
            last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A new key: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// Use as `Authorization: Bearer <secret>`. Shown once; store it now.
    secret: String,
}

/// `{"items": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyList {
    items: Vec<ApiKeyView>,
}

/// `{"name"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body
pub(crate) struct NewApiKeyRequest {
    /// 1 to 100 characters.
    name: String,
}

/// Create an API key for the caller.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = NewApiKeyRequest,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedApiKey), (status = 400, description = "name is missing or invalid"), (status = 401)))]
pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    body: JsonObject,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    let name = body.name("name")?;
    let secret = tokens::generate(API_KEY_PREFIX);
    let key = gw
        .accounts
        .create_api_key(NewApiKey {
            id: ApiKeyId::new(),
            user_id: caller.user_id,
            name,
            prefix: secret[..PREFIX_LEN].to_owned(),
            secret_hash: tokens::hash(&secret),
        })
        .await?;
    tracing::info!(key = %key.id, user = %caller.user_id, "created an API key");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: key.into(),
            secret,
        }),
    ))
}

/// The caller's live API keys (without secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = 401)))]
pub(crate) async fn list(State(gw): State<Gateway>, caller: Caller) -> Result<Json<ApiKeyList>> {
    let keys = gw.accounts.list_api_keys(caller.user_id).await?;
    Ok(Json(ApiKeyList {
        items: keys.into_iter().map(Into::into).collect(),
    }))
}

/// Revoke one of the caller's API keys; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "API key id (key_...)")),
    responses((status = 204), (status = 400, description = "Not an API key id"), (status = 401),
        (status = 404, description = "No such key of the caller's")))]
pub(crate) async fn revoke(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: ApiKeyId = input::id(&id, "id")?;
    gw.accounts.revoke_api_key(caller.user_id, id).await?;
    tracing::info!(key = %id, user = %caller.user_id, "revoked an API key");
    Ok(StatusCode::NO_CONTENT)
}
