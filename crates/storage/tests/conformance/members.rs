//! Engine members (the owner implied, members with a role) and bound Ethereum addresses.

use std::sync::Arc;

use flowork_model::{EngineId, EngineRole, Role, Timestamp, UserId};
use flowork_storage::{
    AccountStore, AddressChallenge, MemberRole, NewEngine, NewUser, StorageError, User,
};

use crate::assert_err;
use crate::harness::Fixture;

async fn user(a: &Arc<dyn AccountStore>, name: &str) -> User {
    a.create_user(NewUser {
        id: UserId::new(),
        username: name.into(),
        password_hash: "$argon2id$fake".into(),
        role: Role::User,
    })
    .await
    .expect("create user")
}

pub async fn members_have_roles_and_the_owner_is_implied(fx: &Fixture) {
    let a = fx.accounts();
    let (alice, bob, carol) = (
        user(&a, "alice").await,
        user(&a, "bob").await,
        user(&a, "carol").await,
    );
    let eng = a
        .create_engine(NewEngine {
            id: EngineId::new(),
            owner_id: alice.id,
            name: "nas".into(),
            token_hash: "a".repeat(64),
        })
        .await
        .expect("engine");
    let id = eng.id;
    assert_eq!(
        a.engine_role(id, alice.id).await.expect("role"),
        Some(EngineRole::Owner)
    );
    assert_eq!(a.engine_role(id, bob.id).await.expect("role"), None);
    assert_eq!(
        a.engine_role(EngineId::new(), alice.id)
            .await
            .expect("role"),
        None
    );

    let m = a
        .add_member(id, bob.id, MemberRole::Viewer)
        .await
        .expect("add");
    assert_eq!(
        (m.user_id, m.role, m.username.as_str()),
        (bob.id, EngineRole::Viewer, "bob")
    );
    assert_err!(
        a.add_member(id, bob.id, MemberRole::Editor).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        a.add_member(id, alice.id, MemberRole::Admin).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        a.add_member(id, UserId::new(), MemberRole::Admin).await,
        StorageError::NotFound { entity: "user", .. }
    );
    assert_err!(
        a.add_member(EngineId::new(), bob.id, MemberRole::Admin)
            .await,
        StorageError::NotFound {
            entity: "engine",
            ..
        }
    );
    a.add_member(id, carol.id, MemberRole::Admin)
        .await
        .expect("add carol");
    let listed: Vec<_> = a
        .list_members(id)
        .await
        .expect("list")
        .into_iter()
        .map(|m| (m.username, m.role))
        .collect();
    assert_eq!(
        listed,
        [
            ("alice".to_owned(), EngineRole::Owner),
            ("bob".to_owned(), EngineRole::Viewer),
            ("carol".to_owned(), EngineRole::Admin),
        ]
    );

    let changed = a
        .set_member_role(id, bob.id, MemberRole::Editor)
        .await
        .expect("change");
    assert_eq!(changed.role, EngineRole::Editor);
    assert_eq!(
        a.engine_role(id, bob.id).await.expect("role"),
        Some(EngineRole::Editor)
    );
    // The owner is not a member row: it can be neither changed nor removed.
    assert_err!(
        a.set_member_role(id, alice.id, MemberRole::Viewer).await,
        StorageError::NotFound { .. }
    );
    assert_err!(
        a.remove_member(id, alice.id).await,
        StorageError::NotFound { .. }
    );

    let of_bob = a.engines_of(bob.id).await.expect("engines of bob");
    assert_eq!(of_bob.len(), 1);
    assert_eq!((of_bob[0].0.id, of_bob[0].1), (id, EngineRole::Editor));
    let of_alice = a.engines_of(alice.id).await.expect("engines of alice");
    assert_eq!(of_alice[0].1, EngineRole::Owner);

    a.remove_member(id, bob.id).await.expect("remove");
    assert_eq!(a.engine_role(id, bob.id).await.expect("role"), None);
    assert!(a.engines_of(bob.id).await.expect("none").is_empty());
    assert_err!(
        a.remove_member(id, bob.id).await,
        StorageError::NotFound { .. }
    );
    // Deleting the engine takes its members with it.
    a.delete_engine(alice.id, id).await.expect("delete");
    assert_eq!(a.engine_role(id, carol.id).await.expect("role"), None);
    assert_err!(a.list_members(id).await, StorageError::NotFound { .. });
}

pub async fn addresses_bind_once_and_challenges_are_single_use(fx: &Fixture) {
    let a = fx.accounts();
    let (alice, bob) = (user(&a, "alice").await, user(&a, "bob").await);
    let addr = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";

    assert_eq!(
        a.take_address_challenge(alice.id).await.expect("none"),
        None
    );
    let expires_at = Timestamp(Timestamp::now().millis() + 60_000);
    let ch = |nonce: &str| AddressChallenge {
        user_id: alice.id,
        nonce: nonce.into(),
        message: format!("sign {nonce}"),
        expires_at,
    };
    a.put_address_challenge(ch("n1")).await.expect("put");
    // A new challenge replaces the old one.
    a.put_address_challenge(ch("n2")).await.expect("put again");
    let taken = a.take_address_challenge(alice.id).await.expect("take");
    assert_eq!(taken, Some(ch("n2")));
    assert_eq!(
        a.take_address_challenge(alice.id).await.expect("used"),
        None
    );
    assert_err!(
        a.put_address_challenge(AddressChallenge {
            user_id: UserId::new(),
            ..ch("n3")
        })
        .await,
        StorageError::NotFound { .. }
    );

    let bound = a.bind_address(alice.id, addr).await.expect("bind");
    assert_eq!((bound.address.as_str(), bound.user_id), (addr, alice.id));
    assert_err!(
        a.bind_address(bob.id, addr).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        a.bind_address(alice.id, addr).await,
        StorageError::Conflict(_)
    );
    assert_eq!(a.address_owner(addr).await.expect("owner"), Some(alice.id));
    assert_eq!(a.list_addresses(alice.id).await.expect("list"), [bound]);
    assert!(a.list_addresses(bob.id).await.expect("list").is_empty());
    assert_err!(
        a.unbind_address(bob.id, addr).await,
        StorageError::NotFound { .. }
    );
    a.unbind_address(alice.id, addr).await.expect("unbind");
    assert_eq!(a.address_owner(addr).await.expect("owner"), None);
    a.bind_address(bob.id, addr).await.expect("free again");
}
