//! Credentials, users and the key/value store (including compare-and-swap under contention).

use std::sync::Arc;

use flowork_model::{CredentialId, Role, Timestamp, UserId};
use flowork_storage::{Expect, NewCredential, NewUser, StorageError, Store};

use crate::assert_err;
use crate::harness::Fixture;

fn credential(name: &str, secret: &[u8]) -> NewCredential {
    NewCredential {
        id: CredentialId::new(),
        name: name.into(),
        kind: "http_header".into(),
        sealed: secret.to_vec(),
    }
}

pub async fn credentials_crud(fx: &Fixture) {
    let s = &fx.store;
    assert!(s.list_credentials().await.expect("empty").is_empty());
    let sealed = vec![0u8, 255, 1, 2, 3, 0, 9];
    let new = credential("stripe", &sealed);
    let c = s.create_credential(new.clone()).await.expect("create");
    assert_eq!(
        (c.id, c.name.as_str(), c.kind.as_str(), &c.sealed),
        (new.id, "stripe", "http_header", &sealed)
    );
    assert_eq!(s.get_credential("stripe").await.expect("get"), c);
    assert_err!(
        s.create_credential(credential("stripe", b"x")).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        s.create_credential(NewCredential {
            name: "other".into(),
            ..new.clone()
        })
        .await,
        StorageError::Conflict(_)
    );
    s.create_credential(credential("aws", b"k"))
        .await
        .expect("create aws");

    let updated = s
        .update_credential("stripe", b"rotated".to_vec())
        .await
        .expect("update");
    assert_eq!(
        (updated.id, updated.sealed.as_slice(), updated.created_at),
        (c.id, &b"rotated"[..], c.created_at)
    );
    assert!(updated.updated_at >= c.updated_at);
    let names: Vec<_> = s
        .list_credentials()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["aws", "stripe"]);

    assert_err!(
        s.update_credential("nope", vec![1]).await,
        StorageError::NotFound { .. }
    );
    assert_err!(
        s.get_credential("nope").await,
        StorageError::NotFound {
            entity: "credential",
            ..
        }
    );
    s.delete_credential("stripe").await.expect("delete");
    assert_err!(
        s.get_credential("stripe").await,
        StorageError::NotFound { .. }
    );
    assert_err!(
        s.delete_credential("stripe").await,
        StorageError::NotFound { .. }
    );
    assert_eq!(s.list_credentials().await.expect("list").len(), 1);
}

pub async fn users_crud(fx: &Fixture) {
    let s = &fx.store;
    assert_eq!(s.count_users().await.expect("count"), 0);
    let new = NewUser {
        id: UserId::new(),
        username: "ada".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Admin,
    };
    let u = s.create_user(new.clone()).await.expect("create");
    assert_eq!(
        (u.id, u.username.as_str(), u.role),
        (new.id, "ada", Role::Admin)
    );
    assert_eq!(u.password_hash, new.password_hash);
    assert_eq!(s.get_user_by_name("ada").await.expect("get"), u);
    let taken = NewUser {
        id: UserId::new(),
        role: Role::User,
        ..new.clone()
    };
    assert_err!(s.create_user(taken).await, StorageError::Conflict(_));
    let bob = NewUser {
        id: UserId::new(),
        username: "bob".into(),
        role: Role::User,
        ..new
    };
    assert_eq!(s.create_user(bob).await.expect("bob").role, Role::User);
    assert_eq!(s.count_users().await.expect("count"), 2);
    assert_err!(
        s.get_user_by_name("ADA").await,
        StorageError::NotFound { .. }
    );
}

pub async fn kv_versions_and_expectations(fx: &Fixture) {
    let s = &fx.store;
    assert_eq!(s.kv_get("ns", "k").await.expect("get"), None);
    assert_err!(
        s.kv_put("ns", "k", b"x".to_vec(), Expect::Version(1)).await,
        StorageError::Conflict(_)
    );
    assert_eq!(
        s.kv_put("ns", "k", b"one".to_vec(), Expect::Absent)
            .await
            .expect("absent"),
        1
    );
    assert_err!(
        s.kv_put("ns", "k", b"x".to_vec(), Expect::Absent).await,
        StorageError::Conflict(_)
    );
    assert_eq!(
        s.kv_put("ns", "k", b"two".to_vec(), Expect::Any)
            .await
            .expect("any"),
        2
    );
    assert_eq!(
        s.kv_put("ns", "k", b"three".to_vec(), Expect::Version(2))
            .await
            .expect("cas"),
        3
    );
    assert_err!(
        s.kv_put("ns", "k", b"x".to_vec(), Expect::Version(2)).await,
        StorageError::Conflict(_)
    );
    let e = s.kv_get("ns", "k").await.expect("get").expect("present");
    assert_eq!(
        (e.key.as_str(), e.value.as_slice(), e.version),
        ("k", &b"three"[..], 3)
    );

    // Namespaces are separate; Any on a new key starts at 1.
    assert_eq!(s.kv_get("other", "k").await.expect("get"), None);
    assert_eq!(
        s.kv_put("other", "k", vec![0, 1], Expect::Any)
            .await
            .expect("other"),
        1
    );

    // Prefix listing is literal (no LIKE wildcards) and in key order.
    for key in ["a/2", "a/1", "a%", "a_x", "ab", "b/1"] {
        s.kv_put("list", key, key.as_bytes().to_vec(), Expect::Any)
            .await
            .expect("put");
    }
    let keys = |v: Vec<flowork_storage::KvEntry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.kv_list("list", "a/").await.expect("list")),
        ["a/1", "a/2"]
    );
    assert_eq!(keys(s.kv_list("list", "a%").await.expect("list %")), ["a%"]);
    assert_eq!(
        keys(s.kv_list("list", "a_").await.expect("list _")),
        ["a_x"]
    );
    assert_eq!(keys(s.kv_list("list", "").await.expect("all")).len(), 6);
    assert!(s.kv_list("nothing", "").await.expect("empty").is_empty());

    assert!(s.kv_delete("ns", "k").await.expect("delete"));
    assert!(!s.kv_delete("ns", "k").await.expect("delete again"));
    assert_eq!(s.kv_get("ns", "k").await.expect("get"), None);
    assert_eq!(
        s.kv_put("ns", "k", b"new".to_vec(), Expect::Absent)
            .await
            .expect("recreate"),
        1
    );
}

/// Many tasks increment one counter with read + compare-and-swap; no increment is lost.
pub async fn kv_concurrent_cas(fx: &Fixture) {
    const TASKS: u64 = 12;
    const EACH: u64 = 10;
    let s: Arc<dyn Store> = Arc::clone(&fx.store);
    let tasks = (0..TASKS).map(|_| {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let mut done = 0;
            while done < EACH {
                let current = s.kv_get("ctr", "n").await.expect("get");
                let (n, expect) = match &current {
                    None => (0, Expect::Absent),
                    Some(e) => {
                        let n = u64::from_le_bytes(e.value.as_slice().try_into().expect("8 bytes"));
                        (n, Expect::Version(e.version))
                    }
                };
                match s
                    .kv_put("ctr", "n", (n + 1).to_le_bytes().to_vec(), expect)
                    .await
                {
                    Ok(_) => done += 1,
                    Err(StorageError::Conflict(_)) => {}
                    Err(e) => panic!("kv_put: {e}"),
                }
            }
        })
    });
    for r in futures::future::join_all(tasks).await {
        r.expect("task");
    }
    let e = s.kv_get("ctr", "n").await.expect("get").expect("present");
    let n = u64::from_le_bytes(e.value.as_slice().try_into().expect("8 bytes"));
    assert_eq!(n, TASKS * EACH, "no lost update");
    assert_eq!(e.version, TASKS * EACH, "one version per successful write");
}

/// Old entries of one namespace go, in batches; newer ones and other namespaces stay.
pub async fn kv_delete_before_prunes_old_entries(fx: &Fixture) {
    let s = &fx.store;
    for key in ["a", "b", "c"] {
        s.kv_put("old", key, b"1".to_vec(), Expect::Any)
            .await
            .expect("put");
    }
    s.kv_put("other", "a", b"1".to_vec(), Expect::Any)
        .await
        .expect("put");
    fx.exec_sql("UPDATE kv SET updated_at = 1000").await;
    s.kv_put("old", "fresh", b"1".to_vec(), Expect::Any)
        .await
        .expect("put");
    let cutoff = Timestamp(5000);
    assert_eq!(
        s.kv_delete_before("old", cutoff, 2).await.expect("batch"),
        2
    );
    assert_eq!(s.kv_delete_before("old", cutoff, 2).await.expect("rest"), 1);
    assert_eq!(s.kv_delete_before("old", cutoff, 2).await.expect("none"), 0);
    let left: Vec<_> = s
        .kv_list("old", "")
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(left, ["fresh"]);
    assert_eq!(s.kv_list("other", "").await.expect("other").len(), 1);
}
