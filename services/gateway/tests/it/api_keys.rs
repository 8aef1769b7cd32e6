//! API keys: shown once, stored hashed, usable as a bearer, revocable by their owner only.

use axum::http::{Method, StatusCode};
use flowork_model::Role;
use serde_json::json;

use crate::harness::{Fixture, assert_problem};

pub async fn api_keys_create_use_revoke(fx: &Fixture) {
    let (hank, access) = fx.user_token("hank", Role::User).await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&access),
            Some(json!({"name": " ci "})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let secret = a.body["secret"].as_str().expect("secret").to_owned();
    let id = a.body["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("fk_") && secret.len() > 40, "{secret}");
    assert_eq!(a.body["name"], "ci");
    assert_eq!(a.body["prefix"], secret[..11]);

    // The key acts as hank.
    let me = fx
        .call(Method::GET, "/api/v1/auth/me", Some(&secret), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], hank.id.to_string());

    let list = fx
        .call(Method::GET, "/api/v1/api-keys", Some(&secret), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"].as_array().expect("items").len(), 1);
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    assert!(
        list.body["items"][0]["last_used_at"].is_string(),
        "{}",
        list.text
    );
    assert!(
        !list.text.contains(&secret[11..]),
        "the secret is never listed"
    );
    assert!(list.body["items"][0].get("secret").is_none());

    // Only its owner can revoke it, and to anyone else it does not exist.
    let (_, ivy) = fx.user_token("ivy", Role::Admin).await;
    let path = format!("/api/v1/api-keys/{id}");
    assert_problem(
        &fx.call(Method::DELETE, &path, Some(&ivy), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let ivys = fx
        .call(Method::GET, "/api/v1/api-keys", Some(&ivy), None)
        .await;
    assert_eq!(ivys.body["items"], json!([]));

    assert_eq!(
        fx.call(Method::DELETE, &path, Some(&access), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_problem(
        &fx.call(Method::GET, "/api/v1/auth/me", Some(&secret), None)
            .await,
        StatusCode::UNAUTHORIZED,
        None,
    );
    assert_problem(
        &fx.call(Method::DELETE, &path, Some(&access), None).await,
        StatusCode::NOT_FOUND,
        None,
    );

    // Bad input names the field.
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": 3}), "name"),
    ] {
        let a = fx
            .call(Method::POST, "/api/v1/api-keys", Some(&access), Some(body))
            .await;
        assert_problem(&a, StatusCode::BAD_REQUEST, Some(field));
    }
    let long = json!({"name": "x".repeat(101)});
    assert_problem(
        &fx.call(Method::POST, "/api/v1/api-keys", Some(&access), Some(long))
            .await,
        StatusCode::BAD_REQUEST,
        Some("name"),
    );
    let bad_id = fx
        .call(Method::DELETE, "/api/v1/api-keys/nope", Some(&access), None)
        .await;
    assert_problem(&bad_id, StatusCode::BAD_REQUEST, Some("id"));
    // An unknown key with the right shape is refused like any bad credential.
    let fake = fx
        .call(
            Method::GET,
            "/api/v1/auth/me",
            Some("fk_0000000000000000000000000000000000000000000"),
            None,
        )
        .await;
    assert_problem(&fake, StatusCode::UNAUTHORIZED, None);
}
