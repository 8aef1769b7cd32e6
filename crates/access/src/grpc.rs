//! `flowork.v1.License` and `flowork.v1.Permission` on the wire: conversions both ways, and
//! [`GrpcChecker`], the [`PermissionChecker`] that asks a license service.

use async_trait::async_trait;
use flowork_manifest::PublicKey;
use flowork_model::{EngineId, EngineRole, Timestamp, UserId};
use flowork_proto::v1 as pb;
use flowork_proto::v1::license_client::LicenseClient;
use flowork_proto::v1::permission_client::PermissionClient;
use tonic::transport::{Channel, Endpoint};

use crate::capability::{Capabilities, Capability, Tier};
use crate::decide::{Decision, Denial, PermissionChecker, Query};
use crate::error::AccessError;
use crate::license::License;

/// The license as the wire shape, at `now`.
pub fn license_info(l: &License, now: Timestamp) -> pb::LicenseInfo {
    pb::LicenseInfo {
        tier: l.tier.as_str().to_owned(),
        capabilities: l
            .capabilities
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        licensee: l.licensee.clone(),
        seats: l.seats.unwrap_or(0),
        expires_at_unix_ms: l.expires_at.map_or(0, Timestamp::millis),
        source: if l.signed_by.is_some() {
            "file"
        } else {
            "default"
        }
        .to_owned(),
        signed_by: l.signed_by.map(|k| k.to_string()).unwrap_or_default(),
        expired: l.is_expired(now),
    }
}

/// The license a service reported.
pub fn license_from_info(i: pb::LicenseInfo) -> Result<License, AccessError> {
    let capabilities: Capabilities = i
        .capabilities
        .iter()
        .map(|c| c.parse::<Capability>())
        .collect::<Result<_, _>>()?;
    Ok(License {
        tier: i.tier.parse::<Tier>()?,
        capabilities,
        licensee: i.licensee,
        seats: (i.seats > 0).then_some(i.seats),
        issued_at: Timestamp(0),
        expires_at: (i.expires_at_unix_ms != 0).then_some(Timestamp(i.expires_at_unix_ms)),
        signed_by: match i.signed_by.as_str() {
            "" => None,
            k => Some(PublicKey::parse_hex(k, "signed_by")?),
        },
    })
}

/// A question as the wire shape.
pub fn query_to_pb(q: &Query) -> pb::CheckPermissionRequest {
    pb::CheckPermissionRequest {
        principal: q.principal.to_string(),
        capability: q.capability.as_str().to_owned(),
        resource: format!("engines/{}", q.engine),
        action: q.action.as_str().to_owned(),
    }
}

/// A question from the wire; names the field at fault.
pub fn query_from_pb(r: &pb::CheckPermissionRequest) -> Result<Query, AccessError> {
    let principal: UserId = r
        .principal
        .parse()
        .map_err(|e: flowork_model::IdError| AccessError::invalid("principal", e.to_string()))?;
    let raw = r.resource.strip_prefix("engines/").unwrap_or(&r.resource);
    let engine: EngineId = raw.split('/').next().unwrap_or_default().parse().map_err(
        |e: flowork_model::IdError| {
            AccessError::invalid("resource", format!("{e} (or engines/eng_<uuid>)"))
        },
    )?;
    Ok(Query {
        principal,
        engine,
        action: r.action.parse()?,
        capability: r.capability.parse()?,
    })
}

/// A decision as the wire shape.
pub fn decision_to_pb(d: &Decision) -> pb::PermissionDecision {
    let (allowed, role, denial) = match d {
        Decision::Allow { role } => (true, Some(*role), ""),
        Decision::Deny(Denial::NotMember) => (false, None, "not_member"),
        Decision::Deny(Denial::Role { have, .. }) => (false, Some(*have), "role"),
        Decision::Deny(Denial::Unlicensed { expired: true, .. }) => (false, None, "expired"),
        Decision::Deny(Denial::Unlicensed { .. }) => (false, None, "unlicensed"),
    };
    pb::PermissionDecision {
        allowed,
        role: role.map(|r| r.as_str().to_owned()).unwrap_or_default(),
        denial: denial.to_owned(),
        reason: match d {
            Decision::Allow { .. } => String::new(),
            Decision::Deny(why) => why.to_string(),
        },
    }
}

/// The decision a service gave to `q`.
pub fn decision_from_pb(q: &Query, d: &pb::PermissionDecision) -> Result<Decision, AccessError> {
    let bad = |why: &str| AccessError::Unavailable(format!("unexpected answer: {why}"));
    let role = || {
        d.role
            .parse::<EngineRole>()
            .map_err(|_| bad("unknown role"))
    };
    if d.allowed {
        return Ok(Decision::Allow { role: role()? });
    }
    let capability = q.capability;
    Ok(Decision::Deny(match d.denial.as_str() {
        "not_member" => Denial::NotMember,
        "role" => Denial::Role {
            needed: q.action.needs(),
            have: role()?,
        },
        "unlicensed" => Denial::Unlicensed {
            capability,
            expired: false,
        },
        "expired" => Denial::Unlicensed {
            capability,
            expired: true,
        },
        _ => return Err(bad("unknown denial")),
    }))
}

/// Asks the license service (`flowork.v1.Permission`, `flowork.v1.License`) at a URL.
#[derive(Clone)]
pub struct GrpcChecker {
    channel: Channel,
}

impl GrpcChecker {
    /// A client for `url` (`http://127.0.0.1:7106`); connects on first use, and again after
    /// the service restarts.
    pub fn connect_lazy(url: &str) -> Result<Self, AccessError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| AccessError::invalid("gateway.license_url", e.to_string()))?
            .connect_timeout(std::time::Duration::from_secs(2))
            .timeout(std::time::Duration::from_secs(5));
        Ok(Self {
            channel: endpoint.connect_lazy(),
        })
    }
}

fn unavailable(s: tonic::Status) -> AccessError {
    AccessError::Unavailable(format!("{:?}: {}", s.code(), s.message()))
}

#[async_trait]
impl PermissionChecker for GrpcChecker {
    async fn check(&self, q: Query) -> Result<Decision, AccessError> {
        let answer = PermissionClient::new(self.channel.clone())
            .check_permission(query_to_pb(&q))
            .await
            .map_err(unavailable)?
            .into_inner();
        decision_from_pb(&q, &answer)
    }

    async fn license(&self) -> Result<License, AccessError> {
        let info = LicenseClient::new(self.channel.clone())
            .get_license(pb::GetLicenseRequest {})
            .await
            .map_err(unavailable)?
            .into_inner();
        license_from_info(info)
    }
}
