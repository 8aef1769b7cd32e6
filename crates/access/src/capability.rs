//! The twelve licensed capabilities and the tiers that bundle them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::AccessError;

macro_rules! named {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $err:ident { $($(#[$vdoc:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($(#[$vdoc])* $v),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$(Self::$v),+];

            /// The stable spelling (license files, the wire, config).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = AccessError;
            fn from_str(s: &str) -> Result<Self, AccessError> {
                match s {
                    $($s => Ok(Self::$v),)+
                    _ => Err(AccessError::$err(s.to_owned())),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = AccessError;
            fn try_from(s: String) -> Result<Self, AccessError> {
                s.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str {
                v.as_str()
            }
        }
    };
}

named!(
    /// A feature a license grants.
    Capability, "capability", UnknownCapability {
        /// Running workflows at all.
        BasicExecution = "basic_execution",
        /// The engine's own services: credentials, modules, webhooks, the store.
        CoreServices = "core_services",
        /// No API rate cap beyond the operator's own limits.
        UnlimitedApi = "unlimited_api",
        /// Signed workflow versions (the flow-chain).
        PresetVersioning = "preset_versioning",
        /// Calling hosted AI providers from nodes.
        AiProviderAccess = "ai_provider_access",
        /// Local models: inference and training.
        AiLocalModels = "ai_local_models",
        /// The workflow copilot.
        AiCopilot = "ai_copilot",
        /// Replaying executions from any node.
        TimeTravelDebugger = "time_travel_debugger",
        /// The AI workflow architect.
        AiArchitect = "ai_architect",
        /// The workflow compiler.
        CoreCompiler = "core_compiler",
        /// Engine members and their roles.
        EngineManagement = "engine_management",
        /// End-to-end encrypted backups.
        CloudSync = "cloud_sync",
    }
);

named!(
    /// A license tier; each grants a default set of capabilities.
    Tier, "tier", UnknownTier {
        Free = "free",
        Basic = "basic",
        Pro = "pro",
        /// The open-core default: everything.
        Architect = "architect",
        Enterprise = "enterprise",
    }
);

impl Tier {
    /// What the tier grants when a license file does not list capabilities itself.
    pub fn default_capabilities(self) -> Capabilities {
        use Capability::*;
        let list: &[Capability] = match self {
            Self::Free => &[BasicExecution, CoreServices],
            Self::Basic => &[
                BasicExecution,
                CoreServices,
                UnlimitedApi,
                PresetVersioning,
                TimeTravelDebugger,
            ],
            Self::Pro => &[
                BasicExecution,
                CoreServices,
                UnlimitedApi,
                PresetVersioning,
                TimeTravelDebugger,
                AiProviderAccess,
                AiLocalModels,
                AiCopilot,
                CloudSync,
            ],
            Self::Architect | Self::Enterprise => Capability::ALL,
        };
        Capabilities(list.iter().copied().collect())
    }
}

/// A set of capabilities, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    /// Whether `c` is in the set.
    pub fn contains(&self, c: Capability) -> bool {
        self.0.contains(&c)
    }

    /// The capabilities, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_capabilities_round_trip_and_architect_has_them_all() {
        assert_eq!(Capability::ALL.len(), 12);
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>().expect("known"), *c);
            let json = serde_json::to_string(c).expect("json");
            assert_eq!(serde_json::from_str::<Capability>(&json).expect("back"), *c);
        }
        assert_eq!(Tier::Architect.default_capabilities().len(), 12);
        assert!(
            !Tier::Free
                .default_capabilities()
                .contains(Capability::CloudSync)
        );
        let e = "teleport".parse::<Capability>().expect_err("unknown");
        assert_eq!(e.to_string(), "unknown capability \"teleport\"");
        assert!(serde_json::from_str::<Capability>("\"teleport\"").is_err());
        assert!("gold".parse::<Tier>().is_err());
    }
}
