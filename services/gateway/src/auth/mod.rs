//! Who is calling: `Authorization: Bearer <access token | API key>` → [`Caller`].
//!
//! Every protected route sits behind [`require_auth`], which authenticates once and leaves the
//! [`Caller`] in the request; handlers take it as an extractor. A route added to the protected
//! router is therefore protected even if its handler forgets to ask who is calling.

pub(crate) mod handlers;
pub(crate) mod password;
pub(crate) mod ratelimit;
pub(crate) mod tokens;

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowork_model::{ApiKeyId, Role, UserId};

use self::password::Passwords;
use self::ratelimit::{Limit, RateLimiter};
use self::tokens::{API_KEY_PREFIX, AccessTokens};
use crate::Gateway;
use crate::error::{GatewayError, Result};

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A JWT from login or refresh.
    AccessToken,
    /// An API key.
    ApiKey(ApiKeyId),
    /// Another gateway replica authenticated the caller and relayed the request (signed).
    Relay,
}

/// The authenticated caller of a protected route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    /// Forbidden unless the caller is an admin.
    pub fn require_admin(&self) -> Result<()> {
        match self.role {
            Role::Admin => Ok(()),
            Role::User => Err(GatewayError::Forbidden("this needs the admin role")),
        }
    }
}

/// Login limits: per client address, and per username.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub per_address: Limit,
    pub per_username: Limit,
}

impl Default for LoginLimits {
    /// 20 attempts per address, then one per 3 s; 5 per username, then one per 12 s.
    fn default() -> Self {
        Self {
            per_address: Limit {
                burst: 20,
                refill: Duration::from_secs(3),
            },
            per_username: Limit {
                burst: 5,
                refill: Duration::from_secs(12),
            },
        }
    }
}

/// What authentication needs, shared by the handlers.
pub(crate) struct Auth {
    pub(crate) tokens: AccessTokens,
    pub(crate) passwords: Passwords,
    pub(crate) refresh_ttl: Duration,
}

impl Auth {
    pub(crate) fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            tokens: AccessTokens::new(secret, access_ttl),
            passwords: Passwords::new(),
            refresh_ttl,
        }
    }
}

/// The login brakes (see [`LoginLimits`]).
pub(crate) struct LoginLimiters {
    pub(crate) by_address: RateLimiter,
    pub(crate) by_username: RateLimiter,
}

impl LoginLimiters {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            by_address: RateLimiter::new(limits.per_address),
            by_username: RateLimiter::new(limits.per_username),
        }
    }
}

const MISSING: &str = "missing Authorization: Bearer <access token or API key>";

/// The caller named by the request's bearer credentials.
pub(crate) async fn authenticate(gw: &Gateway, headers: &HeaderMap) -> Result<Caller> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(GatewayError::Unauthenticated(MISSING))?;
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(GatewayError::Unauthenticated(MISSING)),
    };
    if token.starts_with(API_KEY_PREFIX) {
        let owner = gw
            .accounts
            .authenticate_api_key(&tokens::hash(token))
            .await?
            .ok_or(GatewayError::Unauthenticated("invalid or revoked API key"))?;
        return Ok(Caller {
            user_id: owner.user_id,
            role: owner.role,
            via: Via::ApiKey(owner.key_id),
        });
    }
    let (user_id, role) = gw.auth.tokens.verify(token)?;
    Ok(Caller {
        user_id,
        role,
        via: Via::AccessToken,
    })
}

/// Middleware for protected routes: 401 problem JSON unless the request authenticates.
pub(crate) async fn require_auth(
    State(gw): State<Gateway>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&gw, req.headers()).await {
        Ok(caller) => {
            tracing::Span::current().record("user", tracing::field::display(caller.user_id));
            if let Some(limiter) = &gw.request_limits.per_key {
                // A relayed call was counted at the replica that took it.
                let key = match caller.via {
                    Via::ApiKey(id) => Some(format!("key:{id}")),
                    Via::AccessToken => Some(format!("user:{}", caller.user_id)),
                    Via::Relay => None,
                };
                if let Some(Err(wait)) = key.map(|k| limiter.check(&k)) {
                    return GatewayError::RateLimited(wait).into_response();
                }
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

impl FromRequestParts<Gateway> for Caller {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self> {
        match parts.extensions.get::<Caller>() {
            Some(c) => Ok(*c),
            None => authenticate(gw, &parts.headers).await,
        }
    }
}
