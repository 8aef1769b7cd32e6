//! `/api/v1/users`: admins only.

use axum::http::{Method, StatusCode};
use flowork_model::Role;
use serde_json::json;

use crate::harness::{Fixture, assert_problem};

pub async fn user_routes_are_admin_only(fx: &Fixture) {
    let (_, user) = fx.user_token("plain", Role::User).await;
    let (_, admin) = fx.user_token("boss", Role::Admin).await;
    let body = json!({"username": "newbie", "password": "long enough pw"});
    let a = fx
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&user),
            Some(body.clone()),
        )
        .await;
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    assert_problem(
        &fx.call(Method::GET, "/api/v1/users", Some(&user), None)
            .await,
        StatusCode::FORBIDDEN,
        None,
    );

    let a = fx
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(
        (a.body["username"].as_str(), a.body["role"].as_str()),
        (Some("newbie"), Some("user"))
    );
    assert!(
        !a.text.contains("long enough pw") && !a.text.contains("argon2"),
        "{}",
        a.text
    );
    // The new user can log in with that password.
    let login = fx
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "newbie", "password": "long enough pw"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);

    let dup = fx
        .call(Method::POST, "/api/v1/users", Some(&admin), Some(body))
        .await;
    assert_problem(&dup, StatusCode::CONFLICT, None);
    let made = fx
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "second", "password": "long enough pw", "role": "admin"})),
        )
        .await;
    assert_eq!(made.body["role"], "admin");
    for (bad, field) in [
        (
            json!({"username": "has space", "password": "long enough pw"}),
            "username",
        ),
        (json!({"password": "long enough pw"}), "username"),
        (json!({"username": "ok", "password": "short"}), "password"),
        (
            json!({"username": "ok", "password": "long enough pw", "role": "root"}),
            "role",
        ),
    ] {
        let a = fx
            .call(Method::POST, "/api/v1/users", Some(&admin), Some(bad))
            .await;
        assert_problem(&a, StatusCode::BAD_REQUEST, Some(field));
    }
    let list = fx
        .call(Method::GET, "/api/v1/users", Some(&admin), None)
        .await;
    let names: Vec<_> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["username"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["plain", "boss", "newbie", "second"]);
    assert!(!list.text.contains("argon2"));
}
