//! What headers cross the gateway toward an engine, and which stay behind.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::auth::Caller;

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Headers the gateway sets for the engine; a client sending them is ignored.
pub(crate) const USER_ID: &str = "x-flowork-user-id";
pub(crate) const USER_ROLE: &str = "x-flowork-user-role";
pub(crate) const DELIVERY_ID: &str = "x-flowork-delivery-id";
/// The caller's role on the engine (`owner`, `admin`, `editor`, `viewer`), as the gateway
/// checked it.
pub(crate) const ENGINE_ROLE: &str = "x-flowork-engine-role";

/// Drops hop-by-hop headers, those the `Connection` header names, and any identity header a
/// client made up.
pub(crate) fn strip(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
    for name in [USER_ID, USER_ROLE, DELIVERY_ID, ENGINE_ROLE] {
        headers.remove(name);
    }
}

/// An API call for the engine: the gateway's credentials stay here, the caller's identity (as
/// the gateway established it) goes along. The request id set by the edge layer is kept.
pub(crate) fn for_api(headers: &mut HeaderMap, caller: &Caller) {
    strip(headers);
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::PROXY_AUTHORIZATION);
    headers.remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&caller.user_id.to_string()) {
        headers.insert(USER_ID, v);
    }
    headers.insert(USER_ROLE, HeaderValue::from_static(caller.role.as_str()));
}

/// Tells the engine the caller's role on it (after [`for_api`], which drops a forged one).
pub(crate) fn with_engine_role(headers: &mut HeaderMap, role: flowork_model::EngineRole) {
    headers.insert(ENGINE_ROLE, HeaderValue::from_static(role.as_str()));
}

#[cfg(test)]
mod tests {
    use flowork_model::{Role, UserId};

    use super::*;
    use crate::Via;

    #[test]
    fn credentials_and_hop_headers_stay_identity_is_the_gateways() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("authorization", "Bearer secret"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("te", "trailers"),
            ("x-flowork-user-id", "usr_forged"),
            ("content-type", "application/json"),
            ("x-request-id", "r1"),
        ] {
            h.append(n, HeaderValue::from_static(v));
        }
        let caller = Caller {
            user_id: UserId::new(),
            role: Role::User,
            via: Via::AccessToken,
        };
        for_api(&mut h, &caller);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str().to_owned()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "content-type",
                "x-flowork-user-id",
                "x-flowork-user-role",
                "x-request-id"
            ]
        );
        assert_eq!(h[USER_ID], caller.user_id.to_string().as_str());
        assert_eq!(h[USER_ROLE], "user");
    }
}
