//! The gateway's webhook buffer: ordered per engine, goes with its engine (surviving a restart is
//! tested in the gateway's tests, over a file).

use flowork_model::{EngineId, Role, Timestamp, UserId};
use flowork_storage::{NewEngine, NewUser, NewWebhookDelivery, StorageError};

use crate::assert_err;
use crate::harness::Fixture;

fn delivery(engine: EngineId, n: u32) -> NewWebhookDelivery {
    NewWebhookDelivery {
        id: format!("dlv_{engine}_{n}"),
        engine_id: engine,
        method: "POST".into(),
        path: "orders/new%20one".into(),
        query: n.is_multiple_of(2).then(|| format!("n={n}")),
        headers: vec![
            ("content-type".into(), b"application/json".to_vec()),
            ("x-odd".into(), vec![0xff, n as u8]),
        ],
        body: format!("{{\"n\":{n}}}").into_bytes(),
        received_at: Timestamp(1_700_000_000_000 + i64::from(n)),
    }
}

pub async fn webhook_buffer_orders_and_forgets(fx: &Fixture) {
    let a = fx.accounts();
    let owner = a
        .create_user(NewUser {
            id: UserId::new(),
            username: "hooks".into(),
            password_hash: "$argon2id$fake".into(),
            role: Role::User,
        })
        .await
        .expect("user");
    let mut engines = Vec::new();
    for name in ["one", "two"] {
        let e = a
            .create_engine(NewEngine {
                id: EngineId::new(),
                owner_id: owner.id,
                name: name.into(),
                token_hash: format!("hash-{name}"),
            })
            .await
            .expect("engine");
        engines.push(e.id);
    }
    let (e1, e2) = (engines[0], engines[1]);
    for n in 0..5 {
        a.buffer_webhook(delivery(e1, n)).await.expect("buffer");
        a.buffer_webhook(delivery(e2, n)).await.expect("buffer");
    }
    assert_err!(
        a.buffer_webhook(delivery(e1, 0)).await,
        StorageError::Conflict(_)
    );
    assert_err!(
        a.buffer_webhook(delivery(EngineId::new(), 0)).await,
        StorageError::NotFound { .. }
    );
    let backlog = a.webhook_backlog(e1).await.expect("backlog");
    assert_eq!(backlog.count, 5);
    let bytes: usize = (0..5).map(|n| delivery(e1, n).body.len()).sum();
    assert_eq!(backlog.bytes, bytes as u64);

    let first = a.pending_webhooks(e1, 0, 3).await.expect("pending");
    let ids: Vec<_> = first.iter().map(|d| d.delivery.id.clone()).collect();
    assert_eq!(ids, ["0", "1", "2"].map(|n| format!("dlv_{e1}_{n}")));
    assert_eq!(first[0].delivery, delivery(e1, 0), "stored as given");
    assert!(first.windows(2).all(|w| w[0].seq < w[1].seq));
    let rest = a
        .pending_webhooks(e1, first[2].seq, 10)
        .await
        .expect("pending");
    assert_eq!(rest.len(), 2);

    assert!(
        a.delete_webhook(e1, &first[0].delivery.id)
            .await
            .expect("delete")
    );
    assert!(
        !a.delete_webhook(e1, &first[0].delivery.id)
            .await
            .expect("again")
    );
    assert!(
        !a.delete_webhook(e2, &first[1].delivery.id)
            .await
            .expect("other engine's")
    );

    let left = a.pending_webhooks(e1, 0, 10).await.expect("pending");
    assert_eq!(left.len(), 4);
    assert_eq!(left[0].delivery, delivery(e1, 1));

    // Routes: none, then the latest.
    assert_eq!(a.webhook_routes(e1).await.expect("routes"), None);
    a.set_webhook_routes(e1, "[1]", Timestamp::now())
        .await
        .expect("set");
    a.set_webhook_routes(e1, "[2]", Timestamp::now())
        .await
        .expect("set");
    assert_eq!(
        a.webhook_routes(e1).await.expect("routes").as_deref(),
        Some("[2]")
    );
    assert_err!(
        a.set_webhook_routes(EngineId::new(), "[]", Timestamp::now())
            .await,
        StorageError::NotFound { .. }
    );

    // Deleting the engine deletes its buffer and routes.
    a.delete_engine(owner.id, e1).await.expect("delete engine");
    assert_eq!(a.webhook_backlog(e1).await.expect("backlog").count, 0);
    assert_eq!(a.webhook_routes(e1).await.expect("routes"), None);
    assert_eq!(a.webhook_backlog(e2).await.expect("backlog").count, 5);

    // Deliveries nobody came for expire: received_at is 1_700_000_000_000 + n.
    let purged = a
        .purge_webhooks(Timestamp(1_700_000_000_002))
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    let left = a.pending_webhooks(e2, 0, 10).await.expect("pending");
    assert_eq!(left[0].delivery, delivery(e2, 2));
}
