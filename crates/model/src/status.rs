//! State enums with stable string forms (these strings are stored and sent over the wire).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A string that names no variant of the enum it was parsed as.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    kind: &'static str,
    value: String,
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The stable string form.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, UnknownVariant> {
                match s {
                    $($s => Ok(Self::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

string_enum!(
    /// Where an execution is in its life.
    ExecutionStatus, "execution status" {
        /// Accepted, not yet picked up by a worker.
        Queued = "queued",
        /// A worker is running it.
        Running = "running",
        /// Parked on a durable wait (`core.wait`).
        Waiting = "waiting",
        /// Finished without error.
        Succeeded = "succeeded",
        /// A node failed for good.
        Failed = "failed",
        /// Cancelled by a user or a timeout.
        Cancelled = "cancelled",
        /// Its capability token ran out of gas.
        OutOfGas = "out_of_gas",
        /// Its capability token does not allow what it tried.
        Forbidden = "forbidden",
    }
);

impl ExecutionStatus {
    /// Whether the execution can no longer change.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Running | Self::Waiting)
    }
}

string_enum!(
    /// The state of one attempt of one node in an execution.
    NodeRunStatus, "node run status" {
        /// Started, not finished.
        Running = "running",
        /// Parked on a durable wait (`core.wait`); its output holds when it is due.
        Waiting = "waiting",
        /// Finished with an output.
        Succeeded = "succeeded",
        /// Finished with an error.
        Failed = "failed",
        /// Cut short because its worker stopped (crash or shutdown); it ran again as the next
        /// attempt. Not the node's failure: retries don't count it.
        Interrupted = "interrupted",
        /// On a branch that was not taken.
        Skipped = "skipped",
    }
);

string_enum!(
    /// A user's role at the gateway.
    Role, "role" {
        /// May do everything, including managing users.
        Admin = "admin",
        /// May manage their own engines and workflows.
        User = "user",
    }
);

string_enum!(
    /// A user's role on one engine. Its owner (who registered it) is `owner`; everyone else
    /// reaches it only as a member with one of the other three.
    EngineRole, "engine role" {
        /// Everything, including deleting the engine.
        Owner = "owner",
        /// Everything but deleting: also manages the engine's members.
        Admin = "admin",
        /// Reads, saves and runs workflows.
        Editor = "editor",
        /// Reads only.
        Viewer = "viewer",
    }
);

impl EngineRole {
    /// Every role, strongest first.
    pub const ALL: [EngineRole; 4] = [Self::Owner, Self::Admin, Self::Editor, Self::Viewer];

    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: EngineRole) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Self::Owner => 3,
            Self::Admin => 2,
            Self::Editor => 1,
            Self::Viewer => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip() {
        for s in [
            "queued",
            "running",
            "waiting",
            "succeeded",
            "failed",
            "cancelled",
            "out_of_gas",
            "forbidden",
        ] {
            let st: ExecutionStatus = s.parse().expect("known status");
            assert_eq!(st.as_str(), s);
            assert_eq!(
                serde_json::to_value(st).expect("json"),
                serde_json::json!(s)
            );
        }
        assert!("bogus".parse::<ExecutionStatus>().is_err());
        assert!(ExecutionStatus::OutOfGas.is_terminal());
        assert!(EngineRole::Owner.includes(EngineRole::Admin));
        assert!(EngineRole::Editor.includes(EngineRole::Viewer));
        assert!(!EngineRole::Viewer.includes(EngineRole::Editor));
        assert!(!EngineRole::Admin.includes(EngineRole::Owner));
        assert_eq!("editor".parse::<EngineRole>(), Ok(EngineRole::Editor));
        assert!(!ExecutionStatus::Waiting.is_terminal());
    }
}
