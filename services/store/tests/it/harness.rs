//! The store service started in-process on `127.0.0.1:0` over a real store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flowork_kit::{CancellationToken, KitError, Problem};
use flowork_proto::v1::store_client::StoreClient;
use flowork_storage::{PgStore, SqliteStore, Store};
use flowork_store::{MAX_MESSAGE_BYTES, RemoteStore};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A running service and what it needs cleaned up.
pub struct Service {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), KitError>>,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

impl Service {
    /// Serves `store` on an ephemeral port.
    pub async fn start(store: Arc<dyn Store>) -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(flowork_store::run(store, listener, shutdown.clone()));
        Service {
            addr,
            shutdown,
            task,
            _dir: None,
            pg: None,
        }
    }

    /// Over a SQLite file in a temp dir.
    pub async fn sqlite() -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flowork.db").to_string_lossy().into_owned();
        let store = SqliteStore::open(&path, 4).await.expect("open sqlite");
        let mut svc = Service::start(Arc::new(store)).await;
        svc._dir = Some(dir);
        svc
    }

    /// Over a fresh schema of the `FLOWORK_TEST_PG` database; `None` (skipped loudly) when
    /// unset, a failure when unset under `CI=true`.
    pub async fn postgres() -> Option<Service> {
        let url = flowork_testkit::postgres()?;
        let schema = format!("store_it_{}", flowork_model::UserId::new().uuid().simple());
        let store = PgStore::connect_in_schema(&url, &schema, 4)
            .await
            .expect("connect postgres");
        let mut svc = Service::start(Arc::new(store)).await;
        svc.pg = Some((url, schema));
        Some(svc)
    }

    /// A `RemoteStore` connected to it.
    pub async fn remote(&self) -> RemoteStore {
        RemoteStore::connect(self.addr)
            .await
            .expect("remote store connects")
    }

    /// The raw generated client, to send what `RemoteStore` never would.
    pub async fn raw(&self) -> StoreClient<Channel> {
        StoreClient::new(self.channel().await).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// A plain channel to it.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("channel connects")
    }

    /// Cancels the token and waits for the server task, which must end within `within`.
    pub async fn stop_within(mut self, within: Duration) -> Result<(), KitError> {
        self.shutdown.cancel();
        let task = &mut self.task;
        let served = tokio::time::timeout(within, task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic");
        self.drop_schema().await;
        served
    }

    async fn drop_schema(&mut self) {
        let Some((url, schema)) = self.pg.take() else {
            return;
        };
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("raw pg connect");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .expect("drop test schema");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The problem a failed call carried.
pub fn problem(status: &tonic::Status) -> Problem {
    Problem::from_status(status)
}
