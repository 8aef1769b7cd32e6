//! The migrations runner: idempotent re-runs, concurrent starters, and edited-migration detection.

use flowork_storage::{Backend, Expect, StorageError};

use crate::assert_err;
use crate::harness::{Fixture, chain, new_workflow};

pub async fn migrations_rerun_is_noop(fx: &Fixture) {
    let rows = fx.migration_rows().await;
    assert!(
        !rows.is_empty(),
        "schema_migrations records what was applied"
    );
    let applied: Vec<_> = rows.iter().map(|(v, n, _)| (*v, n.as_str())).collect();
    assert_eq!(
        applied,
        [
            (1, "0001_init"),
            (2, "0002_node_run_port"),
            (3, "0003_executions_by_finished"),
            (4, "0004_accounts"),
            (5, "0005_webhook_buffer"),
            (6, "0006_blobs"),
            (7, "0007_drop_executions_by_created"),
            (8, "0008_gas_ledger"),
            (9, "0009_engine_members"),
        ]
    );

    let s = &fx.store;
    let wf = s
        .create_workflow(new_workflow("kept"))
        .await
        .expect("create");
    for v in chain(wf.id, 2) {
        s.append_version(v).await.expect("append");
    }
    s.kv_put("ns", "k", b"v".to_vec(), Expect::Any)
        .await
        .expect("kv");

    // Reopen twice at once (concurrent starters), then once more.
    let (a, b) = tokio::join!(fx.reopen(), fx.reopen());
    let (a, b) = (a.expect("reopen a"), b.expect("reopen b"));
    let c = fx.reopen().await.expect("reopen c");
    assert_eq!(
        fx.migration_rows().await,
        rows,
        "no migration applied twice"
    );
    for store in [&a, &b, &c] {
        assert_eq!(store.backend(), fx.store.backend());
        let got = store.get_workflow(wf.id).await.expect("data survives");
        assert_eq!(
            (got.head_version, got.head_hash.as_deref()),
            (2, Some("h2"))
        );
        assert_eq!(
            store
                .kv_get("ns", "k")
                .await
                .expect("kv")
                .map(|e| e.version),
            Some(1)
        );
    }
    // Stores opened on the same database see each other's writes.
    a.kv_put("ns", "k", b"w".to_vec(), Expect::Version(1))
        .await
        .expect("cas via reopened");
    assert_eq!(
        s.kv_get("ns", "k").await.expect("kv").map(|e| e.value),
        Some(b"w".to_vec())
    );
}

pub async fn migrations_detect_edited_file(fx: &Fixture) {
    fx.exec_sql(
        "UPDATE schema_migrations SET checksum = 'fnv1a64:0000000000000000' WHERE version = 1",
    )
    .await;
    match fx.reopen().await {
        Err(StorageError::Migration {
            version: 1,
            name,
            reason,
        }) => {
            assert_eq!(name, "0001_init");
            assert!(reason.contains("checksum mismatch"), "{reason}");
        }
        Err(e) => panic!("expected a migration error, got {e}"),
        Ok(_) => panic!("expected a migration error, the store opened"),
    }
    // The existing store keeps working; nothing was rolled forward or back.
    fx.store.ping().await.expect("ping");
    assert!(matches!(
        fx.store.backend(),
        Backend::Sqlite | Backend::Postgres
    ));
    assert_err!(
        fx.store
            .get_workflow(flowork_model::WorkflowId::new())
            .await,
        StorageError::NotFound { .. }
    );
}
