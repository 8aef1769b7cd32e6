//! [`RemoteStore`]: the storage traits over the store service, so the engine can use an
//! in-process store or the store service interchangeably.

mod records;
mod workflows;

use std::time::Duration;

use async_trait::async_trait;
use flowork_proto::v1 as pb;
use flowork_proto::v1::store_client::StoreClient;
use flowork_storage::{Backend, Result, StorageError, Store};
use tonic::transport::{Channel, Endpoint};

use crate::MAX_MESSAGE_BYTES;
use crate::convert::{self, Invalid, Parsed};

/// How long [`RemoteStore::connect`] waits for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A store reached over gRPC. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RemoteStore {
    client: StoreClient<Channel>,
    backend: Backend,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// Connects to the store service at `addr` (`host:port` or `http://host:port`) and pings it.
    pub async fn connect(addr: impl std::fmt::Display) -> Result<Self> {
        let addr = addr.to_string();
        let url = if addr.contains("://") {
            addr
        } else {
            format!("http://{addr}")
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| StorageError::Config(format!("store address {url:?}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| StorageError::Backend(format!("store service at {url}: {e}")))?;
        Self::from_channel(channel).await
    }

    /// Uses an existing channel; pings the service to learn its backend.
    pub async fn from_channel(channel: Channel) -> Result<Self> {
        let client = StoreClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut store = Self {
            client,
            backend: Backend::Sqlite,
        };
        store.backend = store.ping_backend().await?;
        Ok(store)
    }

    fn client(&self) -> StoreClient<Channel> {
        self.client.clone()
    }

    async fn ping_backend(&self) -> Result<Backend> {
        let r = self.client().ping(pb::Empty {}).await.answer()?;
        reply(convert::backend("backend", &r.backend))
    }
}

/// Turns a tonic reply into its message or the storage error the service answered with.
trait Answer<T> {
    fn answer(self) -> Result<T>;
}

impl<T> Answer<T> for std::result::Result<tonic::Response<T>, tonic::Status> {
    fn answer(self) -> Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|s| StorageError::from_status(&s))
    }
}

/// A reply that does not parse is the service's fault, not the caller's.
fn reply<T>(parsed: Parsed<T>) -> Result<T> {
    parsed.map_err(|Invalid { field, reason }| {
        StorageError::Backend(format!("store service sent an invalid {field}: {reason}"))
    })
}

fn all<P, T>(items: Vec<P>, f: impl Fn(P) -> Parsed<T>) -> Result<Vec<T>> {
    reply(items.into_iter().map(f).collect())
}

/// Milliseconds on the wire, saturating like the backends do.
fn millis(d: Duration) -> u64 {
    d.as_millis().min(i64::MAX as u128) as u64
}

#[async_trait]
impl Store for RemoteStore {
    /// The backend the service reported when this client connected.
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        self.ping_backend().await.map(|_| ())
    }
}
