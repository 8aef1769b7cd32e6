//! Every RPC group through `RemoteStore`, checked like an in-process store would be.

use std::time::Duration;

use flowork_model::{
    CredentialId, ExecutionId, ExecutionStatus, NodeRunStatus, Role, Timestamp, UserId, WorkflowId,
};
use flowork_storage::{
    Backend, ExecutionFilter, ExecutionUpdate, Expect, NewCredential, NewExecution, NewUser,
    NewWorkflow, NodeRun, Page, StorageError, Store, WorkflowPatch, WorkflowVersion,
};
use serde_json::json;

/// A version record `n` of `wf` following `previous`.
pub fn version(wf: WorkflowId, n: u32, previous: Option<&str>) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: wf,
        version: n,
        hash: format!("h{n}"),
        previous_hash: previous.map(str::to_owned),
        author_id: Some("0x00000000000000000000000000000000000000aa".to_owned()),
        signed: n % 2 == 1,
        // Unicode, nesting, big and fractional numbers: the JSON must come back exactly.
        record: json!({"n": n, "name": "größe ✓", "nodes": [{"id": "a", "x": 1.5, "big": u64::MAX}]}),
        created_at: Timestamp(1_700_000_000_000 + i64::from(n)),
    }
}

fn new_workflow(name: &str) -> NewWorkflow {
    NewWorkflow {
        id: WorkflowId::new(),
        name: name.to_owned(),
        active: true,
    }
}

/// Runs every group against `s`, which must be empty and served by `backend`.
pub async fn all(s: &dyn Store, backend: Backend) {
    assert_eq!(s.backend(), backend);
    s.ping().await.expect("ping");
    let wf = workflows(s).await;
    executions(s, wf).await;
    credentials(s).await;
    kv(s).await;
    queue(s).await;
    users(s).await;
}

async fn workflows(s: &dyn Store) -> WorkflowId {
    let new = new_workflow("orders");
    let wf = s.create_workflow(new.clone()).await.expect("create");
    assert_eq!(
        (
            wf.id,
            wf.name.as_str(),
            wf.head_version,
            wf.head_hash.as_deref()
        ),
        (new.id, "orders", 0, None)
    );
    assert_eq!(s.get_workflow(new.id).await.expect("get"), wf);
    assert!(matches!(
        s.create_workflow(new.clone()).await,
        Err(StorageError::Conflict(_))
    ));
    let patch = WorkflowPatch {
        name: Some("big orders".into()),
        active: Some(false),
    };
    let renamed = s.update_workflow(new.id, patch).await.expect("update");
    assert_eq!(
        (renamed.name.as_str(), renamed.active),
        ("big orders", false)
    );
    let listed = s.list_workflows(Page::default()).await.expect("list");
    assert_eq!(listed, vec![renamed]);

    let v1 = version(new.id, 1, None);
    assert_eq!(
        s.append_version(v1.clone())
            .await
            .expect("append v1")
            .head_hash
            .as_deref(),
        Some("h1")
    );
    let stale = WorkflowVersion {
        previous_hash: Some("stale".into()),
        ..version(new.id, 2, Some("h1"))
    };
    assert!(matches!(
        s.append_version(stale).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.get_workflow(new.id).await.expect("get").head_version,
        1,
        "a conflict writes nothing"
    );
    let v2 = version(new.id, 2, Some("h1"));
    let head = s.append_version(v2.clone()).await.expect("append v2");
    assert_eq!(
        (head.head_version, head.head_hash.as_deref()),
        (2, Some("h2"))
    );
    assert_eq!(s.get_version(new.id, 2).await.expect("get v2"), v2);
    assert_eq!(
        s.list_versions(new.id).await.expect("versions"),
        vec![v1, v2]
    );

    let imported = new_workflow("imported");
    let chain = vec![
        version(imported.id, 1, None),
        version(imported.id, 2, Some("h1")),
        version(imported.id, 3, Some("h2")),
    ];
    let wf2 = s
        .import_workflow(imported.clone(), chain.clone())
        .await
        .expect("import");
    assert_eq!(wf2.head_version, 3);
    assert_eq!(s.list_versions(imported.id).await.expect("versions"), chain);
    let second = Page {
        limit: 1,
        after: Some(new.id.to_string()),
    };
    let page = s.list_workflows(second).await.expect("page");
    assert_eq!(
        page.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![imported.id]
    );
    s.delete_workflow(imported.id).await.expect("delete");
    assert!(matches!(
        s.get_workflow(imported.id).await,
        Err(StorageError::NotFound {
            entity: "workflow",
            ..
        })
    ));
    new.id
}

async fn executions(s: &dyn Store, wf: WorkflowId) {
    let new = NewExecution {
        id: ExecutionId::new(),
        workflow_id: wf,
        version: 2,
        trigger: "manual".into(),
        input: json!({"order": 42}),
        parent_id: None,
        started: false,
    };
    let ex = s
        .create_execution(new.clone())
        .await
        .expect("create execution");
    assert_eq!(
        (ex.status, ex.started_at, &ex.input),
        (ExecutionStatus::Queued, None, &new.input)
    );
    let child = NewExecution {
        id: ExecutionId::new(),
        parent_id: Some(new.id),
        started: false,
        trigger: "subworkflow".into(),
        ..new.clone()
    };
    let child = s.create_execution(child).await.expect("create child");
    assert_eq!(child.parent_id, Some(new.id));

    let running = ExecutionUpdate {
        status: ExecutionStatus::Running,
        output: None,
        error: None,
    };
    assert!(
        s.update_execution(new.id, running)
            .await
            .expect("running")
            .started_at
            .is_some()
    );
    let runs: Vec<NodeRun> = (1..=2)
        .map(|attempt| NodeRun {
            execution_id: new.id,
            node_id: "fetch".into(),
            attempt,
            status: if attempt == 1 {
                NodeRunStatus::Failed
            } else {
                NodeRunStatus::Succeeded
            },
            input: json!({"url": "https://example.com"}),
            output: (attempt == 2).then(|| json!({"status": 200})),
            // The taken port crosses the wire both set and unset.
            port: (attempt == 2).then(|| "größe ✓".to_owned()),
            error: (attempt == 1).then(|| "timeout".to_owned()),
            gas: 1_000 * u64::from(attempt),
            started_at: Timestamp(1_700_000_000_000 + i64::from(attempt)),
            finished_at: Some(Timestamp(1_700_000_000_100 + i64::from(attempt))),
        })
        .collect();
    for run in &runs {
        s.put_node_run(run.clone()).await.expect("put node run");
    }
    assert_eq!(s.list_node_runs(new.id).await.expect("node runs"), runs);

    let done = ExecutionUpdate {
        status: ExecutionStatus::Succeeded,
        output: Some(json!({"ok": true})),
        error: None,
    };
    let ex = s
        .update_execution(new.id, done.clone())
        .await
        .expect("succeeded");
    assert_eq!(
        (ex.status, &ex.output),
        (ExecutionStatus::Succeeded, &done.output)
    );
    let finished_at = ex.finished_at.expect("finished_at set");
    assert!(matches!(
        s.update_execution(new.id, done).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(s.get_execution(new.id).await.expect("get execution"), ex);

    let filter = ExecutionFilter {
        workflow_id: Some(wf),
        status: Some(ExecutionStatus::Succeeded),
    };
    assert_eq!(
        s.list_executions(filter, Page::default())
            .await
            .expect("list"),
        vec![ex]
    );
    let queued = ExecutionFilter {
        workflow_id: None,
        status: Some(ExecutionStatus::Queued),
    };
    assert_eq!(
        s.list_executions(queued, Page::default())
            .await
            .expect("list queued"),
        vec![child.clone()]
    );

    // Retention: the finished execution goes with its node runs, the queued child stays.
    assert_eq!(
        s.delete_finished_before(finished_at, 10)
            .await
            .expect("nothing finished before it"),
        0
    );
    let later = finished_at.after(Duration::from_millis(1));
    assert_eq!(
        s.delete_finished_before(later, 0).await.expect("limit 0"),
        0
    );
    assert_eq!(
        s.delete_finished_before(later, 10)
            .await
            .expect("delete finished"),
        1
    );
    assert!(matches!(
        s.get_execution(new.id).await,
        Err(StorageError::NotFound {
            entity: "execution",
            ..
        })
    ));
    assert!(s.list_node_runs(new.id).await.expect("runs").is_empty());
    assert_eq!(s.get_execution(child.id).await.expect("child stays"), child);
    assert_eq!(
        s.delete_finished_before(Timestamp::now().after(Duration::from_secs(60)), 10)
            .await
            .expect("again"),
        0,
        "unfinished executions are never deleted"
    );
}

async fn credentials(s: &dyn Store) {
    let new = NewCredential {
        id: CredentialId::new(),
        name: "github".into(),
        kind: "http_header".into(),
        sealed: vec![0, 1, 2, 255],
    };
    let c = s
        .create_credential(new.clone())
        .await
        .expect("create credential");
    assert_eq!((c.id, c.sealed.as_slice()), (new.id, &[0u8, 1, 2, 255][..]));
    assert_eq!(s.get_credential("github").await.expect("get"), c);
    assert!(matches!(
        s.create_credential(new).await,
        Err(StorageError::Conflict(_))
    ));
    let updated = s
        .update_credential("github", vec![9; 64])
        .await
        .expect("update");
    assert_eq!(updated.sealed, vec![9; 64]);
    assert_eq!(s.list_credentials().await.expect("list"), vec![updated]);
    s.delete_credential("github").await.expect("delete");
    assert!(matches!(
        s.get_credential("github").await,
        Err(StorageError::NotFound {
            entity: "credential",
            ..
        })
    ));
}

async fn kv(s: &dyn Store) {
    assert_eq!(
        s.kv_put("ns", "a", b"1".to_vec(), Expect::Absent)
            .await
            .expect("put absent"),
        1
    );
    assert!(matches!(
        s.kv_put("ns", "a", b"x".to_vec(), Expect::Absent).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.kv_put("ns", "a", b"2".to_vec(), Expect::Version(1))
            .await
            .expect("cas"),
        2
    );
    assert!(matches!(
        s.kv_put("ns", "a", b"x".to_vec(), Expect::Version(1)).await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.kv_put("ns", "a", b"3".to_vec(), Expect::Any)
            .await
            .expect("put any"),
        3
    );
    s.kv_put("ns", "b", vec![], Expect::Any)
        .await
        .expect("put b");
    s.kv_put("other", "a", b"o".to_vec(), Expect::Any)
        .await
        .expect("other ns");
    let a = s.kv_get("ns", "a").await.expect("get").expect("a exists");
    assert_eq!(
        (a.key.as_str(), a.value.as_slice(), a.version),
        ("a", &b"3"[..], 3)
    );
    let listed = s.kv_list("ns", "").await.expect("list");
    assert_eq!(
        listed.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(s.kv_list("ns", "b").await.expect("prefix").len(), 1);
    assert!(s.kv_delete("ns", "a").await.expect("delete"));
    assert!(!s.kv_delete("ns", "a").await.expect("delete again"));
    assert_eq!(s.kv_get("ns", "a").await.expect("get gone"), None);
}

async fn queue(s: &dyn Store) {
    const LONG: Duration = Duration::from_secs(60);
    assert_eq!(
        s.lease("jobs", "w1", LONG).await.expect("empty lease"),
        None
    );
    let id = s
        .enqueue("jobs", json!({"n": 1}), Duration::ZERO)
        .await
        .expect("enqueue");
    assert_eq!(s.queue_len("jobs").await.expect("len"), 1);
    let job = s
        .lease("jobs", "w1", LONG)
        .await
        .expect("lease")
        .expect("a job");
    assert_eq!(
        (job.id, job.queue.as_str(), &job.payload, job.attempts),
        (id, "jobs", &json!({"n": 1}), 1)
    );
    assert!(job.lease_until > Timestamp::now());
    assert_eq!(
        s.lease("jobs", "w2", LONG).await.expect("lease"),
        None,
        "leased to w1"
    );
    assert!(matches!(
        s.ack(id, "w2").await,
        Err(StorageError::Conflict(_))
    ));
    // A short lease renewed to a long one: still held after the short one would have ended.
    let short = Duration::from_millis(200);
    s.extend_lease(id, "w1", short).await.expect("extend");
    s.extend_lease(id, "w1", LONG).await.expect("extend long");
    tokio::time::sleep(short + Duration::from_millis(100)).await;
    assert_eq!(
        s.lease("jobs", "w2", LONG).await.expect("lease"),
        None,
        "renewed for w1"
    );
    assert!(matches!(
        s.extend_lease(id, "w2", LONG).await,
        Err(StorageError::Conflict(_))
    ));
    s.nack(id, "w1", Duration::ZERO).await.expect("nack");
    assert!(matches!(
        s.extend_lease(id, "w1", LONG).await,
        Err(StorageError::Conflict(_))
    ));
    let again = s
        .lease("jobs", "w2", LONG)
        .await
        .expect("lease")
        .expect("back");
    assert_eq!((again.id, again.attempts), (id, 2));
    s.ack(id, "w2").await.expect("ack");
    assert_eq!(s.queue_len("jobs").await.expect("len"), 0);
    s.enqueue("jobs", json!("later"), Duration::from_secs(3600))
        .await
        .expect("delayed");
    assert_eq!(
        s.lease("jobs", "w1", LONG).await.expect("lease"),
        None,
        "not visible yet"
    );
    assert_eq!(s.queue_len("jobs").await.expect("len"), 1);
}

async fn users(s: &dyn Store) {
    assert_eq!(s.count_users().await.expect("count"), 0);
    let new = NewUser {
        id: UserId::new(),
        username: "admin".into(),
        password_hash: "$argon2id$v=19$x".into(),
        role: Role::Admin,
    };
    let u = s.create_user(new.clone()).await.expect("create user");
    assert_eq!((u.id, u.role), (new.id, Role::Admin));
    assert_eq!(s.get_user_by_name("admin").await.expect("get"), u);
    assert_eq!(s.count_users().await.expect("count"), 1);
    assert!(matches!(
        s.create_user(new).await,
        Err(StorageError::Conflict(_))
    ));
}
