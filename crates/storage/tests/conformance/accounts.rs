//! The gateway's accounts: users by id, refresh token rotation and reuse, API keys, engines.

use std::sync::Arc;

use flowork_model::{ApiKeyId, EngineId, Role, Timestamp, UserId};
use flowork_storage::{
    AccountStore, NewApiKey, NewEngine, NewRefreshToken, NewUser, RefreshOutcome, StorageError,
    User,
};

use crate::assert_err;
use crate::harness::Fixture;

async fn user(a: &Arc<dyn AccountStore>, name: &str, role: Role) -> User {
    a.create_user(NewUser {
        id: UserId::new(),
        username: name.into(),
        password_hash: "$argon2id$fake".into(),
        role,
    })
    .await
    .expect("create user")
}

fn later(ms: i64) -> Timestamp {
    Timestamp(Timestamp::now().millis() + ms)
}

pub async fn accounts_users(fx: &Fixture) {
    let a = fx.accounts();
    let admin = user(&a, "admin", Role::Admin).await;
    let bob = user(&a, "bob", Role::User).await;
    assert_eq!(a.get_user(bob.id).await.expect("get"), bob);
    assert_err!(
        a.get_user(UserId::new()).await,
        StorageError::NotFound { .. }
    );
    let ids: Vec<_> = a
        .list_users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, vec![admin.id, bob.id]);
}

pub async fn refresh_tokens_rotate_and_detect_reuse(fx: &Fixture) {
    let a = fx.accounts();
    let u = user(&a, "alice", Role::User).await;
    let day = 86_400_000;
    a.create_refresh_token(NewRefreshToken {
        user_id: u.id,
        token_hash: "h1".into(),
        expires_at: later(day),
    })
    .await
    .expect("issue");
    let rotate = |p: &'static str, n: &'static str| {
        let a = a.clone();
        async move {
            a.rotate_refresh_token(p, n, later(day))
                .await
                .expect("rotate")
        }
    };
    assert_eq!(
        rotate("h1", "h2").await,
        RefreshOutcome::Rotated { user_id: u.id }
    );
    assert_eq!(
        rotate("h2", "h3").await,
        RefreshOutcome::Rotated { user_id: u.id }
    );
    assert_eq!(rotate("nope", "x").await, RefreshOutcome::Invalid);
    // h1 was consumed: presenting it again revokes the family, the live h3 included.
    assert_eq!(
        rotate("h1", "h4").await,
        RefreshOutcome::Reused { user_id: u.id }
    );
    assert_eq!(rotate("h3", "h5").await, RefreshOutcome::Invalid);

    // Another family is untouched; logout revokes only the caller's own family.
    a.create_refresh_token(NewRefreshToken {
        user_id: u.id,
        token_hash: "g1".into(),
        expires_at: later(day),
    })
    .await
    .expect("issue g1");
    let other = user(&a, "mallory", Role::User).await;
    assert!(
        !a.revoke_refresh_family(other.id, "g1")
            .await
            .expect("not theirs")
    );
    assert_eq!(
        rotate("g1", "g2").await,
        RefreshOutcome::Rotated { user_id: u.id }
    );
    assert!(a.revoke_refresh_family(u.id, "g1").await.expect("logout"));
    assert_eq!(rotate("g2", "g3").await, RefreshOutcome::Invalid);

    // Expired tokens do not rotate and are purged.
    a.create_refresh_token(NewRefreshToken {
        user_id: u.id,
        token_hash: "old".into(),
        expires_at: later(-1000),
    })
    .await
    .expect("issue expired");
    assert_eq!(rotate("old", "x2").await, RefreshOutcome::Invalid);
    assert_eq!(a.purge_refresh_tokens(later(0)).await.expect("purge"), 1);
    assert_eq!(
        a.purge_refresh_tokens(later(0)).await.expect("purge again"),
        0
    );
}

pub async fn refresh_concurrent_rotation_has_one_winner(fx: &Fixture) {
    let a = fx.accounts();
    let u = user(&a, "racer", Role::User).await;
    a.create_refresh_token(NewRefreshToken {
        user_id: u.id,
        token_hash: "r0".into(),
        expires_at: later(60_000),
    })
    .await
    .expect("issue");
    let tries = (0..8).map(|i| {
        let a = a.clone();
        async move {
            a.rotate_refresh_token("r0", &format!("r1-{i}"), later(60_000))
                .await
                .expect("rotate")
        }
    });
    let outcomes = futures::future::join_all(tries).await;
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
}

pub async fn api_keys_lifecycle(fx: &Fixture) {
    let a = fx.accounts();
    let u = user(&a, "keyholder", Role::Admin).await;
    let other = user(&a, "other", Role::User).await;
    let new = |name: &str, hash: &str| NewApiKey {
        id: ApiKeyId::new(),
        user_id: u.id,
        name: name.into(),
        prefix: "fk_abcd".into(),
        secret_hash: hash.into(),
    };
    let k1 = a.create_api_key(new("ci", "s1")).await.expect("create");
    assert_eq!((k1.name.as_str(), k1.last_used_at), ("ci", None));
    let k2 = a.create_api_key(new("cli", "s2")).await.expect("create 2");
    assert_err!(
        a.create_api_key(new("dup", "s1")).await,
        StorageError::Conflict(_)
    );
    let ghost = NewApiKey {
        user_id: UserId::new(),
        ..new("ghost", "s3")
    };
    assert_err!(a.create_api_key(ghost).await, StorageError::NotFound { .. });

    let owner = a
        .authenticate_api_key("s1")
        .await
        .expect("auth")
        .expect("live");
    assert_eq!(
        (owner.key_id, owner.user_id, owner.role),
        (k1.id, u.id, Role::Admin)
    );
    assert_eq!(a.authenticate_api_key("zz").await.expect("auth"), None);
    let listed = a.list_api_keys(u.id).await.expect("list");
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![k1.id, k2.id]
    );
    assert!(listed[0].last_used_at.is_some(), "use recorded");
    assert!(a.list_api_keys(other.id).await.expect("list").is_empty());

    assert_err!(
        a.revoke_api_key(other.id, k1.id).await,
        StorageError::NotFound { .. }
    );
    a.revoke_api_key(u.id, k1.id).await.expect("revoke");
    assert_err!(
        a.revoke_api_key(u.id, k1.id).await,
        StorageError::NotFound { .. }
    );
    assert_eq!(a.authenticate_api_key("s1").await.expect("auth"), None);
    assert_eq!(a.list_api_keys(u.id).await.expect("list").len(), 1);
}

pub async fn engines_are_owned(fx: &Fixture) {
    let a = fx.accounts();
    let alice = user(&a, "alice", Role::User).await;
    let bob = user(&a, "bob", Role::User).await;
    let new = |owner: UserId, name: &str, hash: &str| NewEngine {
        id: EngineId::new(),
        owner_id: owner,
        name: name.into(),
        token_hash: hash.into(),
    };
    let e1 = a
        .create_engine(new(alice.id, "laptop", "t1"))
        .await
        .expect("create");
    assert_eq!(
        (e1.owner_id, e1.name.as_str(), e1.last_seen_at),
        (alice.id, "laptop", None)
    );
    assert_err!(
        a.create_engine(new(alice.id, "laptop", "t9")).await,
        StorageError::Conflict(_)
    );
    let e2 = a
        .create_engine(new(bob.id, "laptop", "t2"))
        .await
        .expect("same name, other owner");
    assert_err!(
        a.create_engine(new(UserId::new(), "x", "t3")).await,
        StorageError::NotFound { .. }
    );

    assert_eq!(a.get_engine(e1.id).await.expect("get"), e1);
    assert_eq!(
        a.get_engine_token_hash(e1.id).await.expect("hash"),
        (e1.clone(), "t1".into())
    );
    assert_eq!(
        a.list_engines(Some(alice.id)).await.expect("mine"),
        vec![e1.clone()]
    );
    assert_eq!(a.list_engines(None).await.expect("all").len(), 2);

    assert_err!(
        a.set_engine_token(bob.id, e1.id, "tx").await,
        StorageError::NotFound { .. }
    );
    a.set_engine_token(alice.id, e1.id, "t1b")
        .await
        .expect("rotate");
    assert_eq!(a.get_engine_token_hash(e1.id).await.expect("hash").1, "t1b");

    let seen = Timestamp(1_800_000_000_000);
    a.touch_engine(e1.id, seen).await.expect("touch");
    assert_eq!(
        a.get_engine(e1.id).await.expect("get").last_seen_at,
        Some(seen)
    );
    assert_err!(
        a.touch_engine(EngineId::new(), seen).await,
        StorageError::NotFound { .. }
    );

    assert_err!(
        a.delete_engine(bob.id, e1.id).await,
        StorageError::NotFound { .. }
    );
    a.delete_engine(alice.id, e1.id).await.expect("delete");
    assert_err!(a.get_engine(e1.id).await, StorageError::NotFound { .. });
    assert_eq!(a.list_engines(None).await.expect("all"), vec![e2]);
}
