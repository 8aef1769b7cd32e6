//! `/api/v1/auth/...`: login, refresh, logout, me.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, StatusCode};
use flowork_model::Timestamp;
use flowork_storage::{NewRefreshToken, RefreshOutcome, StorageError};
use serde::Serialize;
use utoipa::ToSchema;

use super::Caller;
use super::password::MAX_PASSWORD_LEN;
use super::tokens::{self, REFRESH_PREFIX};
use crate::Gateway;
use crate::error::{GatewayError, Result};
use crate::input::JsonObject;
use crate::users::UserView;

/// The same answer for an unknown user and a wrong password.
const BAD_LOGIN: &str = "invalid username or password";
const BAD_REFRESH: &str = "invalid, expired or revoked refresh token";

/// `{"username", "password"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; parsed field by field to name the field at fault
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

/// `{"refresh_token"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

/// A new token pair. The access token goes in `Authorization: Bearer`; the refresh token buys
/// the next pair once.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenPair {
    access_token: String,
    refresh_token: String,
    /// Seconds until the access token expires.
    expires_in: u64,
}

fn client_key(ext: &Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Log in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    security(()),
    responses((status = 200, body = TokenPair), (status = 400, description = "A field is missing or not a string"),
        (status = 401, description = "Invalid username or password"),
        (status = 429, description = "Too many attempts; see Retry-After")))]
pub(crate) async fn login(
    State(gw): State<Gateway>,
    ext: Extensions,
    body: JsonObject,
) -> Result<Json<TokenPair>> {
    let username = body.string("username")?;
    let password = body.string("password")?;
    gw.login_limits
        .by_address
        .check(&client_key(&ext))
        .and_then(|()| gw.login_limits.by_username.check(&username))
        .map_err(GatewayError::RateLimited)?;
    if password.len() > MAX_PASSWORD_LEN {
        return Err(GatewayError::Unauthenticated(BAD_LOGIN));
    }
    let user = match gw.accounts.get_user_by_name(&username).await {
        Ok(u) => Some(u),
        Err(StorageError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let user = match (gw.auth.passwords.verify(password, stored).await?, user) {
        (true, Some(user)) => user,
        _ => {
            tracing::info!("login refused");
            return Err(GatewayError::Unauthenticated(BAD_LOGIN));
        }
    };
    let refresh = tokens::generate(REFRESH_PREFIX);
    gw.accounts
        .create_refresh_token(NewRefreshToken {
            user_id: user.id,
            token_hash: tokens::hash(&refresh),
            expires_at: Timestamp::now().after(gw.auth.refresh_ttl),
        })
        .await?;
    tracing::info!(user = %user.id, "logged in");
    pair(&gw, &user, refresh)
}

fn pair(gw: &Gateway, user: &flowork_storage::User, refresh: String) -> Result<Json<TokenPair>> {
    Ok(Json(TokenPair {
        access_token: gw.auth.tokens.issue(user.id, user.role)?,
        refresh_token: refresh,
        expires_in: gw.auth.tokens.ttl_secs(),
    }))
}

/// Trade a refresh token for a new pair. The presented token is consumed; presenting it again
/// revokes every token of its login (theft detection).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    security(()),
    responses((status = 200, body = TokenPair), (status = 400, description = "refresh_token missing"),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token")))]
pub(crate) async fn refresh(
    State(gw): State<Gateway>,
    body: JsonObject,
) -> Result<Json<TokenPair>> {
    let presented = body.string("refresh_token")?;
    if !presented.starts_with(REFRESH_PREFIX) {
        return Err(GatewayError::Unauthenticated(BAD_REFRESH));
    }
    let next = tokens::generate(REFRESH_PREFIX);
    let expires = Timestamp::now().after(gw.auth.refresh_ttl);
    let outcome = gw
        .accounts
        .rotate_refresh_token(&tokens::hash(&presented), &tokens::hash(&next), expires)
        .await?;
    let user_id = match outcome {
        RefreshOutcome::Rotated { user_id } => user_id,
        RefreshOutcome::Reused { user_id } => {
            tracing::warn!(user = %user_id, "a consumed refresh token was presented again; revoked its whole login");
            return Err(GatewayError::Unauthenticated(BAD_REFRESH));
        }
        RefreshOutcome::Invalid => return Err(GatewayError::Unauthenticated(BAD_REFRESH)),
    };
    // The role may have changed since login: read it now.
    let user = match gw.accounts.get_user(user_id).await {
        Ok(u) => u,
        Err(StorageError::NotFound { .. }) => {
            return Err(GatewayError::Unauthenticated(BAD_REFRESH));
        }
        Err(e) => return Err(e.into()),
    };
    pair(&gw, &user, next)
}

/// Log out: revokes the refresh token and every token of its login. Access tokens already
/// issued stay valid until they expire (minutes).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    security(("bearer" = [])),
    responses((status = 204, description = "Logged out (also when the token was unknown)"),
        (status = 400, description = "refresh_token missing"), (status = 401)))]
pub(crate) async fn logout(
    State(gw): State<Gateway>,
    caller: Caller,
    body: JsonObject,
) -> Result<StatusCode> {
    let token = body.string("refresh_token")?;
    gw.accounts
        .revoke_refresh_family(caller.user_id, &tokens::hash(&token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401)))]
pub(crate) async fn me(State(gw): State<Gateway>, caller: Caller) -> Result<Json<UserView>> {
    match gw.accounts.get_user(caller.user_id).await {
        Ok(u) => Ok(Json(u.into())),
        // A valid token for a user deleted since: they are nobody now.
        Err(StorageError::NotFound { .. }) => Err(GatewayError::Unauthenticated("unknown user")),
        Err(e) => Err(e.into()),
    }
}
