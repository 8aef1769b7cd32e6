//! `/api/v1/engines`: registering the engines that dial in over EngineLink, and checking their
//! tokens. An engine belongs to the user who registered it (its owner) and is shared with its
//! members (`members`); to anyone else it does not exist (404, not 403, so ids do not leak).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use flowork_access::{Action, Capability};
use flowork_model::{EngineId, EngineRole};
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
    /// The caller's role on it (`owner`, `admin`, `editor`, `viewer`); null when an admin
    /// lists everyone's and it is not theirs.
    role: Option<String>,
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
    async fn view(&self, e: Engine, role: Option<EngineRole>) -> EngineView {
        let online = match &self.presence {
            Some(p) => p.is_online(e.id).await,
            None => self.linked_anywhere(e.id).await,
        };
        EngineView {
            id: e.id.to_string(),
            name: e.name,
            online,
            last_seen: e.last_seen_at.map(|t| t.to_rfc3339()),
            role: role.map(|r| r.as_str().to_owned()),
        }
    }

    /// The engine `id` and the caller's role on it, if they may do `action` there (404 for
    /// someone who is not a member, 403 for a role too weak).
    pub(crate) async fn engine_for(
        &self,
        caller: &Caller,
        id: EngineId,
        action: Action,
    ) -> Result<(Engine, EngineRole)> {
        let role = self
            .permit(caller, id, action, Capability::BasicExecution)
            .await?;
        match self.accounts.get_engine(id).await {
            Ok(e) => Ok((e, role)),
            // Deleted since the (cached) answer.
            Err(StorageError::NotFound { .. }) => Err(GatewayError::not_found("engine", id)),
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

/// The engines the caller owns or is a member of (`?all=true`: everyone's, for admins).
#[utoipa::path(get, path = "/api/v1/engines", tag = "engines", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = EngineList), (status = 401), (status = 403, description = "all=true by a non-admin")))]
pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<EngineList>> {
    let all = all_flag(query.as_deref())?;
    if all {
        caller.require_admin()?;
    }
    let mine = gw.accounts.engines_of(caller.user_id).await?;
    let engines = if all {
        let roles: std::collections::HashMap<_, _> =
            mine.into_iter().map(|(e, r)| (e.id, r)).collect();
        let every = gw.accounts.list_engines(None).await?;
        every
            .into_iter()
            .map(|e| {
                let role = roles.get(&e.id).copied();
                (e, role)
            })
            .collect()
    } else {
        mine.into_iter()
            .map(|(e, r)| (e, Some(r)))
            .collect::<Vec<_>>()
    };
    Ok(Json(EngineList {
        items: futures::future::join_all(engines.into_iter().map(|(e, r)| gw.view(e, r))).await,
    }))
}

/// An engine the caller owns or is a member of.
#[utoipa::path(get, path = "/api/v1/engines/{id}", tag = "engines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id (eng_...)")),
    responses((status = 200, body = EngineView), (status = 400, description = "Not an engine id"), (status = 401), (status = 404)))]
pub(crate) async fn get(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineView>> {
    let (engine, role) = gw
        .engine_for(&caller, input::id(&id, "id")?, Action::Read)
        .await?;
    Ok(Json(gw.view(engine, Some(role)).await))
}

/// Replace an engine's token (its owner and admins); the old one stops working, and a link
/// opened with it is closed.
#[utoipa::path(post, path = "/api/v1/engines/{id}/rotate-token", tag = "engines",
    security(("bearer" = [])), params(("id" = String, Path, description = "Engine id")),
    responses((status = 200, body = EngineToken), (status = 400), (status = 401),
        (status = 403, description = "A member below admin"), (status = 404)))]
pub(crate) async fn rotate_token(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EngineToken>> {
    let id: EngineId = input::id(&id, "id")?;
    let (engine, _) = gw.engine_for(&caller, id, Action::ManageMembers).await?;
    let token = tokens::generate(ENGINE_PREFIX);
    gw.accounts
        .set_engine_token(engine.owner_id, id, &tokens::hash(&token))
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

/// Delete an engine registration (its owner only).
#[utoipa::path(delete, path = "/api/v1/engines/{id}", tag = "engines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id")),
    responses((status = 204), (status = 400), (status = 401),
        (status = 403, description = "A member, not the owner"), (status = 404)))]
pub(crate) async fn delete(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: EngineId = input::id(&id, "id")?;
    let (engine, _) = gw.engine_for(&caller, id, Action::Delete).await?;
    gw.accounts
        .delete_engine(engine.owner_id, id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound { .. } => GatewayError::not_found("engine", id),
            e => e.into(),
        })?;
    gw.disconnect_everywhere(id).await;
    gw.members_changed(id);
    tracing::info!(engine = %id, user = %caller.user_id, "deleted an engine");
    Ok(StatusCode::NO_CONTENT)
}
