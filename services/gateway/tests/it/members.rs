//! Engine members and their roles: who may see, save, run and manage an engine, through the
//! gateway's own routes and through forwarding to a linked engine; and the license behind them.

use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use flowork_model::Role;
use serde_json::{Value, json};

use crate::fake_engine::{Engine, Seen, Served, owner_with_engine};
use crate::harness::{Fixture, assert_problem};

async fn add(
    fx: &Fixture,
    by: &str,
    engine: &str,
    who: &str,
    role: &str,
) -> crate::harness::Answer {
    fx.call(
        Method::POST,
        &format!("/api/v1/engines/{engine}/members"),
        Some(by),
        Some(json!({"username": who, "role": role})),
    )
    .await
}

pub async fn engine_members_are_managed_by_admins_only(fx: &Fixture) {
    let (alice, engine, _) = owner_with_engine(fx, "alice").await;
    let (bob_user, bob) = fx.user_token("bob", Role::User).await;
    let (_, carol) = fx.user_token("carol", Role::User).await;
    fx.user("dave", Role::User).await;
    let id = engine.to_string();
    let members = format!("/api/v1/engines/{id}/members");

    // Not a member: the engine does not exist for bob.
    for (m, p) in [
        (Method::GET, format!("/api/v1/engines/{id}")),
        (Method::GET, members.clone()),
    ] {
        assert_problem(
            &fx.call(m, &p, Some(&bob), None).await,
            StatusCode::NOT_FOUND,
            None,
        );
    }

    let a = add(fx, &alice, &id, "bob", "viewer").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(
        (a.body["username"].as_str(), a.body["role"].as_str()),
        (Some("bob"), Some("viewer"))
    );
    assert_problem(
        &add(fx, &alice, &id, "bob", "editor").await,
        StatusCode::CONFLICT,
        None,
    );
    assert_problem(
        &add(fx, &alice, &id, "alice", "admin").await,
        StatusCode::CONFLICT,
        None,
    );
    assert_problem(
        &add(fx, &alice, &id, "carol", "owner").await,
        StatusCode::BAD_REQUEST,
        Some("role"),
    );
    assert_problem(
        &add(fx, &alice, &id, "carol", "god").await,
        StatusCode::BAD_REQUEST,
        Some("role"),
    );
    assert_problem(
        &add(fx, &alice, &id, "nobody", "viewer").await,
        StatusCode::BAD_REQUEST,
        Some("username"),
    );

    // A viewer sees the engine, with their role, and can manage nothing.
    let list = fx
        .call(Method::GET, "/api/v1/engines", Some(&bob), None)
        .await;
    assert_eq!(list.body["items"][0]["id"], id, "{}", list.text);
    assert_eq!(list.body["items"][0]["role"], "viewer");
    let one = fx
        .call(
            Method::GET,
            &format!("/api/v1/engines/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        (one.status, one.body["role"].as_str()),
        (StatusCode::OK, Some("viewer"))
    );
    for (m, p) in [
        (Method::GET, members.clone()),
        (Method::POST, format!("/api/v1/engines/{id}/rotate-token")),
        (Method::DELETE, format!("/api/v1/engines/{id}")),
    ] {
        let a = fx.call(m.clone(), &p, Some(&bob), None).await;
        assert_problem(&a, StatusCode::FORBIDDEN, None);
        assert!(
            a.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("you are viewer"),
            "{m} {p}: {}",
            a.text
        );
    }

    // An editor cannot manage members either.
    let up = fx
        .call(
            Method::PUT,
            &format!("{members}/{}", bob_user.id),
            Some(&alice),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(
        (up.status, up.body["role"].as_str()),
        (StatusCode::OK, Some("editor")),
        "{}",
        up.text
    );
    let a = add(fx, &bob, &id, "carol", "viewer").await;
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    assert!(a.text.contains("admin"), "{}", a.text);
    assert_problem(
        &fx.call(
            Method::DELETE,
            &format!("{members}/{}", bob_user.id),
            Some(&bob),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        None,
    );

    // An admin manages members and the token, but cannot touch the owner or delete the engine.
    assert_eq!(
        add(fx, &alice, &id, "carol", "admin").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        add(fx, &carol, &id, "dave", "viewer").await.status,
        StatusCode::CREATED
    );
    let rotated = fx
        .call(
            Method::POST,
            &format!("/api/v1/engines/{id}/rotate-token"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let listed = fx.call(Method::GET, &members, Some(&carol), None).await;
    let names: Vec<_> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["username"].as_str().unwrap_or(""),
                m["role"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        ["alice:owner", "bob:editor", "carol:admin", "dave:viewer"]
    );
    let owner_id = listed.body["items"][0]["user_id"]
        .as_str()
        .expect("owner id")
        .to_owned();
    assert_problem(
        &fx.call(
            Method::PUT,
            &format!("{members}/{owner_id}"),
            Some(&carol),
            Some(json!({"role": "viewer"})),
        )
        .await,
        StatusCode::CONFLICT,
        None,
    );
    assert_problem(
        &fx.call(
            Method::DELETE,
            &format!("{members}/{owner_id}"),
            Some(&carol),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        None,
    );
    assert_problem(
        &fx.call(
            Method::DELETE,
            &format!("/api/v1/engines/{id}"),
            Some(&carol),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_problem(
        &fx.call(
            Method::PUT,
            &format!("{members}/not-a-user"),
            Some(&carol),
            Some(json!({"role": "viewer"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("user_id"),
    );

    // Removed: the engine is gone for bob at once (the cache forgets the engine's answers).
    let gone = fx
        .call(
            Method::DELETE,
            &format!("{members}/{}", bob_user.id),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_problem(
        &fx.call(
            Method::GET,
            &format!("/api/v1/engines/{id}"),
            Some(&bob),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_problem(
        &fx.call(
            Method::DELETE,
            &format!("{members}/{}", bob_user.id),
            Some(&carol),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    );
    // The owner deletes it; its members go with it.
    let del = fx
        .call(
            Method::DELETE,
            &format!("/api/v1/engines/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let carols = fx
        .call(Method::GET, "/api/v1/engines", Some(&carol), None)
        .await;
    assert_eq!(carols.body, json!({"items": []}));
}

pub async fn viewers_cannot_save_or_run_through_the_gateway(fx: &Fixture) {
    let (alice, engine, token) = owner_with_engine(fx, "alice").await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    let id = engine.to_string();
    assert_eq!(
        add(fx, &alice, &id, "bob", "viewer").await.status,
        StatusCode::CREATED
    );
    let served = Served::start(fx.gw.clone()).await;
    let seen = Seen::default();
    let eng = Engine::start(&served.base, &id, &token, seen.clone());
    served.wait_online(&id, true).await;
    let http = reqwest::Client::new();
    let api = |p: &str| served.url(&format!("/api/v1/engines/{id}/{p}"));

    let res = http
        .get(api("workflows"))
        .bearer_auth(&bob)
        .header("x-flowork-engine-role", "owner")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["method"], "GET");
    assert_eq!(
        body["engine_role"], "viewer",
        "the engine learns the role the gateway checked, not the one the client claimed"
    );

    for (method, path) in [
        (Method::POST, "workflows"),
        (Method::PUT, "workflows/wf_1"),
        (Method::POST, "workflows/wf_1/run"),
        (Method::DELETE, "workflows/wf_1"),
        (Method::POST, "executions/ex_1/replay"),
    ] {
        let res = http
            .request(method.clone(), api(path))
            .bearer_auth(&bob)
            .json(&json!({"name": "w"}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: Value = res.json().await.expect("problem");
        assert_eq!(p["status"], 403);
        assert!(
            p["detail"].as_str().unwrap_or_default().contains("editor"),
            "{p}"
        );
    }
    assert_eq!(
        seen.workflow_posts.load(Ordering::SeqCst),
        0,
        "nothing reached the engine"
    );

    // Promoted to editor, bob saves (the change is seen at once: the cache forgot the engine).
    let members = format!("/api/v1/engines/{id}/members");
    let listed = fx.call(Method::GET, &members, Some(&alice), None).await;
    let bob_id = listed.body["items"][1]["user_id"]
        .as_str()
        .expect("bob")
        .to_owned();
    let up = fx
        .call(
            Method::PUT,
            &format!("{members}/{bob_id}"),
            Some(&alice),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.text);
    let res = http
        .post(api("workflows"))
        .bearer_auth(&bob)
        .json(&json!({"name": "w"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_eq!(seen.workflow_posts.load(Ordering::SeqCst), 1);
    eng.stop().await;
    served.stop().await;
}

pub async fn permissions_follow_the_license(fx: &Fixture) {
    use flowork_access::{Capability, LicenseSpec, Tier};
    use flowork_manifest::SecretKey;
    use flowork_model::Timestamp;

    let (alice, engine, _) = owner_with_engine(fx, "alice").await;
    let key = SecretKey::generate();
    let write = |name: &str, spec: LicenseSpec| {
        let path = fx.dir().join(name);
        std::fs::write(&path, spec.sign(&key).expect("sign")).expect("write");
        path
    };
    let spec = |tier: Tier, seats: Option<u32>, expires_at: Option<Timestamp>| LicenseSpec {
        licensee: "Acme".into(),
        tier,
        capabilities: None,
        seats,
        issued_at: Timestamp::now(),
        expires_at,
    };
    let free = write("free.json", spec(Tier::Free, Some(2), None));
    let public = key.public().to_string();
    let gw = fx
        .configured(|c| {
            c.license.file = Some(free.clone());
            c.license.public_key = Some(public.clone());
        })
        .await
        .expect("a free license starts");
    let app = gw.router();
    let call = |m: Method, p: String, body: Option<Value>| {
        let app = app.clone();
        let alice = alice.clone();
        async move {
            crate::harness::send(
                &app,
                crate::harness::request(
                    m,
                    &p,
                    Some(&alice),
                    body.map(|b| b.to_string()),
                    [10, 0, 0, 2],
                ),
            )
            .await
        }
    };
    // Free has no engine_management and no cloud_sync: even the owner is refused, saying why.
    let a = call(
        Method::GET,
        format!("/api/v1/engines/{engine}/members"),
        None,
    )
    .await;
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    assert!(
        a.text.contains(Capability::EngineManagement.as_str()),
        "{}",
        a.text
    );
    let a = call(
        Method::POST,
        format!("/api/v1/engines/{engine}/backups"),
        None,
    )
    .await;
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    assert!(a.text.contains("cloud_sync"), "{}", a.text);
    // basic_execution is granted: the engine is just offline.
    let a = call(
        Method::GET,
        format!("/api/v1/engines/{engine}/workflows"),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text);
    // Two seats: alice is one; admin creates a second user, not a third.
    let (_, root) = fx.user_token("root", Role::Admin).await;
    let a = crate::harness::send(
        &app,
        crate::harness::request(
            Method::POST,
            "/api/v1/users",
            Some(&root),
            Some(json!({"username": "eve", "password": "long enough pw"}).to_string()),
            [10, 0, 0, 3],
        ),
    )
    .await;
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    assert!(a.text.contains("2 user accounts"), "{}", a.text);

    // A license that does not verify stops the gateway, saying why.
    let expired = write(
        "expired.json",
        spec(
            Tier::Pro,
            None,
            Some(Timestamp(Timestamp::now().millis() - 1000)),
        ),
    );
    let other = SecretKey::generate().public().to_string();
    for (file, k, needle) in [
        (expired, public.clone(), "expired"),
        (free.clone(), other, "signed by another key"),
        (
            fx.dir().join("missing.json"),
            public.clone(),
            "missing.json",
        ),
    ] {
        let e = fx
            .configured(|c| {
                c.license.file = Some(file.clone());
                c.license.public_key = Some(k.clone());
            })
            .await
            .err()
            .expect("refused");
        assert!(e.to_string().contains(needle), "{e}");
    }
    let e = fx
        .configured(|c| c.license.file = Some(free.clone()))
        .await
        .err()
        .expect("no key");
    assert!(e.to_string().contains("license.public_key"), "{e}");
}

pub async fn the_gateway_can_ask_the_license_service_over_grpc(fx: &Fixture) {
    use flowork_access::{GrpcChecker, License, LocalChecker};

    let (alice, engine, _) = owner_with_engine(fx, "alice").await;
    let (_, bob) = fx.user_token("bob", Role::User).await;
    assert_eq!(
        add(fx, &alice, &engine.to_string(), "bob", "viewer")
            .await
            .status,
        StatusCode::CREATED
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = flowork_kit::CancellationToken::new();
    let local = LocalChecker::new(License::open_core(), fx.accounts.clone());
    tokio::spawn(flowork_license::run(
        std::sync::Arc::new(local),
        listener,
        stop.clone(),
    ));
    let remote = GrpcChecker::connect_lazy(&url).expect("client");
    let app = fx
        .gw
        .clone()
        .with_permissions(std::sync::Arc::new(remote))
        .router();
    let send = |m: Method, p: String, who: String| {
        let app = app.clone();
        async move {
            crate::harness::send(
                &app,
                crate::harness::request(m, &p, Some(&who), None, [10, 0, 0, 4]),
            )
            .await
        }
    };
    // Denied by the remote service: 403 for the viewer's save, 404 for a stranger.
    let mut tries = 0;
    let a = loop {
        let a = send(
            Method::POST,
            format!("/api/v1/engines/{engine}/workflows"),
            bob.clone(),
        )
        .await;
        tries += 1;
        if a.status != StatusCode::SERVICE_UNAVAILABLE || tries > 50 {
            break a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_problem(&a, StatusCode::FORBIDDEN, None);
    let a = send(
        Method::GET,
        format!("/api/v1/engines/{engine}"),
        bob.clone(),
    )
    .await;
    assert_eq!(a.body["role"], "viewer", "{}", a.text);
    let (_, carol) = fx.user_token("carol", Role::User).await;
    assert_problem(
        &send(Method::GET, format!("/api/v1/engines/{engine}"), carol).await,
        StatusCode::NOT_FOUND,
        None,
    );
    // The service gone: permission cannot be checked, so nothing is allowed (503, not 200).
    stop.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, dave) = fx.user_token("dave", Role::User).await;
    let a = send(Method::GET, format!("/api/v1/engines/{engine}"), dave).await;
    assert_problem(&a, StatusCode::SERVICE_UNAVAILABLE, None);
}
