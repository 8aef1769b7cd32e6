//! `/api/v1/engines`: registering the engines that dial in over EngineLink, and checking their
//! tokens. An engine belongs to the user who registered it; to anyone else it does not exist
//! (404, not 403, so ids do not leak).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flowork_model::{EngineId, UserId};
use flowork_storage::{AccountStore, Engine, NewEngine, StorageError};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::Gateway;
use crate::auth::Caller;
use crate::auth::tokens::{self, ENGINE_PREFIX};
use crate::error::{GatewayError, Result};
use crate::input::{self, JsonObject};

/// Which engines are connected right now, when not the gateway's own answer (linked here or,
/// with replicas, recorded in Redis); see [`Gateway::with_presence`].
#[async_trait::async_trait]
pub trait EnginePresence: Send + Sync {
    /// Whether `engine` holds a live EngineLink stream to this gateway (or a replica).
    async fn is_online(&self, engine: EngineId) -> bool;
}

/// No broker: nothing is online.
#[derive(Debug, Default)]
pub struct NoPresence;

#[async_trait::async_trait]
impl EnginePresence for NoPresence {
    async fn is_online(&self, _: EngineId) -> bool {
        false
    }
}

/// An engine as listed.
#[derive(Serialize, ToSchema)]
pub(crate) struct EngineView {
    id: String,
    name: String,
    /// Connected over EngineLink right now.
    online: bool,
    /// When it was last connected (RFC 3339), if ever.
    last_seen: Option<String>,
}

/// `{"items": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct EngineList {
    items: Vec<EngineView>,
}

/// An engine's id and token: the only time the token is shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct EngineToken {
    id: String,
    /// The engine's `authorization: Bearer` for EngineLink. Shown once.
    token: String,
}

/// `{"name"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body
pub(crate) struct NewEngineRequest {
    /// 1 to 100 characters, unique among the caller's engines.
    name: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; parsed by `all_flag` to answer problem JSON
pub(crate) struct ListQuery {
    /// Admins only: every user's engines.
    all: Option<bool>,
}

/// `all=true|false` from the query string (400 naming `all` for anything else).
fn all_flag(query: Option<&str>) -> Result<bool> {
    let mut all = false;
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("all", "true" | "1") => all = true,
            ("all", "false" | "0") => all = false,
            ("all", _) => return Err(GatewayError::invalid("all", "all must be true or false")),
            _ => {}
        }
    }
    Ok(all)
}

impl Gateway {
    async fn view(&self, e: Engine) -> EngineView {
        let online = match &self.presence {
            Some(p) => p.is_online(e.id).await,
            None => self.linked_anywhere(e.id).await,
        };
        EngineView {
            id: e.id.to_string(),
            name: e.name,
            online,
            last_seen: e.last_seen_at.map(|t| t.to_rfc3339()),
        }
    }

    /// The engine `id` if `owner` owns it; NotFound otherwise (whether or not it exists).
    pub(crate) async fn owned_engine(&self, owner: UserId, id: EngineId) -> Result<Engine> {
        match self.accounts.get_engine(id).await {
            Ok(e) if e.owner_id == owner => Ok(e),
            Ok(_) | Err(StorageError::NotFound { .. }) => {
                Err(GatewayError::not_found("engine", id))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an engine's EngineLink credentials: the engine (with its owner) when `token` is
    /// its current token. Unknown engine and wrong token are the same 401.
    pub async fn verify_engine(&self, id: EngineId, token: &str) -> Result<Engine> {
        verify_engine_token(self.accounts.as_ref(), id, token).await
    }
}

/// [`Gateway::verify_engine`] over an account store (the EngineLink hub checks engines with it).
pub(crate) async fn verify_engine_token(
    accounts: &dyn AccountStore,
    id: EngineId,
    token: &str,
) -> Result<Engine> {
    let denied = || GatewayError::Unauthenticated("unknown engine or wrong engine token");
    let (engine, hash) = match accounts.get_engine_token_hash(id).await {
        Ok(found) => found,
        Err(StorageError::NotFound { .. }) => return Err(denied()),
        Err(e) => return Err(e.into()),
    };
    if tokens::matches(token, &hash) {
        Ok(engine)
    } else {
        Err(denied())
    }
}

/// Register an engine; answers its id and token (shown once).
#[utoipa::path(post, path = "/api/v1/engines", tag = "engines", request_body = NewEngineRequest,
    security(("bearer" = [])),
    responses((status = 201, body = EngineToken), (status = 400, description = "name is missing or invalid"),
        (status = 401), (status = 409, description = "The caller has an engine of that name")))]
pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    body: JsonObject,
) -> Result<(StatusCode, Json<EngineToken>)> {
    let name = body.name("name")?;
    let token = tokens::generate(ENGINE_PREFIX);
    let engine = gw
        .accounts
        .create_engine(NewEngine {
            id: EngineId::new(),
            owner_id: caller.user_id,
            name,
            token_hash: tokens::hash(&token),
        })
        .await?;
    tracing::info!(engine = %engine.id, user = %caller.user_id, "registered an engine");
    Ok((
        StatusCode::CREATED,
        Json(EngineToken {
            id: engine.id.to_string(),
            token,
        }),
    ))
}

/// The caller's engines (`?all=true`: everyone's, for admins).
#[utoipa::path(get, path = "/api/v1/engines", tag = "engines", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = EngineList), (status = 401), (status = 403, description = "all=true by a non-admin")))]
pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<EngineList>> {
    let owner = if all_flag(query.as_deref())? {
        caller.require_admin()?;
        None
    } else {
        Some(caller.user_id)
    };
    let engines = gw.accounts.list_engines(owner).await?;
    Ok(Json(EngineList {
        items: futures::future::join_all(engines.into_iter().map(|e| gw.view(e))).await,
    }))
}

/// One of the caller's engines.
#[utoipa::path(get, path = "/api/v1/engines/{id}", tag = "engines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id (eng_...)")),
    responses((status = 200, body = EngineView), (status = 400, description = "Not an engine id"), (status = 401), (status = 404)))]
pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineView>> {
    let engine = gw
        .owned_engine(caller.user_id, input::id(&id, "id")?)
        .await?;
    Ok(Json(gw.view(engine).await))
}

/// Replace an engine's token; the old one stops working, and a link opened with it is closed.
#[utoipa::path(post, path = "/api/v1/engines/{id}/rotate-token", tag = "engines",
    security(("bearer" = [])), params(("id" = String, Path, description = "Engine id")),
    responses((status = 200, body = EngineToken), (status = 400), (status = 401), (status = 404)))]
pub(crate) async fn rotate_token(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineToken>> {
    let id: EngineId = input::id(&id, "id")?;
    let token = tokens::generate(ENGINE_PREFIX);
    gw.accounts
        .set_engine_token(caller.user_id, id, &tokens::hash(&token))
        .await
        .map_err(|e| match e {
            StorageError::NotFound { .. } => GatewayError::not_found("engine", id),
            e => e.into(),
        })?;
    // A link opened with the old token must not outlive it.
    gw.disconnect_everywhere(id).await;
    tracing::info!(engine = %id, user = %caller.user_id, "rotated an engine token");
    Ok(Json(EngineToken {
        id: id.to_string(),
        token,
    }))
}

/// Delete an engine registration.
#[utoipa::path(delete, path = "/api/v1/engines/{id}", tag = "engines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id")),
    responses((status = 204), (status = 400), (status = 401), (status = 404)))]
pub(crate) async fn delete(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: EngineId = input::id(&id, "id")?;
    gw.accounts
        .delete_engine(caller.user_id, id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound { .. } => GatewayError::not_found("engine", id),
            e => e.into(),
        })?;
    gw.disconnect_everywhere(id).await;
    tracing::info!(engine = %id, user = %caller.user_id, "deleted an engine");
    Ok(StatusCode::NO_CONTENT)
}
