//! What every request meets: auth on protected routes, request ids, security headers, body
//! limits; and what stays public.

use axum::http::{Method, StatusCode};
use flowork_model::Role;

use crate::harness::{Fixture, assert_problem, request, send};

/// Every operation the OpenAPI document marks as needing a bearer, with ids filled in.
fn protected() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(flowork_gateway::api::openapi()).expect("doc");
    let eng = flowork_model::EngineId::new().to_string();
    let key = flowork_model::ApiKeyId::new().to_string();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if op["security"] == serde_json::json!([{}]) {
                continue; // documented as public
            }
            let id = if path.contains("api-keys") {
                &key
            } else {
                &eng
            };
            let method = method.to_uppercase().parse().expect("method");
            let ex = flowork_model::ExecutionId::new().to_string();
            let path = path
                .replace("{id}", id)
                .replace("{execution_id}", &ex)
                .replace("{rest}", "workflows")
                .replace("{user_id}", &flowork_model::UserId::new().to_string())
                .replace("{address}", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
            out.push((method, path));
        }
    }
    out
}

pub async fn every_protected_route_needs_auth(fx: &Fixture) {
    let routes = protected();
    assert_eq!(routes.len(), 22, "{routes:?}");
    for (method, path) in routes {
        for bearer in [None, Some("garbage"), Some("fk_nope"), Some("Basic abc")] {
            let a = fx.call(method.clone(), &path, bearer, None).await;
            assert_problem(&a, StatusCode::UNAUTHORIZED, None);
            assert!(
                a.headers.contains_key("www-authenticate"),
                "{method} {path}"
            );
        }
    }
    // A token signed with another key is refused.
    let other = Fixture::sqlite().await.expect("fixture");
    other.user("mallory", Role::Admin).await;
    let (forged, _) = other.login("mallory").await;
    other.cleanup().await;
    let a = fx
        .call(Method::GET, "/api/v1/auth/me", Some(&forged), None)
        .await;
    assert_problem(&a, StatusCode::UNAUTHORIZED, None);
}

pub async fn edge_layers_and_public_routes(fx: &Fixture) {
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json"] {
        let a = fx.call(Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        let id = a.headers.get("x-request-id").expect("request id");
        assert!(!id.is_empty());
        assert_eq!(a.headers["x-content-type-options"], "nosniff");
        assert_eq!(a.headers["x-frame-options"], "DENY");
    }
    let doc = fx.call(Method::GET, "/api/openapi.json", None, None).await;
    assert!(doc.body["paths"]["/api/v1/auth/login"].is_object());
    assert!(doc.body["paths"]["/api/v1/engines/{engine_id}/workflows"].is_object());
    // The docs page: its own assets only, allowed by hash, nothing from elsewhere.
    let docs = fx.call(Method::GET, "/docs", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("/api/openapi.json"));
    let csp = docs.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    // A request id sent by the client is kept.
    let mut req = request(Method::GET, "/healthz", None, None, [10, 0, 0, 9]);
    req.headers_mut()
        .insert("x-request-id", "trace-me-42".parse().expect("header"));
    assert_eq!(
        send(&fx.app, req).await.headers["x-request-id"],
        "trace-me-42"
    );

    let big = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(2 << 20)
    );
    let a = send(
        &fx.app,
        request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(big),
            [10, 0, 0, 3],
        ),
    )
    .await;
    assert_problem(&a, StatusCode::PAYLOAD_TOO_LARGE, Some("body"));
    let a = fx.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // Answers carrying tokens must not be cached.
    fx.user("jane", Role::User).await;
    let body = serde_json::json!({"username": "jane", "password": crate::harness::PASSWORD});
    let a = fx
        .call(Method::POST, "/api/v1/auth/login", None, Some(body))
        .await;
    assert_eq!(a.headers["cache-control"], "no-store");
}

pub async fn metrics_can_be_private(fx: &Fixture) {
    let app = fx.with_private_metrics().await;
    let (_, user) = fx.user_token("user1", Role::User).await;
    let (_, admin) = fx.user_token("admin1", Role::Admin).await;
    let get = |bearer: Option<String>| {
        let app = app.clone();
        async move {
            send(
                &app,
                request(
                    Method::GET,
                    "/metrics",
                    bearer.as_deref(),
                    None,
                    [10, 0, 0, 4],
                ),
            )
            .await
        }
    };
    assert_problem(&get(None).await, StatusCode::UNAUTHORIZED, None);
    assert_problem(&get(Some(user)).await, StatusCode::FORBIDDEN, None);
    assert_eq!(get(Some(admin)).await.status, StatusCode::OK);
}
