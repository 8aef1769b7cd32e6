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
            (9, "0009_flowchain_relink"),
            (10, "0010_engine_members"),
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

/// A version as saved before the flow-chain crate: no `signature` member, hashed over
/// serde_json's sorted output.
fn legacy_version(
    wf: flowork_model::WorkflowId,
    n: u32,
    previous: Option<String>,
) -> flowork_storage::WorkflowVersion {
    use sha2::Digest as _;
    let record = serde_json::json!({
        "workflow_id": wf.to_string(), "version": n, "author_id": null,
        "created_at": format!("2026-11-22T07:00:0{n}Z"), "previous_hash": previous,
        "workflow": {"name": "old", "nodes": [{"id": "a", "type": "trigger.manual"}], "n": n, "é": 1.5},
    });
    let hash = hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(&record).expect("json"),
    ));
    flowork_storage::WorkflowVersion {
        workflow_id: wf,
        version: n,
        hash,
        previous_hash: previous,
        author_id: None,
        signed: false,
        record,
        created_at: flowork_model::Timestamp(1_700_000_000_000),
    }
}

/// Migration 0009: chains hashed the old way are re-linked with flow-chain hashes at open, once;
/// chains already in the record format are left alone.
pub async fn legacy_chains_are_relinked(fx: &Fixture) {
    use flowork_flowchain::{ChainStatus, VersionRecord, verify_chain};
    let s = &fx.store;
    let old = s
        .create_workflow(new_workflow("old"))
        .await
        .expect("create");
    let mut previous = None;
    for n in 1..=3 {
        let v = legacy_version(old.id, n, previous.take());
        previous = Some(v.hash.clone());
        s.append_version(v).await.expect("append legacy");
    }
    let current = s
        .create_workflow(new_workflow("new"))
        .await
        .expect("create");
    let record = VersionRecord::next(
        None,
        current.id.to_string(),
        "2026-11-22T07:00:00Z",
        serde_json::json!({"nodes": []}),
    )
    .expect("record");
    let v = flowork_storage::WorkflowVersion {
        hash: record.hash().expect("hash").to_string(),
        record: serde_json::to_value(&record).expect("json"),
        ..legacy_version(current.id, 1, None)
    };
    s.append_version(v).await.expect("append current");
    let untouched = s.list_versions(current.id).await.expect("versions");
    // Back to before 0009, as a database written by the previous release.
    fx.exec_sql("DROP TABLE legacy_chains; DELETE FROM schema_migrations WHERE version = 9")
        .await;

    let upgraded = fx.reopen().await.expect("reopen runs 0009 and re-links");
    assert_eq!(
        fx.scalar("SELECT COUNT(*) FROM legacy_chains").await,
        0,
        "marks cleared"
    );
    let versions = upgraded.list_versions(old.id).await.expect("versions");
    let records: Vec<VersionRecord> = versions
        .iter()
        .map(|v| serde_json::from_value(v.record.clone()).expect("a flow-chain record"))
        .collect();
    for (v, r) in versions.iter().zip(&records) {
        assert_eq!(
            v.hash,
            r.hash().expect("hash").to_string(),
            "version {}",
            v.version
        );
        assert_eq!(v.previous_hash, r.previous_hash.map(|h| h.to_string()));
        assert_eq!(v.record["signature"], serde_json::Value::Null);
        assert_eq!(r.workflow["n"], v.version, "content kept");
    }
    let report = verify_chain(&records);
    assert_eq!(
        report.status,
        ChainStatus::Unsigned { first: 1, count: 3 },
        "{report:?}"
    );
    let head = upgraded.get_workflow(old.id).await.expect("head");
    assert_eq!(head.head_hash, Some(versions[2].hash.clone()));
    assert_eq!(
        upgraded.list_versions(current.id).await.expect("versions"),
        untouched
    );
    // A later open changes nothing.
    let again = fx.reopen().await.expect("reopen");
    assert_eq!(
        again.list_versions(old.id).await.expect("versions"),
        versions
    );
}
