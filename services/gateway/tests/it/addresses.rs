//! Binding Ethereum addresses by signing a gateway challenge (EIP-191 personal_sign).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use flowork_flowchain::SigningKey;
use flowork_model::Role;
use serde_json::json;

use crate::harness::{Answer, Fixture, assert_problem};

async fn challenge(fx: &Fixture, who: &str) -> String {
    let a = fx
        .call(
            Method::POST,
            "/api/v1/me/address/challenge",
            Some(who),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert!(a.body["expires_at"].is_string());
    let message = a.body["message"].as_str().expect("message").to_owned();
    assert!(message.contains(a.body["nonce"].as_str().expect("nonce")));
    message
}

async fn bind(fx: &Fixture, who: &str, address: &str, signature: &str) -> Answer {
    fx.call(
        Method::POST,
        "/api/v1/me/address",
        Some(who),
        Some(json!({"address": address, "signature": signature})),
    )
    .await
}

fn sign(key: &SigningKey, message: &str) -> String {
    key.sign_personal(message.as_bytes())
        .expect("sign")
        .to_string()
}

pub async fn addresses_bind_by_signing_a_challenge(fx: &Fixture) {
    let (_, alice) = fx.user_token("alice", Role::User).await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    let key = SigningKey::generate();
    let address = key.address().to_string();

    // No challenge yet.
    let sig = sign(&key, "anything");
    assert_problem(
        &bind(fx, &alice, &address, &sig).await,
        StatusCode::BAD_REQUEST,
        Some("challenge"),
    );

    // Signed by another key: 422, and the challenge is used up.
    let msg = challenge(fx, &alice).await;
    let wrong = sign(&SigningKey::generate(), &msg);
    let a = bind(fx, &alice, &address, &wrong).await;
    assert_problem(&a, StatusCode::UNPROCESSABLE_ENTITY, Some("signature"));
    assert!(a.text.contains("recovers to"), "{}", a.text);
    let right = sign(&key, &msg);
    assert_problem(
        &bind(fx, &alice, &address, &right).await,
        StatusCode::BAD_REQUEST,
        Some("challenge"),
    );

    // The right key over a fresh challenge binds it (EIP-55 spelling accepted).
    let msg = challenge(fx, &alice).await;
    let sig = sign(&key, &msg);
    let a = bind(fx, &alice, &key.address().to_checksum(), &sig).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["address"], address);
    // Replaying the same answer: the challenge was single use.
    assert_problem(
        &bind(fx, &alice, &address, &sig).await,
        StatusCode::BAD_REQUEST,
        Some("challenge"),
    );
    let list = fx
        .call(Method::GET, "/api/v1/me/address", Some(&alice), None)
        .await;
    assert_eq!(list.body["items"][0]["address"], address, "{}", list.text);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));

    // Bob proves he holds the same key: still refused, it is alice's.
    let msg = challenge(fx, &bob).await;
    let a = bind(fx, &bob, &address, &sign(&key, &msg)).await;
    assert_problem(&a, StatusCode::CONFLICT, None);
    let bobs = fx
        .call(Method::GET, "/api/v1/me/address", Some(&bob), None)
        .await;
    assert_eq!(bobs.body, json!({"items": []}));

    // An expired challenge is refused, saying so.
    let app = fx
        .gw
        .clone()
        .with_challenge_ttl(Duration::from_millis(1))
        .router();
    let ch = crate::harness::send(
        &app,
        crate::harness::request(
            Method::POST,
            "/api/v1/me/address/challenge",
            Some(&bob),
            None,
            [10, 0, 0, 5],
        ),
    )
    .await;
    let msg = ch.body["message"].as_str().expect("message").to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = SigningKey::generate();
    let a = bind(fx, &bob, &other.address().to_string(), &sign(&other, &msg)).await;
    assert_problem(&a, StatusCode::BAD_REQUEST, Some("challenge"));
    assert!(a.text.contains("expired"), "{}", a.text);

    // Malformed input names its field.
    assert_problem(
        &bind(fx, &bob, "0x1234", &sig).await,
        StatusCode::BAD_REQUEST,
        Some("address"),
    );
    assert_problem(
        &bind(fx, &bob, &address, "0xzz").await,
        StatusCode::BAD_REQUEST,
        Some("signature"),
    );

    // Unbind: only the holder, once; then bob may bind it.
    let path = format!("/api/v1/me/address/{address}");
    assert_problem(
        &fx.call(Method::DELETE, &path, Some(&bob), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_eq!(
        fx.call(Method::DELETE, &path, Some(&alice), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_problem(
        &fx.call(Method::DELETE, &path, Some(&alice), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let msg = challenge(fx, &bob).await;
    assert_eq!(
        bind(fx, &bob, &address, &sign(&key, &msg)).await.status,
        StatusCode::CREATED
    );
}
