//! Asking another service how it is, over grpc.health.v1.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::service::ServiceName;

/// What a health check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The service's own API answers.
    Serving,
    /// The service runs but says it can't serve (e.g. its database is down).
    NotServing,
    /// The process answers health, but its API has not been built yet.
    NotImplemented,
    /// Nothing answered in time.
    Unreachable,
}

impl Status {
    /// Whether this status should make the whole stack unhealthy.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::NotServing | Self::Unreachable)
    }
}

/// A reusable health probe for one service at one address.
#[derive(Clone)]
pub struct Probe {
    pub name: ServiceName,
    pub addr: SocketAddr,
    client: HealthClient<Channel>,
}

impl Probe {
    /// Prepares a probe; it connects lazily, on the first check.
    pub fn new(name: ServiceName, addr: SocketAddr, timeout: Duration) -> Result<Self, String> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(timeout)
            .timeout(timeout)
            .connect_lazy();
        Ok(Self {
            name,
            addr,
            client: HealthClient::new(channel),
        })
    }

    /// Checks the service's own API (`flowork.v1.<Name>`).
    pub async fn check(&self) -> (Status, Option<String>) {
        let req = HealthCheckRequest {
            service: self.name.health_name(),
        };
        match self.client.clone().check(req).await {
            Ok(res) => match res.into_inner().status() {
                ServingStatus::Serving => (Status::Serving, None),
                other => (Status::NotServing, Some(format!("{other:?}"))),
            },
            Err(s) if s.code() == tonic::Code::NotFound => (
                Status::NotImplemented,
                Some("not implemented yet".to_owned()),
            ),
            Err(s) => (Status::Unreachable, Some(s.message().to_owned())),
        }
    }
}
