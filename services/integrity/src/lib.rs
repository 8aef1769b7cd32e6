//! The integrity service (`flowork.v1.Integrity`, DESIGN §5): reports what this process's boot
//! check and periodic re-checks found, and re-checks on demand.
//!
//! The check itself lives in `flowork_kit::integrity` (every binary runs it at boot) over the
//! manifest library `flowork-manifest`; this service is how other services and operators ask.
//! Its health (`flowork.v1.Integrity`) is SERVING while the files match and NOT_SERVING while
//! they drift, so the gateway's `/healthz` turns `degraded`.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use flowork_kit::entry::BoxError;
use flowork_kit::integrity::{self, Outcome, Snapshot};
use flowork_kit::server::{self, Grpc};
use flowork_kit::{CancellationToken, Config, ServiceName};
use flowork_proto::v1 as pb;
use flowork_proto::v1::integrity_server::IntegrityServer;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// The `flowork.v1.Integrity` service of this process.
#[derive(Debug, Clone, Default)]
pub struct IntegrityService;

#[tonic::async_trait]
impl pb::integrity_server::Integrity for IntegrityService {
    async fn status(
        &self,
        _: Request<pb::IntegrityStatusRequest>,
    ) -> Result<Response<pb::IntegrityReport>, Status> {
        Ok(Response::new(report(&integrity::snapshot())))
    }

    async fn verify(
        &self,
        _: Request<pb::IntegrityVerifyRequest>,
    ) -> Result<Response<pb::IntegrityReport>, Status> {
        Ok(Response::new(report(&integrity::recheck().await)))
    }
}

/// A snapshot as the wire shape.
pub fn report(s: &Snapshot) -> pb::IntegrityReport {
    let (outcome, files_checked, drift, detail) = match &s.outcome {
        Outcome::Off => ("off", 0, Vec::new(), String::new()),
        Outcome::Clean { checked } => ("clean", *checked, Vec::new(), String::new()),
        Outcome::Drift { checked, drift } => ("drift", *checked, drift.clone(), String::new()),
        Outcome::Untrusted(why) => ("untrusted", 0, Vec::new(), why.clone()),
    };
    pb::IntegrityReport {
        mode: s.mode.as_str().to_owned(),
        outcome: outcome.to_owned(),
        manifest: (s.manifest.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        files_checked: files_checked as u64,
        drift: drift
            .iter()
            .map(|d| pb::FileDrift {
                path: d.path.clone(),
                problem: d.kind.to_string(),
                message: d.to_string(),
            })
            .collect(),
        detail,
        checked_at_unix_ms: (s.checked_at)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64),
    }
}

/// Serves until `shutdown` is cancelled.
pub async fn start(
    _cfg: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    let grpc = Grpc::new().add_service(IntegrityServer::new(IntegrityService));
    grpc.set_serving(ServiceName::Integrity).await;
    server::serve(
        ServiceName::Integrity,
        listener,
        grpc.into_router(),
        shutdown,
    )
    .await?;
    Ok(())
}
