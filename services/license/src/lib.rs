//! The license service (DESIGN §2 `flowork-license`): `flowork.v1.License` (the license in
//! force) and `flowork.v1.Permission` (`CheckPermission(principal, capability, resource)`),
//! over the library `flowork-access`.
//!
//! Permission answers need the engine members, which the gateway keeps in its database; the
//! service reads the same database (`database.url`). Under `flowork up` the gateway asks the
//! library in-process and this service shares the stack's store ([`run`]).

use std::sync::Arc;

use flowork_access::{Capability, PermissionChecker, grpc};
use flowork_kit::entry::BoxError;
use flowork_kit::server::{self, Grpc};
use flowork_kit::{CancellationToken, Config, ServiceName};
use flowork_model::Timestamp;
use flowork_proto::v1 as pb;
use flowork_proto::v1::license_server::LicenseServer;
use flowork_proto::v1::permission_server::PermissionServer;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// `flowork.v1.License` and `flowork.v1.Permission` over one checker.
#[derive(Clone)]
pub struct LicenseService {
    checker: Arc<dyn PermissionChecker>,
}

impl LicenseService {
    /// Answers with `checker` (a [`flowork_access::LocalChecker`] in this service).
    pub fn new(checker: Arc<dyn PermissionChecker>) -> Self {
        Self { checker }
    }
}

#[tonic::async_trait]
impl pb::license_server::License for LicenseService {
    async fn get_license(
        &self,
        _: Request<pb::GetLicenseRequest>,
    ) -> Result<Response<pb::LicenseInfo>, Status> {
        let l = self.checker.license().await?;
        Ok(Response::new(grpc::license_info(&l, Timestamp::now())))
    }

    async fn list_capabilities(
        &self,
        _: Request<pb::ListCapabilitiesRequest>,
    ) -> Result<Response<pb::CapabilityList>, Status> {
        let l = self.checker.license().await?;
        let now = Timestamp::now();
        let items = Capability::ALL
            .iter()
            .map(|c| pb::CapabilityState {
                name: c.as_str().to_owned(),
                licensed: l.grants(*c, now),
            })
            .collect();
        Ok(Response::new(pb::CapabilityList { items }))
    }
}

#[tonic::async_trait]
impl pb::permission_server::Permission for LicenseService {
    async fn check_permission(
        &self,
        req: Request<pb::CheckPermissionRequest>,
    ) -> Result<Response<pb::PermissionDecision>, Status> {
        let q = grpc::query_from_pb(req.get_ref())?;
        let d = self.checker.check(q).await?;
        tracing::debug!(principal = %q.principal, engine = %q.engine, action = q.action.as_str(),
            capability = %q.capability, allowed = d.is_allowed(), "permission checked");
        Ok(Response::new(grpc::decision_to_pb(&d)))
    }
}

/// Serves `checker` on `listener` until `shutdown`.
pub async fn run(
    checker: Arc<dyn PermissionChecker>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let svc = LicenseService::new(checker);
    let grpc = Grpc::new()
        .add_service(LicenseServer::new(svc.clone()))
        .add_service(PermissionServer::new(svc));
    grpc.set_serving(ServiceName::License).await;
    server::serve(ServiceName::License, listener, grpc.into_router(), shutdown).await?;
    Ok(())
}

/// The standalone service: the license of `[license]`, the members in `database.url`.
pub async fn start(
    cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let license = flowork_access::load_license(&cfg.license)?;
    let (_, accounts) = flowork_storage::open_with_accounts(&cfg).await?;
    let checker = flowork_access::LocalChecker::new(license, accounts);
    run(Arc::new(checker), listener, shutdown).await
}
