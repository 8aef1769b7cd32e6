//! The permission decision: who may do what on which engine, and whether the license allows it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use flowork_model::{EngineId, EngineRole, Timestamp, UserId};
use flowork_storage::MemberStore;

use crate::capability::Capability;
use crate::error::AccessError;
use crate::license::License;

/// What a caller wants to do on an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Look: list, get, export, verify, follow events.
    Read,
    /// Change: save, activate, delete a workflow or a credential.
    Write,
    /// Start, cancel or replay an execution.
    Run,
    /// Add, change or remove the engine's members; rotate its token.
    ManageMembers,
    /// Delete the engine itself.
    Delete,
}

impl Action {
    /// The weakest role that may do it.
    pub fn needs(self) -> EngineRole {
        match self {
            Self::Read => EngineRole::Viewer,
            Self::Write | Self::Run => EngineRole::Editor,
            Self::ManageMembers => EngineRole::Admin,
            Self::Delete => EngineRole::Owner,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Run => "run",
            Self::ManageMembers => "manage_members",
            Self::Delete => "delete",
        }
    }
}

impl FromStr for Action {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        [
            Self::Read,
            Self::Write,
            Self::Run,
            Self::ManageMembers,
            Self::Delete,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| AccessError::UnknownAction(s.to_owned()))
    }
}

/// One permission question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Query {
    pub principal: UserId,
    pub engine: EngineId,
    pub action: Action,
    pub capability: Capability,
}

/// Why the answer is no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Neither owner nor member (callers answer 404: the engine's existence does not leak).
    NotMember,
    /// A member, but the role is too weak.
    Role {
        needed: EngineRole,
        have: EngineRole,
    },
    /// The license does not grant the capability (or has expired).
    Unlicensed {
        capability: Capability,
        expired: bool,
    },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMember => f.write_str("not a member of this engine"),
            Self::Role { needed, have } => {
                write!(
                    f,
                    "this needs the {needed} role on the engine; you are {have}"
                )
            }
            Self::Unlicensed {
                capability,
                expired: true,
            } => write!(f, "the license expired, so {capability} is not licensed"),
            Self::Unlicensed { capability, .. } => {
                write!(f, "the license does not grant {capability}")
            }
        }
    }
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow { role: EngineRole },
    Deny(Denial),
}

impl Decision {
    /// Whether the answer is yes.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// The rule: a member whose role includes the action's, on a license that grants the capability.
pub fn decide(
    license: &License,
    role: Option<EngineRole>,
    action: Action,
    capability: Capability,
    now: Timestamp,
) -> Decision {
    let Some(role) = role else {
        return Decision::Deny(Denial::NotMember);
    };
    if !role.includes(action.needs()) {
        return Decision::Deny(Denial::Role {
            needed: action.needs(),
            have: role,
        });
    }
    if !license.grants(capability, now) {
        return Decision::Deny(Denial::Unlicensed {
            capability,
            expired: license.is_expired(now),
        });
    }
    Decision::Allow { role }
}

/// Who answers permission questions: this process ([`LocalChecker`]) or the license service
/// over gRPC ([`crate::GrpcChecker`]); [`crate::Cached`] puts a short cache in front of either.
#[async_trait]
pub trait PermissionChecker: Send + Sync {
    /// Answers `q`. An error means the question could not be answered (store or service down),
    /// never "allowed".
    async fn check(&self, q: Query) -> Result<Decision, AccessError>;
    /// The license in force.
    async fn license(&self) -> Result<License, AccessError>;
}

/// Answers from the license in memory and the member table.
#[derive(Clone)]
pub struct LocalChecker {
    license: Arc<License>,
    members: Arc<dyn MemberStore>,
}

impl LocalChecker {
    /// A checker over `license` and the members in `members`.
    pub fn new(license: License, members: Arc<dyn MemberStore>) -> Self {
        Self {
            license: Arc::new(license),
            members,
        }
    }
}

#[async_trait]
impl PermissionChecker for LocalChecker {
    async fn check(&self, q: Query) -> Result<Decision, AccessError> {
        let role = self.members.engine_role(q.engine, q.principal).await?;
        Ok(decide(
            &self.license,
            role,
            q.action,
            q.capability,
            Timestamp::now(),
        ))
    }

    async fn license(&self) -> Result<License, AccessError> {
        Ok((*self.license).clone())
    }
}

/// What a call to the engine API at `/api/v1/{rest}` with `method` does, and which capability
/// it uses: reads need viewer, changes and runs editor.
pub fn classify(method: &str, rest: &str) -> (Action, Capability) {
    let path = rest.split('?').next().unwrap_or_default();
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let capability = match first {
        "workflows" if path.contains("/versions") || path.contains("/chain") => {
            Capability::PresetVersioning
        }
        "executions" if last == "replay" => Capability::TimeTravelDebugger,
        "credentials" | "modules" | "nodes" | "webhooks" => Capability::CoreServices,
        "models" | "inference" | "training" => Capability::AiLocalModels,
        "backups" => Capability::CloudSync,
        _ => Capability::BasicExecution,
    };
    let action = match method {
        "GET" | "HEAD" | "OPTIONS" => Action::Read,
        _ if first == "executions" || matches!(last, "run" | "replay" | "cancel") => Action::Run,
        _ => Action::Write,
    };
    (action, capability)
}

#[cfg(test)]
mod tests {
    use flowork_model::EngineRole::*;

    use super::*;
    use crate::capability::Tier;

    #[test]
    fn viewers_read_editors_write_admins_manage_owners_delete() {
        let l = License::open_core();
        let now = Timestamp::now();
        let c = Capability::BasicExecution;
        let table = [
            (Viewer, [true, false, false, false, false]),
            (Editor, [true, true, true, false, false]),
            (Admin, [true, true, true, true, false]),
            (Owner, [true, true, true, true, true]),
        ];
        let actions = [
            Action::Read,
            Action::Write,
            Action::Run,
            Action::ManageMembers,
            Action::Delete,
        ];
        for (role, allowed) in table {
            for (a, want) in actions.iter().zip(allowed) {
                let d = decide(&l, Some(role), *a, c, now);
                assert_eq!(d.is_allowed(), want, "{role} {a:?}: {d:?}");
                if !want {
                    assert_eq!(
                        d,
                        Decision::Deny(Denial::Role {
                            needed: a.needs(),
                            have: role
                        })
                    );
                }
            }
        }
        for a in actions {
            assert_eq!(
                decide(&l, None, a, c, now),
                Decision::Deny(Denial::NotMember)
            );
        }
    }

    #[test]
    fn an_unlicensed_capability_is_denied_even_to_the_owner() {
        let mut l = License::open_core();
        l.capabilities = Tier::Free.default_capabilities();
        let now = Timestamp::now();
        let d = decide(&l, Some(Owner), Action::Read, Capability::CloudSync, now);
        assert_eq!(
            d,
            Decision::Deny(Denial::Unlicensed {
                capability: Capability::CloudSync,
                expired: false
            })
        );
        assert!(
            decide(
                &l,
                Some(Owner),
                Action::Read,
                Capability::BasicExecution,
                now
            )
            .is_allowed()
        );
        l.expires_at = Some(Timestamp(now.millis() - 1));
        let d = decide(
            &l,
            Some(Owner),
            Action::Read,
            Capability::BasicExecution,
            now,
        );
        assert!(d.to_string_denial().contains("expired"), "{d:?}");
    }

    impl Decision {
        fn to_string_denial(self) -> String {
            match self {
                Decision::Deny(d) => d.to_string(),
                Decision::Allow { .. } => String::new(),
            }
        }
    }

    #[test]
    fn requests_are_classified() {
        use Action::*;
        use Capability::*;
        for (m, rest, want) in [
            ("GET", "workflows", (Read, BasicExecution)),
            ("POST", "workflows", (Write, BasicExecution)),
            ("PUT", "workflows/wf_1", (Write, BasicExecution)),
            ("POST", "workflows/wf_1/run", (Run, BasicExecution)),
            ("POST", "workflows/wf_1/activate", (Write, BasicExecution)),
            ("POST", "workflows/wf_1/versions", (Write, PresetVersioning)),
            (
                "GET",
                "workflows/wf_1/chain/verify",
                (Read, PresetVersioning),
            ),
            ("POST", "executions/ex_1/replay", (Run, TimeTravelDebugger)),
            ("POST", "executions/ex_1/cancel", (Run, BasicExecution)),
            ("GET", "executions?limit=5", (Read, BasicExecution)),
            ("DELETE", "credentials/db", (Write, CoreServices)),
            ("POST", "training/jobs", (Write, AiLocalModels)),
            ("POST", "backups", (Write, CloudSync)),
        ] {
            assert_eq!(classify(m, rest), want, "{m} {rest}");
        }
        assert!("sudo".parse::<Action>().is_err());
        assert_eq!(
            "manage_members".parse::<Action>().expect("known"),
            ManageMembers
        );
    }
}
