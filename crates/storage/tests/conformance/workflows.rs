//! Workflows and versions: CRUD, pagination, the hash chain, atomic import, concurrent appends.

use std::collections::HashSet;
use std::sync::Arc;

use flowork_model::WorkflowId;
use flowork_storage::{Page, StorageError, Store, WorkflowPatch};

use crate::assert_err;
use crate::harness::{Fixture, chain, new_workflow, version};

pub async fn workflow_crud(fx: &Fixture) {
    let s = &fx.store;
    let new = new_workflow("orders");
    let wf = s.create_workflow(new.clone()).await.expect("create");
    assert_eq!(
        (wf.id, wf.name.as_str(), wf.active),
        (new.id, "orders", true)
    );
    assert_eq!((wf.head_version, wf.head_hash.clone()), (0, None));
    assert_eq!(wf.created_at, wf.updated_at);
    assert_eq!(s.get_workflow(new.id).await.expect("get"), wf);
    assert_err!(
        s.create_workflow(new.clone()).await,
        StorageError::Conflict(_)
    );

    let renamed = s
        .update_workflow(
            new.id,
            WorkflowPatch {
                name: Some("big orders".into()),
                active: None,
            },
        )
        .await
        .expect("rename");
    assert_eq!(
        (renamed.name.as_str(), renamed.active),
        ("big orders", true)
    );
    let paused = s
        .update_workflow(
            new.id,
            WorkflowPatch {
                name: None,
                active: Some(false),
            },
        )
        .await
        .expect("pause");
    assert_eq!((paused.name.as_str(), paused.active), ("big orders", false));
    assert!(paused.updated_at >= wf.updated_at);
    assert_eq!(s.get_workflow(new.id).await.expect("get"), paused);

    let missing = WorkflowId::new();
    assert_err!(
        s.get_workflow(missing).await,
        StorageError::NotFound {
            entity: "workflow",
            ..
        }
    );
    assert_err!(
        s.update_workflow(missing, WorkflowPatch::default()).await,
        StorageError::NotFound { .. }
    );
    s.delete_workflow(new.id).await.expect("delete");
    assert_err!(s.get_workflow(new.id).await, StorageError::NotFound { .. });
    assert_err!(
        s.delete_workflow(new.id).await,
        StorageError::NotFound { .. }
    );
}

pub async fn workflow_list_pagination(fx: &Fixture) {
    let s = &fx.store;
    assert!(
        s.list_workflows(Page::default())
            .await
            .expect("empty list")
            .is_empty()
    );
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            s.create_workflow(new_workflow(&format!("w{i}")))
                .await
                .expect("create")
                .id,
        );
    }
    ids.sort();
    let all = s.list_workflows(Page::default()).await.expect("list all");
    assert_eq!(all.iter().map(|w| w.id).collect::<Vec<_>>(), ids);

    let mut seen = Vec::new();
    let mut page = Page {
        limit: 3,
        after: None,
    };
    loop {
        let got = s.list_workflows(page.clone()).await.expect("page");
        assert!(got.len() <= 3);
        let Some(last) = got.last() else { break };
        page.after = Some(last.id.to_string());
        seen.extend(got.iter().map(|w| w.id));
    }
    assert_eq!(seen, ids, "pages cover every workflow once, in id order");
    let tail = Page {
        limit: 100,
        after: Some(ids[4].to_string()),
    };
    assert_eq!(s.list_workflows(tail).await.expect("tail").len(), 2);
}

pub async fn versions_append_and_read(fx: &Fixture) {
    let s = &fx.store;
    let wf = s
        .create_workflow(new_workflow("chain"))
        .await
        .expect("create")
        .id;
    let versions = chain(wf, 3);
    for v in &versions {
        let head = s.append_version(v.clone()).await.expect("append");
        assert_eq!(
            (head.head_version, head.head_hash.as_deref()),
            (v.version, Some(v.hash.as_str()))
        );
    }
    let head = s.get_workflow(wf).await.expect("get");
    assert_eq!(
        (head.head_version, head.head_hash.as_deref()),
        (3, Some("h3"))
    );
    assert_eq!(s.get_version(wf, 2).await.expect("get v2"), versions[1]);
    assert_eq!(s.list_versions(wf).await.expect("list"), versions);
    assert_err!(s.get_version(wf, 4).await, StorageError::NotFound { .. });

    let orphan = WorkflowId::new();
    assert_err!(
        s.append_version(version(orphan, 1, None, "x")).await,
        StorageError::NotFound { .. }
    );
    assert_err!(s.list_versions(orphan).await, StorageError::NotFound { .. });
    let empty = s
        .create_workflow(new_workflow("empty"))
        .await
        .expect("create")
        .id;
    assert!(s.list_versions(empty).await.expect("list empty").is_empty());
}

pub async fn append_conflict_writes_nothing(fx: &Fixture) {
    let s = &fx.store;
    let wf = s
        .create_workflow(new_workflow("chain"))
        .await
        .expect("create")
        .id;
    for v in chain(wf, 2) {
        s.append_version(v).await.expect("append");
    }
    let before = s.get_workflow(wf).await.expect("get");
    let attempts = [
        version(wf, 3, Some("not-the-head"), "bad-prev"),
        version(wf, 3, None, "no-prev"),
        version(wf, 4, Some("h2"), "skips-one"),
        version(wf, 2, Some("h1"), "duplicate"),
        version(wf, 1, None, "restart"),
    ];
    for v in attempts {
        assert_err!(s.append_version(v.clone()).await, StorageError::Conflict(_));
    }
    assert_err!(
        s.append_version(version(wf, 0, None, "zero")).await,
        StorageError::Conflict(_)
    );
    assert_eq!(
        s.get_workflow(wf).await.expect("get"),
        before,
        "head unchanged"
    );
    assert_eq!(
        s.list_versions(wf).await.expect("list"),
        chain(wf, 2),
        "no version written"
    );
    // The right successor still goes through.
    let head = s
        .append_version(version(wf, 3, Some("h2"), "h3"))
        .await
        .expect("append v3");
    assert_eq!(head.head_version, 3);
}

pub async fn import_is_all_or_nothing(fx: &Fixture) {
    let s = &fx.store;
    let good = new_workflow("imported");
    let wf = s
        .import_workflow(good.clone(), chain(good.id, 3))
        .await
        .expect("import");
    assert_eq!(
        (wf.head_version, wf.head_hash.as_deref(), wf.name.as_str()),
        (3, Some("h3"), "imported")
    );
    assert_eq!(
        s.list_versions(good.id).await.expect("list"),
        chain(good.id, 3)
    );

    // A broken link in the middle of the batch.
    let bad = new_workflow("broken");
    let mut versions = chain(bad.id, 4);
    versions[2].previous_hash = Some("wrong".into());
    assert!(s.import_workflow(bad.clone(), versions).await.is_err());
    assert_err!(s.get_workflow(bad.id).await, StorageError::NotFound { .. });
    assert_err!(s.list_versions(bad.id).await, StorageError::NotFound { .. });

    // A duplicate version number.
    let dup = new_workflow("dup");
    let mut versions = chain(dup.id, 2);
    versions.push(versions[1].clone());
    assert!(s.import_workflow(dup.clone(), versions).await.is_err());
    assert_err!(s.get_workflow(dup.id).await, StorageError::NotFound { .. });

    // A version of another workflow.
    let stray = new_workflow("stray");
    let mut versions = chain(stray.id, 2);
    versions[1].workflow_id = good.id;
    assert!(s.import_workflow(stray.clone(), versions).await.is_err());
    assert_err!(
        s.get_workflow(stray.id).await,
        StorageError::NotFound { .. }
    );

    // An existing id: conflict, and the existing workflow is untouched.
    let again = s.import_workflow(good.clone(), chain(good.id, 1)).await;
    assert_err!(again, StorageError::Conflict(_));
    assert_eq!(s.get_workflow(good.id).await.expect("get"), wf);
    assert_eq!(s.list_versions(good.id).await.expect("list").len(), 3);

    let listed = s.list_workflows(Page::default()).await.expect("list");
    assert_eq!(
        listed.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![good.id]
    );
}

/// 16 writers race to extend one chain, retrying on Conflict: every one lands exactly once and
/// the chain has no gap or fork.
pub async fn concurrent_appends_keep_chain(fx: &Fixture) {
    const WRITERS: u32 = 16;
    let s: Arc<dyn Store> = Arc::clone(&fx.store);
    let wf = s
        .create_workflow(new_workflow("race"))
        .await
        .expect("create")
        .id;
    let tasks = (0..WRITERS).map(|w| {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let head = s.get_workflow(wf).await.expect("get head");
                let hash = format!("writer-{w}");
                let v = version(wf, head.head_version + 1, head.head_hash.as_deref(), &hash);
                match s.append_version(v).await {
                    Ok(_) => return conflicts,
                    Err(StorageError::Conflict(_)) => conflicts += 1,
                    Err(e) => panic!("writer {w}: {e}"),
                }
                assert!(conflicts < 1000, "writer {w} starved");
            }
        })
    });
    let conflicts: u32 = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("writer task"))
        .sum();
    let versions = s.list_versions(wf).await.expect("list");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=WRITERS).collect::<Vec<_>>()
    );
    assert_eq!(versions[0].previous_hash, None);
    for pair in versions.windows(2) {
        assert_eq!(
            pair[1].previous_hash.as_deref(),
            Some(pair[0].hash.as_str()),
            "broken link"
        );
    }
    let hashes: HashSet<_> = versions.iter().map(|v| v.hash.clone()).collect();
    assert_eq!(
        hashes.len(),
        WRITERS as usize,
        "each writer landed exactly once"
    );
    let head = s.get_workflow(wf).await.expect("head");
    assert_eq!(head.head_version, WRITERS);
    assert_eq!(head.head_hash.as_ref(), versions.last().map(|v| &v.hash));
    eprintln!("concurrent appends: {conflicts} conflicts retried");
}
