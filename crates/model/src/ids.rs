//! Typed ids. Each is a UUIDv7 (time-ordered, so ids sort by creation) with a readable prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not `<prefix>_<uuid>`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {kind} id {value:?}: expected {prefix}_<uuid>")]
pub struct IdError {
    kind: &'static str,
    prefix: &'static str,
    value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "_{}"), self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let err = || IdError { kind: $kind, prefix: $prefix, value: s.to_owned() };
                let rest = s
                    .strip_prefix(concat!($prefix, "_"))
                    .ok_or_else(err)?;
                Uuid::try_parse(rest).map(Self).map_err(|_| err())
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

typed_id!(
    /// A workflow (all of its versions share it).
    WorkflowId, "wf", "workflow"
);
typed_id!(
    /// One run of a workflow.
    ExecutionId, "ex", "execution"
);
typed_id!(
    /// A stored, encrypted credential.
    CredentialId, "cred", "credential"
);
typed_id!(
    /// A user account at the gateway.
    UserId, "usr", "user"
);
typed_id!(
    /// A registered engine (a scheduler that dials out to the gateway over EngineLink).
    EngineId, "eng", "engine"
);
typed_id!(
    /// An API key at the gateway (the id is public; the secret is shown once).
    ApiKeyId, "key", "API key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_string_and_json() {
        let id = WorkflowId::new();
        let s = id.to_string();
        assert!(s.starts_with("wf_"));
        assert_eq!(s.parse::<WorkflowId>(), Ok(id));
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(
            serde_json::from_str::<WorkflowId>(&json).expect("parse"),
            id
        );
    }

    #[test]
    fn rejects_wrong_prefix_and_garbage() {
        let ex = ExecutionId::new().to_string();
        let err = ex.parse::<WorkflowId>().expect_err("prefix must match");
        assert!(err.to_string().contains("expected wf_<uuid>"), "{err}");
        assert!("wf_nope".parse::<WorkflowId>().is_err());
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = ExecutionId::new();
        let b = ExecutionId::new();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
