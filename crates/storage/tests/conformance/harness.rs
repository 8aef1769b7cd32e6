//! Test fixtures: a fresh store per test, in a temp SQLite file or a fresh Postgres schema.

use std::sync::Arc;

use flowork_model::{Timestamp, WorkflowId};
use flowork_storage::{
    AccountStore, GasLedger, NewWorkflow, PgStore, SqliteStore, StorageError, Store,
    WorkflowVersion,
};
use serde_json::json;
use tempfile::TempDir;

/// One store under test, plus what is needed to reopen it and look under the hood.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    /// The same backend as the gateway's account store.
    accounts: Arc<dyn AccountStore>,
    /// The same backend as the FAC gas ledger.
    pub ledger: Arc<dyn GasLedger>,
    target: Target,
}

enum Target {
    Sqlite { _dir: TempDir, path: String },
    Postgres { url: String, schema: String },
}

impl Fixture {
    /// A store in a new SQLite file in a temp directory (in a subdirectory that does not exist
    /// yet, so opening must create it).
    pub async fn sqlite() -> Option<Fixture> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir
            .path()
            .join("nested")
            .join("flowork.db")
            .to_string_lossy()
            .into_owned();
        let store = SqliteStore::open(&path, 4)
            .await
            .expect("open sqlite store");
        Some(Fixture {
            store: Arc::new(store.clone()),
            accounts: Arc::new(store.clone()),
            ledger: Arc::new(store),
            target: Target::Sqlite { _dir: dir, path },
        })
    }

    /// A store in a fresh schema of the `FLOWORK_TEST_PG` database; `None` (skip) when that is
    /// unset outside CI.
    pub async fn postgres() -> Option<Fixture> {
        let url = flowork_testkit::postgres()?;
        let schema = format!("flowork_test_{}", uuid::Uuid::now_v7().simple());
        let store = PgStore::connect_in_schema(&url, &schema, 8)
            .await
            .expect("connect postgres store");
        Some(Fixture {
            store: Arc::new(store.clone()),
            accounts: Arc::new(store.clone()),
            ledger: Arc::new(store),
            target: Target::Postgres { url, schema },
        })
    }

    /// The fixture's store as the gateway's account store.
    pub fn accounts(&self) -> Arc<dyn AccountStore> {
        Arc::clone(&self.accounts)
    }

    /// Opens the same database again (running the migrations again).
    pub async fn reopen(&self) -> Result<Arc<dyn Store>, StorageError> {
        Ok(match &self.target {
            Target::Sqlite { path, .. } => Arc::new(SqliteStore::open(path, 2).await?),
            Target::Postgres { url, schema } => {
                Arc::new(PgStore::connect_in_schema(url, schema, 4).await?)
            }
        })
    }

    /// Runs `sql` directly against the database (bypassing the store).
    pub async fn exec_sql(&self, sql: &str) {
        match &self.target {
            Target::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open raw sqlite");
                conn.execute_batch(sql).expect("raw sqlite sql");
            }
            Target::Postgres { url, schema } => {
                let client = pg_client(url).await;
                client
                    .batch_execute(&format!("SET search_path = {schema}; {sql}"))
                    .await
                    .expect("raw postgres sql");
            }
        }
    }

    /// The one integer `sql` (e.g. a `SELECT COUNT(*)`) returns, read directly.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.target {
            Target::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open raw sqlite");
                conn.query_row(sql, [], |r| r.get(0))
                    .expect("raw sqlite query")
            }
            Target::Postgres { url, schema } => {
                let client = pg_client(url).await;
                client
                    .batch_execute(&format!("SET search_path = {schema}"))
                    .await
                    .expect("search path");
                client.query_one(sql, &[]).await.expect("query").get(0)
            }
        }
    }

    /// The rows of `schema_migrations` as (version, name, checksum), in version order.
    pub async fn migration_rows(&self) -> Vec<(i64, String, String)> {
        const SQL: &str = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
        match &self.target {
            Target::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open raw sqlite");
                let mut st = conn.prepare(SQL).expect("prepare");
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            }
            Target::Postgres { url, schema } => {
                let client = pg_client(url).await;
                let sql = SQL.replace("schema_migrations", &format!("{schema}.schema_migrations"));
                client
                    .query(&sql, &[])
                    .await
                    .expect("query")
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            }
        }
    }

    /// Drops what the fixture created (the temp dir goes with the fixture).
    pub async fn cleanup(self) {
        let Fixture {
            store,
            accounts,
            ledger,
            target,
        } = self;
        drop((store, accounts, ledger));
        if let Target::Postgres { url, schema } = target {
            let client = pg_client(&url).await;
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop test schema");
        }
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("raw pg connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A workflow with the given name, active.
pub fn new_workflow(name: &str) -> NewWorkflow {
    NewWorkflow {
        id: WorkflowId::new(),
        name: name.to_owned(),
        active: true,
    }
}

/// A version record `n` of `wf` following `previous`, with hash `hash`.
pub fn version(wf: WorkflowId, n: u32, previous: Option<&str>, hash: &str) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: wf,
        version: n,
        hash: hash.to_owned(),
        previous_hash: previous.map(str::to_owned),
        author_id: Some("0x00000000000000000000000000000000000000aa".to_owned()),
        signed: n % 2 == 1,
        record: json!({"version": n, "workflow": {"name": "w", "nodes": [{"id": "a", "n": n}]}}),
        created_at: Timestamp(1_700_000_000_000 + i64::from(n)),
    }
}

/// A well-formed chain of `count` versions of `wf`, hashes `h1`, `h2`, ...
pub fn chain(wf: WorkflowId, count: u32) -> Vec<WorkflowVersion> {
    (1..=count)
        .map(|n| {
            let prev = (n > 1).then(|| format!("h{}", n - 1));
            version(wf, n, prev.as_deref(), &format!("h{n}"))
        })
        .collect()
}

/// Asserts `r` is the given error variant.
#[macro_export]
macro_rules! assert_err {
    ($r:expr, $pat:pat) => {
        match $r {
            Err($pat) => {}
            other => panic!("expected {}, got {:?}", stringify!($pat), other),
        }
    };
}
