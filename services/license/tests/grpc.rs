//! CheckPermission over real gRPC: the service on 127.0.0.1:0 over a real SQLite store, asked
//! by the generated client and by `GrpcChecker` (what a gateway configured with
//! `gateway.license_url` uses).

use std::sync::Arc;
use std::time::Duration;

use flowork_access::{
    Action, Capability, Decision, Denial, GrpcChecker, License, LocalChecker, PermissionChecker,
    Query, Tier,
};
use flowork_kit::CancellationToken;
use flowork_model::{EngineId, EngineRole, Role, UserId};
use flowork_proto::v1 as pb;
use flowork_proto::v1::permission_client::PermissionClient;
use flowork_storage::{AccountStore, MemberRole, NewEngine, NewUser, SqliteStore};
use tonic::transport::Channel;

struct Stack {
    url: String,
    accounts: Arc<dyn AccountStore>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn serve(license: License) -> Stack {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("flowork.db");
    let store = SqliteStore::open(path.to_str().expect("utf8"), 2)
        .await
        .expect("sqlite");
    let accounts: Arc<dyn AccountStore> = Arc::new(store);
    let checker = LocalChecker::new(license, accounts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    tokio::spawn(flowork_license::run(
        Arc::new(checker),
        listener,
        stop.clone(),
    ));
    Stack {
        url,
        accounts,
        stop,
        _dir: dir,
    }
}

async fn user(a: &Arc<dyn AccountStore>, name: &str) -> UserId {
    a.create_user(NewUser {
        id: UserId::new(),
        username: name.into(),
        password_hash: "$argon2id$fake".into(),
        role: Role::User,
    })
    .await
    .expect("user")
    .id
}

async fn channel(url: &str) -> Channel {
    for _ in 0..50 {
        if let Ok(c) = Channel::from_shared(url.to_owned())
            .expect("url")
            .connect()
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the license service never answered at {url}");
}

fn ask(principal: UserId, engine: EngineId, action: &str, cap: &str) -> pb::CheckPermissionRequest {
    pb::CheckPermissionRequest {
        principal: principal.to_string(),
        capability: cap.into(),
        resource: format!("engines/{engine}"),
        action: action.into(),
    }
}

#[tokio::test]
async fn check_permission_over_grpc_denies_what_roles_and_the_license_do_not_allow() {
    let s = serve(License::open_core()).await;
    let a = &s.accounts;
    let (owner, viewer, editor, admin, stranger) = (
        user(a, "owner").await,
        user(a, "viewer").await,
        user(a, "editor").await,
        user(a, "admin").await,
        user(a, "stranger").await,
    );
    let engine = a
        .create_engine(NewEngine {
            id: EngineId::new(),
            owner_id: owner,
            name: "nas".into(),
            token_hash: "b".repeat(64),
        })
        .await
        .expect("engine")
        .id;
    for (u, r) in [
        (viewer, MemberRole::Viewer),
        (editor, MemberRole::Editor),
        (admin, MemberRole::Admin),
    ] {
        a.add_member(engine, u, r).await.expect("member");
    }
    let mut client = PermissionClient::new(channel(&s.url).await);
    let check = |p, act: &str| ask(p, engine, act, "basic_execution");
    let cases = [
        (viewer, "read", true, ""),
        (viewer, "write", false, "role"),
        (viewer, "run", false, "role"),
        (editor, "write", true, ""),
        (editor, "run", true, ""),
        (editor, "manage_members", false, "role"),
        (admin, "manage_members", true, ""),
        (admin, "delete", false, "role"),
        (owner, "delete", true, ""),
        (stranger, "read", false, "not_member"),
    ];
    for (who, act, allowed, denial) in cases {
        let d = client
            .check_permission(check(who, act))
            .await
            .expect("answer")
            .into_inner();
        assert_eq!(
            (d.allowed, d.denial.as_str()),
            (allowed, denial),
            "{act}: {d:?}"
        );
    }
    let d = client
        .check_permission(check(viewer, "write"))
        .await
        .expect("answer")
        .into_inner();
    assert_eq!(d.role, "viewer");
    assert!(d.reason.contains("editor"), "{}", d.reason);

    // Bad questions are InvalidArgument naming what is wrong, never an answer.
    for (req, needle) in [
        (
            ask(viewer, engine, "read", "teleport"),
            "unknown capability",
        ),
        (
            ask(viewer, engine, "sudo", "basic_execution"),
            "unknown action",
        ),
        (
            pb::CheckPermissionRequest {
                principal: "root".into(),
                ..check(viewer, "read")
            },
            "principal",
        ),
        (
            pb::CheckPermissionRequest {
                resource: "engines/nope".into(),
                ..check(viewer, "read")
            },
            "resource",
        ),
    ] {
        let e = client.check_permission(req).await.expect_err("invalid");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains(needle), "{}", e.message());
    }

    // The client a split gateway uses gets the same typed answers.
    let remote = GrpcChecker::connect_lazy(&s.url).expect("client");
    let q = Query {
        principal: viewer,
        engine,
        action: Action::Run,
        capability: Capability::BasicExecution,
    };
    assert_eq!(
        remote.check(q).await.expect("check"),
        Decision::Deny(Denial::Role {
            needed: EngineRole::Editor,
            have: EngineRole::Viewer
        })
    );
    let allowed = remote
        .check(Query {
            principal: editor,
            ..q
        })
        .await
        .expect("check");
    assert_eq!(
        allowed,
        Decision::Allow {
            role: EngineRole::Editor
        }
    );
    let l = remote.license().await.expect("license");
    assert_eq!(
        (l.tier, l.capabilities.len(), l.signed_by),
        (Tier::Architect, 12, None)
    );
    s.stop.cancel();
}

#[tokio::test]
async fn an_unlicensed_capability_is_denied_over_grpc_even_to_the_owner() {
    let mut license = License::open_core();
    license.tier = Tier::Free;
    license.capabilities = Tier::Free.default_capabilities();
    let s = serve(license).await;
    let owner = user(&s.accounts, "owner").await;
    let engine = s
        .accounts
        .create_engine(NewEngine {
            id: EngineId::new(),
            owner_id: owner,
            name: "e".into(),
            token_hash: "c".repeat(64),
        })
        .await
        .expect("engine")
        .id;
    let ch = channel(&s.url).await;
    let mut client = PermissionClient::new(ch.clone());
    let d = client
        .check_permission(ask(owner, engine, "read", "cloud_sync"))
        .await
        .expect("answer")
        .into_inner();
    assert_eq!(
        (d.allowed, d.denial.as_str()),
        (false, "unlicensed"),
        "{d:?}"
    );
    assert!(d.reason.contains("cloud_sync"), "{}", d.reason);
    let d = client
        .check_permission(ask(owner, engine, "read", "basic_execution"))
        .await
        .expect("answer")
        .into_inner();
    assert!(d.allowed, "{d:?}");

    let caps = pb::license_client::LicenseClient::new(ch.clone())
        .list_capabilities(pb::ListCapabilitiesRequest {})
        .await
        .expect("list")
        .into_inner()
        .items;
    assert_eq!(caps.len(), 12);
    let licensed: Vec<_> = caps
        .iter()
        .filter(|c| c.licensed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(licensed, ["basic_execution", "core_services"]);
    let info = pb::license_client::LicenseClient::new(ch.clone())
        .get_license(pb::GetLicenseRequest {})
        .await
        .expect("license")
        .into_inner();
    assert_eq!(
        (info.tier.as_str(), info.source.as_str()),
        ("free", "default")
    );

    // Its own health name is SERVING: not a placeholder any more.
    let health = tonic_health::pb::health_client::HealthClient::new(ch)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "flowork.v1.License".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    s.stop.cancel();
}
