//! The storage conformance suite: every check runs against every backend.
//!
//! Each check is an `async fn(&Fixture)` that drives `fixture.store` (an `Arc<dyn Store>`) only
//! through the store traits. `conformance!` turns each into one test per backend, named
//! `sqlite::<check>` and `postgres::<check>`. SQLite runs in a temp file; Postgres runs in a fresh
//! schema of the database named by `FLOWORK_TEST_PG` (dropped afterwards). Without
//! `FLOWORK_TEST_PG` the Postgres tests print SKIPPED, or fail when `CI=true`.

#[path = "conformance/accounts.rs"]
mod accounts;
#[path = "conformance/executions.rs"]
mod executions;
#[path = "conformance/gas.rs"]
mod gas;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/members.rs"]
mod members;
#[path = "conformance/migrations.rs"]
mod migrations;
#[path = "conformance/node_runs.rs"]
mod node_runs;
#[path = "conformance/queue.rs"]
mod queue;
#[path = "conformance/records.rs"]
mod records;
#[path = "conformance/webhook_buffer.rs"]
mod webhook_buffer;
#[path = "conformance/workflows.rs"]
mod workflows;

/// One `#[tokio::test]` per check for one backend. A failing check still drops its fixture
/// (and with it the Postgres schema) before the panic propagates.
macro_rules! backend_tests {
    ($backend:ident: $($module:ident :: $check:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    use futures::FutureExt as _;
                    let Some(fx) = crate::harness::Fixture::$backend().await else { return };
                    let outcome = std::panic::AssertUnwindSafe(crate::$module::$check(&fx))
                        .catch_unwind()
                        .await;
                    fx.cleanup().await;
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                }
            )+
        }
    };
}

macro_rules! conformance {
    ($($module:ident :: $check:ident),+ $(,)?) => {
        backend_tests!(sqlite: $($module::$check),+);
        backend_tests!(postgres: $($module::$check),+);
    };
}

conformance! {
    workflows::workflow_crud,
    workflows::workflow_list_pagination,
    workflows::versions_append_and_read,
    workflows::append_conflict_writes_nothing,
    workflows::import_is_all_or_nothing,
    workflows::concurrent_appends_keep_chain,
    executions::execution_lifecycle,
    executions::execution_list_filter_pagination,
    executions::delete_finished_before_keeps_recent_and_unfinished,
    executions::large_node_values_live_once_in_blobs,
    node_runs::node_runs_checkpoint,
    node_runs::node_runs_port_migration_upgrades,
    node_runs::delete_cascades,
    node_runs::ping,
    node_runs::started_execution_ends_with_its_records,
    records::credentials_crud,
    records::users_crud,
    records::kv_versions_and_expectations,
    records::kv_delete_before_prunes_old_entries,
    records::kv_concurrent_cas,
    queue::queue_lease_ack_nack,
    queue::queue_delay_and_nack_delay,
    queue::queue_lease_expiry_reclaims,
    queue::queue_extend_lease_renews,
    queue::queue_enqueue_leased,
    queue::queue_concurrent_workers,
    migrations::migrations_rerun_is_noop,
    migrations::migrations_detect_edited_file,
    migrations::legacy_chains_are_relinked,
    accounts::accounts_users,
    accounts::refresh_tokens_rotate_and_detect_reuse,
    accounts::refresh_concurrent_rotation_has_one_winner,
    accounts::api_keys_lifecycle,
    accounts::engines_are_owned,
    members::members_have_roles_and_the_owner_is_implied,
    members::addresses_bind_once_and_challenges_are_single_use,
    webhook_buffer::webhook_buffer_orders_and_forgets,
    gas::gas_charge_and_refuse,
    gas::gas_concurrent_executions_never_overspend,
}

/// Opening: backend dispatch and configuration errors (not per backend: they need no database).
mod config {
    use flowork_storage::{Backend, PgStore, SqliteStore, StorageError};

    #[tokio::test]
    async fn connect_picks_backend_from_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("a/b/c.db").display());
        let store = flowork_storage::connect(&url, 2)
            .await
            .expect("connect sqlite");
        assert_eq!(store.backend(), Backend::Sqlite);
        store.ping().await.expect("ping");
        let err = flowork_storage::connect("mysql://u:hunter2@h/db", 2)
            .await
            .err()
            .expect("unsupported");
        assert!(matches!(err, StorageError::Config(_)), "{err}");
        assert!(
            !err.to_string().contains("hunter2"),
            "password leaked: {err}"
        );
    }

    #[tokio::test]
    async fn sqlite_in_memory_reads_its_own_writes() {
        // No reader pool for :memory: (each connection would be a separate database).
        let store = flowork_storage::connect("sqlite://:memory:", 4)
            .await
            .expect("memory");
        let new = flowork_storage::NewWorkflow {
            id: flowork_model::WorkflowId::new(),
            name: "m".into(),
            active: false,
        };
        store.create_workflow(new.clone()).await.expect("create");
        assert_eq!(store.get_workflow(new.id).await.expect("get").name, "m");
        assert_eq!(
            store
                .list_workflows(Default::default())
                .await
                .expect("list")
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn sqlite_unwritable_path_is_config_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"not a directory").expect("write");
        let path = file.join("sub").join("x.db");
        let path = path.to_string_lossy();
        let err = SqliteStore::open(&path, 2)
            .await
            .expect_err("parent is a file");
        let msg = err.to_string();
        assert!(matches!(err, StorageError::Config(_)), "{msg}");
        assert!(msg.starts_with("database.url: cannot"), "{msg}");
        assert!(msg.contains(path.as_ref()), "{msg}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![b'x'; 4096]).expect("write");
        let err = SqliteStore::open(&garbage.to_string_lossy(), 2)
            .await
            .expect_err("not a database");
        assert!(matches!(err, StorageError::Config(_)), "{err}");
        assert!(err.to_string().contains("garbage.db"), "{err}");
    }

    #[tokio::test]
    async fn postgres_bad_url_is_config_error_without_password() {
        for url in [
            "postgres://flowork:s3cr3t-pw@127.0.0.1:1/flowork",
            "postgres://flowork:s3cr3t-pw@127.0.0.1:notaport/flowork",
        ] {
            let err = PgStore::connect(url, 2).await.expect_err("cannot connect");
            let msg = err.to_string();
            assert!(matches!(err, StorageError::Config(_)), "{msg}");
            assert!(!msg.contains("s3cr3t-pw"), "password leaked: {msg}");
        }
        let err = PgStore::connect_in_schema("postgres://127.0.0.1:1/x", "Robert'); DROP", 1)
            .await
            .expect_err("bad schema");
        assert!(matches!(err, StorageError::Config(_)), "{err}");
    }
}
