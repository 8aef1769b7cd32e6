//! `/api/v1/me/address`: binding Ethereum addresses to the caller's account by proof of
//! possession. The gateway issues a challenge (a message with a random nonce, expiring, one
//! live per user); the client signs it with `personal_sign` (EIP-191) and sends the signature;
//! the gateway recovers the signer and binds the address if it is the one claimed. The private
//! key never leaves the client. A challenge is used up by the first answer, right or wrong.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowork_flowchain::{Address, Signature};
use flowork_model::Timestamp;
use flowork_storage::{AddressChallenge, BoundAddress, StorageError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Gateway;
use crate::auth::Caller;
use crate::error::{GatewayError, Result};
use crate::input::JsonObject;

/// How long a challenge may be answered.
pub(crate) const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// The text to sign.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChallengeView {
    /// Sign exactly this (UTF-8) with `personal_sign`, then `POST /api/v1/me/address`.
    message: String,
    nonce: String,
    /// RFC 3339.
    expires_at: String,
}

/// A bound address.
#[derive(Serialize, ToSchema)]
pub(crate) struct AddressView {
    /// `0x` + 40 lowercase hex digits.
    address: String,
    bound_at: String,
}

impl From<BoundAddress> for AddressView {
    fn from(b: BoundAddress) -> Self {
        Self {
            address: b.address,
            bound_at: b.bound_at.to_rfc3339(),
        }
    }
}

/// `{"items": [...]}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct AddressList {
    items: Vec<AddressView>,
}

/// `{"address", "signature"}`.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the body; parsed field by field to name the field at fault
pub(crate) struct BindRequest {
    /// The address to bind (`0x…`, any case; mixed case must be a valid EIP-55 checksum).
    address: String,
    /// `personal_sign` of the challenge message: `0x` + 130 hex digits (r, s, v = 27/28).
    signature: String,
}

fn parse_address(raw: &str, field: &str) -> Result<Address> {
    raw.parse()
        .map_err(|e: flowork_flowchain::Error| GatewayError::invalid(field, e.to_string()))
}

/// Get a message to sign with the address to bind (replaces an earlier unanswered one).
#[utoipa::path(post, path = "/api/v1/me/address/challenge", tag = "users",
    security(("bearer" = [])),
    responses((status = 201, body = ChallengeView), (status = 401)))]
pub(crate) async fn challenge(
    State(gw): State<Gateway>,
    caller: Caller,
) -> Result<(StatusCode, Json<ChallengeView>)> {
    let user = gw.accounts.get_user(caller.user_id).await?;
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let expires_at = Timestamp::now().after(gw.challenge_ttl);
    let message = format!(
        "Flowork: bind this Ethereum address to the gateway account {} ({}).\n\
         Nonce: {nonce}\nExpires: {}",
        user.username,
        user.id,
        expires_at.to_rfc3339()
    );
    gw.accounts
        .put_address_challenge(AddressChallenge {
            user_id: user.id,
            nonce: nonce.clone(),
            message: message.clone(),
            expires_at,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ChallengeView {
            message,
            nonce,
            expires_at: expires_at.to_rfc3339(),
        }),
    ))
}

/// Bind an address: the signature of the caller's challenge must recover to it.
#[utoipa::path(post, path = "/api/v1/me/address", tag = "users", request_body = BindRequest,
    security(("bearer" = [])),
    responses((status = 201, body = AddressView),
        (status = 400, description = "A field is malformed, or there is no live challenge (never asked, used, or expired); names it"),
        (status = 401), (status = 409, description = "The address is bound to an account already"),
        (status = 422, description = "The signature does not recover to the address")))]
pub(crate) async fn bind(
    State(gw): State<Gateway>,
    caller: Caller,
    body: JsonObject,
) -> Result<(StatusCode, Json<AddressView>)> {
    let claimed = parse_address(&body.string("address")?, "address")?;
    let signature: Signature = body
        .string("signature")?
        .parse()
        .map_err(|e: flowork_flowchain::Error| GatewayError::invalid("signature", e.to_string()))?;
    // Taken before checking: a wrong answer uses the challenge up too, so it cannot be guessed at.
    let ch = gw
        .accounts
        .take_address_challenge(caller.user_id)
        .await?
        .ok_or_else(|| {
            GatewayError::invalid(
                "challenge",
                "no live challenge (never asked for, or already used): \
                 POST /api/v1/me/address/challenge first",
            )
        })?;
    if Timestamp::now() >= ch.expires_at {
        return Err(GatewayError::invalid(
            "challenge",
            format!(
                "the challenge expired at {}; ask for a new one",
                ch.expires_at.to_rfc3339()
            ),
        ));
    }
    let signer =
        signature
            .recover(ch.message.as_bytes())
            .map_err(|e| GatewayError::Unprocessable {
                field: "signature".into(),
                message: e.to_string(),
            })?;
    if signer != claimed {
        return Err(GatewayError::Unprocessable {
            field: "signature".into(),
            message: format!("the signature recovers to {signer}, not {claimed}"),
        });
    }
    let bound = gw
        .accounts
        .bind_address(caller.user_id, &claimed.to_string())
        .await?;
    tracing::info!(user = %caller.user_id, address = %claimed, "bound an address");
    Ok((StatusCode::CREATED, Json(bound.into())))
}

/// The caller's bound addresses.
#[utoipa::path(get, path = "/api/v1/me/address", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = AddressList), (status = 401)))]
pub(crate) async fn list(State(gw): State<Gateway>, caller: Caller) -> Result<Json<AddressList>> {
    let items = gw.accounts.list_addresses(caller.user_id).await?;
    Ok(Json(AddressList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Unbind one of the caller's addresses.
#[utoipa::path(delete, path = "/api/v1/me/address/{address}", tag = "users",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "0x + 40 hex digits")),
    responses((status = 204), (status = 400), (status = 401),
        (status = 404, description = "Not bound to the caller")))]
pub(crate) async fn unbind(
    State(gw): State<Gateway>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<StatusCode> {
    let address = parse_address(&address, "address")?;
    gw.accounts
        .unbind_address(caller.user_id, &address.to_string())
        .await
        .map_err(|e| match e {
            StorageError::NotFound { .. } => GatewayError::not_found("address", address),
            e => e.into(),
        })?;
    tracing::info!(user = %caller.user_id, %address, "unbound an address");
    Ok(StatusCode::NO_CONTENT)
}
