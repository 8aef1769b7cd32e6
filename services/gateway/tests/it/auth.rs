//! Login, refresh rotation and reuse detection, logout, rate limits.

use axum::http::{Method, StatusCode};
use flowork_model::Role;
use serde_json::json;

use crate::harness::{Fixture, PASSWORD, assert_problem, request, send};

pub async fn login_succeeds_and_me_answers(fx: &Fixture) {
    let admin = fx.user("admin", Role::Admin).await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": PASSWORD})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut keys: Vec<_> = a
        .body
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "refresh_token"]);
    assert_eq!(a.body["expires_in"], 900);
    let access = a.body["access_token"].as_str().expect("access");
    assert_eq!(access.split('.').count(), 3, "a JWT");
    assert!(
        a.body["refresh_token"]
            .as_str()
            .expect("refresh")
            .starts_with("fkr_")
    );

    let me = fx
        .call(Method::GET, "/api/v1/auth/me", Some(access), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], admin.id.to_string());
    assert_eq!(
        (me.body["username"].as_str(), me.body["role"].as_str()),
        (Some("admin"), Some("admin"))
    );
    assert!(me.body.get("password_hash").is_none(), "{}", me.text);
    assert!(!me.text.contains("argon2"), "{}", me.text);
}

pub async fn login_failures_look_alike(fx: &Fixture) {
    fx.user("carol", Role::User).await;
    let login =
        |body: serde_json::Value| fx.call(Method::POST, "/api/v1/auth/login", None, Some(body));
    let wrong = login(json!({"username": "carol", "password": "nope nope"})).await;
    let unknown = login(json!({"username": "nobody", "password": "nope nope"})).await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, None);
    assert_problem(&unknown, StatusCode::UNAUTHORIZED, None);
    assert_eq!(wrong.body, unknown.body, "no account enumeration");

    assert_problem(
        &login(json!({"username": "carol"})).await,
        StatusCode::BAD_REQUEST,
        Some("password"),
    );
    assert_problem(
        &login(json!({"username": 7, "password": "x"})).await,
        StatusCode::BAD_REQUEST,
        Some("username"),
    );
    assert_problem(
        &login(json!(["carol"])).await,
        StatusCode::BAD_REQUEST,
        Some("body"),
    );
    let garbage = send(
        &fx.app,
        request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some("{nope".into()),
            [10, 0, 0, 2],
        ),
    )
    .await;
    assert_problem(&garbage, StatusCode::BAD_REQUEST, Some("body"));
}

pub async fn login_is_rate_limited_per_username_and_address(fx: &Fixture) {
    fx.user("dave", Role::User).await;
    let attempt = |user: &str, ip: [u8; 4]| {
        let body = json!({"username": user, "password": "wrong password"}).to_string();
        send(
            &fx.app,
            request(Method::POST, "/api/v1/auth/login", None, Some(body), ip),
        )
    };
    // Five guesses at one account, then the account is braked, from any address.
    for i in 0..5u8 {
        assert_eq!(
            attempt("dave", [10, 1, 0, i]).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = attempt("dave", [10, 1, 1, 1]).await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS, None);
    let after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=12).contains(&after), "{after}");
    // The right password does not get through the brake either.
    let body = json!({"username": "dave", "password": PASSWORD}).to_string();
    let a = send(
        &fx.app,
        request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(body),
            [10, 1, 1, 2],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);

    // One address spraying usernames: 20 attempts, then braked.
    for i in 0..20 {
        let a = attempt(&format!("spray{i}"), [10, 2, 0, 1]).await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            a.text
        );
    }
    assert_eq!(
        attempt("spray-last", [10, 2, 0, 1]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("spray-last", [10, 2, 0, 2]).await.status,
        StatusCode::UNAUTHORIZED,
        "other addresses are not"
    );
}

async fn refresh(fx: &Fixture, token: &str) -> crate::harness::Answer {
    fx.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

pub async fn refresh_rotates_and_reuse_revokes_the_login(fx: &Fixture) {
    fx.user("erin", Role::User).await;
    let (_, r1) = fx.login("erin").await;
    let (_, other_login) = fx.login("erin").await;

    let a = refresh(fx, &r1).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r2 = a.body["refresh_token"].as_str().expect("r2").to_owned();
    assert_ne!(r2, r1);
    let access2 = a.body["access_token"].as_str().expect("access");
    let me = fx
        .call(Method::GET, "/api/v1/auth/me", Some(access2), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // r1 is spent: presenting it again is a replay, and it takes r2 (the same login) down too.
    assert_problem(&refresh(fx, &r1).await, StatusCode::UNAUTHORIZED, None);
    assert_problem(&refresh(fx, &r2).await, StatusCode::UNAUTHORIZED, None);
    // Another login of the same user is untouched.
    assert_eq!(refresh(fx, &other_login).await.status, StatusCode::OK);

    assert_problem(
        &refresh(fx, "fkr_unknown").await,
        StatusCode::UNAUTHORIZED,
        None,
    );
    assert_problem(
        &refresh(fx, "not even a token").await,
        StatusCode::UNAUTHORIZED,
        None,
    );
    let missing = fx
        .call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({})))
        .await;
    assert_problem(&missing, StatusCode::BAD_REQUEST, Some("refresh_token"));
}

pub async fn logout_revokes_the_login(fx: &Fixture) {
    fx.user("frank", Role::User).await;
    let (access, r1) = fx.login("frank").await;
    let body = json!({"refresh_token": r1});
    let anon = fx
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(body.clone()),
        )
        .await;
    assert_problem(&anon, StatusCode::UNAUTHORIZED, None);
    // Someone else's logout does not touch frank's login.
    fx.user("grace", Role::User).await;
    let (grace, _) = fx.login("grace").await;
    let a = fx
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&grace),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let (_, r_again) = fx.login("frank").await;
    assert_eq!(refresh(fx, &r_again).await.status, StatusCode::OK);

    let a = fx
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            Some(body),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.text);
    assert_problem(&refresh(fx, &r1).await, StatusCode::UNAUTHORIZED, None);
}
