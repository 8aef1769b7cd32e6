//! Who may do what on an engine, asked of a [`PermissionChecker`] (the license library in this
//! process, or the license service with `gateway.license_url`) behind a short cache.

use std::sync::Arc;

use flowork_access::{
    Action, Cached, Capability, Decision, Denial, GrpcChecker, LocalChecker, PermissionChecker,
    Query,
};
use flowork_kit::Config;
use flowork_model::{EngineId, EngineRole};
use flowork_storage::AccountStore;

use crate::Gateway;
use crate::auth::Caller;
use crate::error::{GatewayError, Result};

/// The checker `cfg` asks for: gRPC to `gateway.license_url`, else in-process over `accounts`
/// with the license of `[license]` (a bad license file stops the gateway here).
pub(crate) fn checker(
    cfg: &Config,
    accounts: &Arc<dyn AccountStore>,
) -> Result<Arc<dyn PermissionChecker>> {
    Ok(match &cfg.gateway.license_url {
        Some(url) => Arc::new(GrpcChecker::connect_lazy(url)?),
        None => Arc::new(LocalChecker::new(
            flowork_access::load_license(&cfg.license)?,
            accounts.clone(),
        )),
    })
}

/// The default cache in front of `inner`.
pub(crate) fn cached(inner: Arc<dyn PermissionChecker>) -> Arc<Cached> {
    Arc::new(Cached::new(
        inner,
        flowork_access::DEFAULT_TTL,
        flowork_access::DEFAULT_CAPACITY,
    ))
}

impl Gateway {
    /// The caller's role on `engine` if they may do `action` there with `capability`.
    /// Not a member (or no such engine): 404, so ids do not leak. A member whose role is too
    /// weak, or a capability the license does not grant: 403 saying which.
    pub(crate) async fn permit(
        &self,
        caller: &Caller,
        engine: EngineId,
        action: Action,
        capability: Capability,
    ) -> Result<EngineRole> {
        let q = Query {
            principal: caller.user_id,
            engine,
            action,
            capability,
        };
        match self.permissions.check(q).await? {
            Decision::Allow { role } => Ok(role),
            Decision::Deny(Denial::NotMember) => Err(GatewayError::not_found("engine", engine)),
            Decision::Deny(why) => Err(GatewayError::Denied(why.to_string())),
        }
    }

    /// Forgets cached answers about `engine` (its members just changed here).
    pub(crate) fn members_changed(&self, engine: EngineId) {
        self.permissions.forget_engine(engine);
    }
}
