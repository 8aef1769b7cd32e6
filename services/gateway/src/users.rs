//! `/api/v1/users`: accounts, managed by admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowork_access::PermissionChecker as _;
use flowork_model::{Role, UserId};
use flowork_storage::{NewUser, User};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Gateway;
use crate::auth::Caller;
use crate::auth::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, hash_password};
use crate::error::{GatewayError, Result};
use crate::input::JsonObject;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    /// `admin` or `user`.
    pub role: String,
    pub created_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username,
            role: u.role.as_str().to_owned(),
            created_at: u.created_at.to_rfc3339(),
        }
    }
}

/// `{"items": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserList {
    items: Vec<UserView>,
}

/// `{"username", "password", "role"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; parsed field by field to name the field at fault
pub(crate) struct NewUserRequest {
    /// 1 to 64 of `A-Z a-z 0-9 . _ -`.
    username: String,
    /// 8 to 1024 bytes.
    password: String,
    /// `admin` or `user` (default).
    role: Option<String>,
}

fn username(body: &JsonObject) -> Result<String> {
    let name = body.string("username")?;
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(GatewayError::invalid(
            "username",
            "username must be 1 to 64 of A-Z a-z 0-9 . _ -",
        ));
    }
    Ok(name)
}

/// Create a user (admin only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserRequest,
    security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 400, description = "A field is invalid; names it"),
        (status = 401), (status = 403, description = "Not an admin, or the license's seats are taken"), (status = 409, description = "The username is taken")))]
pub(crate) async fn create(
    State(gw): State<Gateway>,
    caller: Caller,
    body: JsonObject,
) -> Result<(StatusCode, Json<UserView>)> {
    caller.require_admin()?;
    let username = username(&body)?;
    // Seats are counted here, at creation (two concurrent creations may both pass the count).
    if let Some(seats) = gw.permissions.license().await?.seats
        && gw.accounts.count_users().await? >= u64::from(seats)
    {
        return Err(GatewayError::Denied(format!(
            "the license allows {seats} user accounts, and all are taken"
        )));
    }
    let password = body.string("password")?;
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.len()) {
        return Err(GatewayError::invalid(
            "password",
            format!("password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    let role = match body.opt_string("role")?.as_deref() {
        None => Role::User,
        Some(r) => r
            .parse()
            .map_err(|_| GatewayError::invalid("role", "role must be admin or user"))?,
    };
    let user = gw
        .accounts
        .create_user(NewUser {
            id: UserId::new(),
            username,
            password_hash: hash_password(password).await?,
            role,
        })
        .await?;
    tracing::info!(user = %user.id, role = %user.role, by = %caller.user_id, "created a user");
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Every user (admin only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserList), (status = 401), (status = 403, description = "Not an admin")))]
pub(crate) async fn list(State(gw): State<Gateway>, caller: Caller) -> Result<Json<UserList>> {
    caller.require_admin()?;
    let users = gw.accounts.list_users().await?;
    Ok(Json(UserList {
        items: users.into_iter().map(Into::into).collect(),
    }))
}
