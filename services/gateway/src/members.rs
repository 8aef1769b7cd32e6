//! `/api/v1/engines/{id}/members`: who besides its owner may use an engine, and how
//! (`admin`, `editor`, `viewer`). Managing members needs admin or owner and the license's
//! `engine_management`; the owner is listed first and can be neither changed nor removed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowork_access::{Action, Capability};
use flowork_model::{EngineId, UserId};
use flowork_storage::{EngineMember, MemberRole, StorageError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Gateway;
use crate::auth::Caller;
use crate::error::{GatewayError, Result};
use crate::input::{self, JsonObject};

/// A person who may use the engine.
#[derive(Serialize, ToSchema)]
pub(crate) struct MemberView {
    user_id: String,
    username: String,
    /// `owner`, `admin`, `editor` or `viewer`.
    role: String,
    /// When they were added (RFC 3339); the engine's creation for its owner.
    added_at: String,
}

impl From<EngineMember> for MemberView {
    fn from(m: EngineMember) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            username: m.username,
            role: m.role.as_str().to_owned(),
            added_at: m.added_at.to_rfc3339(),
        }
    }
}

/// `{"items": [...]}`, the owner first.
#[derive(Serialize, ToSchema)]
pub(crate) struct MemberList {
    items: Vec<MemberView>,
}

/// `{"username", "role"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; parsed field by field to name the field at fault
pub(crate) struct NewMemberRequest {
    /// The user to add.
    username: String,
    /// `admin`, `editor` or `viewer`.
    role: String,
}

/// `{"role"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body
pub(crate) struct MemberRoleRequest {
    /// `admin`, `editor` or `viewer`.
    role: String,
}

fn role(body: &JsonObject) -> Result<MemberRole> {
    let raw = body.string("role")?;
    match raw.as_str() {
        "admin" => Ok(MemberRole::Admin),
        "editor" => Ok(MemberRole::Editor),
        "viewer" => Ok(MemberRole::Viewer),
        "owner" => Err(GatewayError::invalid(
            "role",
            "an engine has one owner, who registered it; give admin instead",
        )),
        _ => Err(GatewayError::invalid(
            "role",
            "role must be admin, editor or viewer",
        )),
    }
}

impl Gateway {
    /// The engine id, once the caller may manage its members.
    async fn managed(&self, caller: &Caller, id: &str) -> Result<EngineId> {
        let id: EngineId = input::id(id, "id")?;
        self.permit(
            caller,
            id,
            Action::ManageMembers,
            Capability::EngineManagement,
        )
        .await?;
        Ok(id)
    }
}

/// A member's row is missing: the owner (409, it has no member row) or nobody (404).
async fn not_a_member(gw: &Gateway, engine: EngineId, user: UserId) -> GatewayError {
    match gw.accounts.get_engine(engine).await {
        Ok(e) if e.owner_id == user => GatewayError::Storage(StorageError::Conflict(
            "the owner's role cannot be changed or removed".into(),
        )),
        _ => GatewayError::not_found("member", user),
    }
}

/// The engine's owner and members (admins and the owner).
#[utoipa::path(get, path = "/api/v1/engines/{id}/members", tag = "engines",
    security(("bearer" = [])), params(("id" = String, Path, description = "Engine id")),
    responses((status = 200, body = MemberList), (status = 400), (status = 401),
        (status = 403, description = "A member below admin, or engine_management is not licensed"),
        (status = 404)))]
pub(crate) async fn list(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MemberList>> {
    let id = gw.managed(&caller, &id).await?;
    let members = gw.accounts.list_members(id).await?;
    Ok(Json(MemberList {
        items: members.into_iter().map(Into::into).collect(),
    }))
}

/// Add a member (admins and the owner).
#[utoipa::path(post, path = "/api/v1/engines/{id}/members", tag = "engines",
    request_body = NewMemberRequest, security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id")),
    responses((status = 201, body = MemberView), (status = 400, description = "A field is invalid, or no such user; names it"),
        (status = 401), (status = 403), (status = 404),
        (status = 409, description = "Already a member, or the owner")))]
pub(crate) async fn add(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<(StatusCode, Json<MemberView>)> {
    let id = gw.managed(&caller, &id).await?;
    let username = body.string("username")?;
    let role = role(&body)?;
    let user = match gw.accounts.get_user_by_name(&username).await {
        Ok(u) => u,
        Err(StorageError::NotFound { .. }) => {
            return Err(GatewayError::invalid("username", "no user of that name"));
        }
        Err(e) => return Err(e.into()),
    };
    let m = gw.accounts.add_member(id, user.id, role).await?;
    gw.members_changed(id);
    tracing::info!(engine = %id, member = %user.id, role = role.as_str(), by = %caller.user_id,
        "added an engine member");
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// Change a member's role (admins and the owner).
#[utoipa::path(put, path = "/api/v1/engines/{id}/members/{user_id}", tag = "engines",
    request_body = MemberRoleRequest, security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id"), ("user_id" = String, Path, description = "The member (usr_...)")),
    responses((status = 200, body = MemberView), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409, description = "The owner")))]
pub(crate) async fn change(
    State(gw): State<Gateway>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    body: JsonObject,
) -> Result<Json<MemberView>> {
    let id = gw.managed(&caller, &id).await?;
    let user: UserId = input::id(&user, "user_id")?;
    let role = role(&body)?;
    let m = match gw.accounts.set_member_role(id, user, role).await {
        Ok(m) => m,
        Err(StorageError::NotFound { .. }) => return Err(not_a_member(&gw, id, user).await),
        Err(e) => return Err(e.into()),
    };
    gw.members_changed(id);
    tracing::info!(engine = %id, member = %user, role = role.as_str(), by = %caller.user_id,
        "changed an engine member's role");
    Ok(Json(m.into()))
}

/// Remove a member (admins and the owner).
#[utoipa::path(delete, path = "/api/v1/engines/{id}/members/{user_id}", tag = "engines",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Engine id"), ("user_id" = String, Path, description = "The member (usr_...)")),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404),
        (status = 409, description = "The owner")))]
pub(crate) async fn remove(
    State(gw): State<Gateway>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    let id = gw.managed(&caller, &id).await?;
    let user: UserId = input::id(&user, "user_id")?;
    match gw.accounts.remove_member(id, user).await {
        Ok(()) => {}
        Err(StorageError::NotFound { .. }) => return Err(not_a_member(&gw, id, user).await),
        Err(e) => return Err(e.into()),
    }
    gw.members_changed(id);
    tracing::info!(engine = %id, member = %user, by = %caller.user_id, "removed an engine member");
    Ok(StatusCode::NO_CONTENT)
}
