//! Engines: owned by their creator, invisible to everyone else, tokens shown once and checked
//! in constant time.

use axum::http::{Method, StatusCode};
use flowork_model::{EngineId, Role};
use serde_json::json;

use crate::harness::{Fixture, assert_problem};

pub async fn engines_are_isolated_between_users(fx: &Fixture) {
    let (_, alice) = fx.user_token("alice", Role::User).await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&alice),
            Some(json!({"name": "laptop"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut keys: Vec<_> = a
        .body
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "token"]);
    let id = a.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("eng_"), "{id}");

    let list = fx
        .call(Method::GET, "/api/v1/engines", Some(&alice), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body,
        json!({"items": [{"id": id, "name": "laptop", "online": false, "last_seen": null,
            "role": "owner"}]})
    );
    let one = fx
        .call(
            Method::GET,
            &format!("/api/v1/engines/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(one.body["name"], "laptop");

    // Bob sees nothing and can touch nothing: 404, exactly as for an id that does not exist.
    let bobs = fx
        .call(Method::GET, "/api/v1/engines", Some(&bob), None)
        .await;
    assert_eq!(bobs.body, json!({"items": []}));
    let ghost = EngineId::new().to_string();
    for target in [&id, &ghost] {
        for (method, path) in [
            (Method::GET, format!("/api/v1/engines/{target}")),
            (
                Method::POST,
                format!("/api/v1/engines/{target}/rotate-token"),
            ),
            (Method::DELETE, format!("/api/v1/engines/{target}")),
        ] {
            let a = fx.call(method.clone(), &path, Some(&bob), None).await;
            assert_problem(&a, StatusCode::NOT_FOUND, None);
            assert!(!a.text.contains("alice"), "{}", a.text);
        }
    }
    // A user may not list everyone's; an admin may.
    let all = fx
        .call(Method::GET, "/api/v1/engines?all=true", Some(&bob), None)
        .await;
    assert_problem(&all, StatusCode::FORBIDDEN, None);
    let (_, root) = fx.user_token("root", Role::Admin).await;
    let all = fx
        .call(Method::GET, "/api/v1/engines?all=true", Some(&root), None)
        .await;
    assert_eq!(all.body["items"].as_array().expect("items").len(), 1);
    let bad = fx
        .call(Method::GET, "/api/v1/engines?all=maybe", Some(&root), None)
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, Some("all"));

    // Same name twice for one owner: 409; another owner may use it.
    let dup = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&alice),
            Some(json!({"name": "laptop"})),
        )
        .await;
    assert_problem(&dup, StatusCode::CONFLICT, None);
    let bobs = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&bob),
            Some(json!({"name": "laptop"})),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED);
    let bad = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&bob),
            Some(json!({"nam": "x"})),
        )
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, Some("name"));

    let del = fx
        .call(
            Method::DELETE,
            &format!("/api/v1/engines/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = fx
        .call(
            Method::GET,
            &format!("/api/v1/engines/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_problem(&gone, StatusCode::NOT_FOUND, None);
}

pub async fn engine_tokens_verify_and_rotate(fx: &Fixture) {
    let (owner, alice) = fx.user_token("alice", Role::User).await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/engines",
            Some(&alice),
            Some(json!({"name": "nas"})),
        )
        .await;
    let id: EngineId = a.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("engine id");
    let token = a.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("fke_"));

    let engine = fx.gw.verify_engine(id, &token).await.expect("verifies");
    assert_eq!((engine.id, engine.owner_id), (id, owner.id));
    assert!(fx.gw.verify_engine(id, "fke_wrong").await.is_err());
    assert!(fx.gw.verify_engine(EngineId::new(), &token).await.is_err());
    // An engine token is not an API credential.
    let me = fx
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_problem(&me, StatusCode::UNAUTHORIZED, None);

    let r = fx
        .call(
            Method::POST,
            &format!("/api/v1/engines/{id}/rotate-token"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], id.to_string());
    let rotated = r.body["token"].as_str().expect("token");
    assert_ne!(rotated, token);
    assert!(
        fx.gw.verify_engine(id, &token).await.is_err(),
        "the old token is dead"
    );
    fx.gw
        .verify_engine(id, rotated)
        .await
        .expect("the new one works");

    // What the store holds is a hash, not the token.
    let (_, stored) = fx.accounts.get_engine_token_hash(id).await.expect("hash");
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(rotated));
}
