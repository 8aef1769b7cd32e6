//! The request brakes: per client address on every route but health, per caller on
//! authenticated routes; 429 problem JSON with Retry-After beyond them.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use flowork_gateway::Limit;
use flowork_model::Role;

use crate::harness::{Fixture, assert_problem, request, send};

const TIGHT: Limit = Limit {
    burst: 3,
    refill: Duration::from_secs(60),
};

pub async fn requests_are_limited_per_address_and_per_caller(fx: &Fixture) {
    let (_, alice) = fx.user_token("alice", Role::User).await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    let app = fx
        .gw
        .clone()
        .with_request_limits(Some(TIGHT), None)
        .router();
    let docs = |ip| request(Method::GET, "/api/openapi.json", None, None, ip);
    for _ in 0..3 {
        assert_eq!(send(&app, docs([10, 0, 0, 1])).await.status, StatusCode::OK);
    }
    let over = send(&app, docs([10, 0, 0, 1])).await;
    assert_problem(&over, StatusCode::TOO_MANY_REQUESTS, None);
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&wait), "{wait}");
    // Webhooks count too; health never does; another address has its own budget.
    let hook = request(Method::POST, "/webhook/eng_x/a", None, None, [10, 0, 0, 1]);
    assert_eq!(send(&app, hook).await.status, StatusCode::TOO_MANY_REQUESTS);
    let health = request(Method::GET, "/healthz", None, None, [10, 0, 0, 1]);
    assert_eq!(send(&app, health).await.status, StatusCode::OK);
    assert_eq!(send(&app, docs([10, 0, 0, 2])).await.status, StatusCode::OK);

    // Per caller: alice's budget is hers wherever she calls from; bob's is untouched.
    let app = fx
        .gw
        .clone()
        .with_request_limits(None, Some(TIGHT))
        .router();
    let me = |token: &str, ip| request(Method::GET, "/api/v1/auth/me", Some(token), None, ip);
    for i in 0..3 {
        assert_eq!(
            send(&app, me(&alice, [10, 0, 1, i])).await.status,
            StatusCode::OK
        );
    }
    let over = send(&app, me(&alice, [10, 0, 1, 9])).await;
    assert_problem(&over, StatusCode::TOO_MANY_REQUESTS, None);
    assert_eq!(
        send(&app, me(&bob, [10, 0, 1, 9])).await.status,
        StatusCode::OK
    );
    // Unauthenticated calls are not counted against anyone: they are 401.
    let anon = request(Method::GET, "/api/v1/auth/me", None, None, [10, 0, 1, 9]);
    assert_eq!(send(&app, anon).await.status, StatusCode::UNAUTHORIZED);
}
