//! The services of DESIGN §2, by name.

use std::fmt;
use std::str::FromStr;

/// One of Flowork's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    Gateway,
    Scheduler,
    Store,
    Modules,
    Inference,
    Training,
    Sync,
    License,
    Integrity,
}

impl ServiceName {
    /// Every service, in start order (storage first, gateway last).
    pub const ALL: [ServiceName; 9] = [
        Self::Store,
        Self::License,
        Self::Integrity,
        Self::Modules,
        Self::Inference,
        Self::Training,
        Self::Sync,
        Self::Scheduler,
        Self::Gateway,
    ];

    /// The lowercase name used in config sections, CLI arguments and binary names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Scheduler => "scheduler",
            Self::Store => "store",
            Self::Modules => "modules",
            Self::Inference => "inference",
            Self::Training => "training",
            Self::Sync => "sync",
            Self::License => "license",
            Self::Integrity => "integrity",
        }
    }

    /// The port a service listens on when run on its own (`flowork serve <name>`).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Gateway => 8000,
            Self::Scheduler => 7100,
            Self::Store => 7101,
            Self::Modules => 7102,
            Self::Inference => 7103,
            Self::Training => 7104,
            Self::Sync => 7105,
            Self::License => 7106,
            Self::Integrity => 7107,
        }
    }

    /// The grpc.health.v1 service name that is SERVING once the service's own API is up.
    /// A placeholder serves health for "" only, so asking for this name says "not implemented".
    pub fn health_name(self) -> String {
        let mut s = self.as_str().to_owned();
        s[..1].make_ascii_uppercase();
        format!("flowork.v1.{s}")
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|n| n.as_str()).collect();
                format!(
                    "unknown service {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_health_names_match_proto_services() {
        for n in ServiceName::ALL {
            assert_eq!(n.as_str().parse::<ServiceName>(), Ok(n));
        }
        assert_eq!(ServiceName::Store.health_name(), "flowork.v1.Store");
        assert!(
            "nope"
                .parse::<ServiceName>()
                .expect_err("unknown")
                .contains("gateway")
        );
    }
}
