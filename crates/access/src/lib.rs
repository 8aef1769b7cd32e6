//! Licenses and permissions (issue #5, DESIGN §2 `flowork-license`).
//!
//! - [`Capability`] (the twelve licensed features) and [`Tier`]; the open-core default
//!   ([`License::open_core`]) is tier `architect` with all twelve.
//! - [`License`]: Ed25519-signed license files (tier, capabilities, seats, expiry, licensee),
//!   verified offline against a pinned key with the integrity manifest's scheme and keys.
//! - [`decide`]: the rule. A principal may do an [`Action`] on an engine when their role there
//!   (owner > admin > editor > viewer) includes the action's, and the license grants the
//!   capability. Not a member: [`Denial::NotMember`] (callers answer 404, so ids do not leak).
//! - [`PermissionChecker`]: who answers, in this process ([`LocalChecker`], over the member
//!   table) or over gRPC ([`GrpcChecker`] against the license service); [`Cached`] in front.

mod cache;
mod capability;
mod decide;
mod error;
pub mod grpc;
mod license;
mod settings;

pub use cache::{Cached, DEFAULT_CAPACITY, DEFAULT_TTL};
pub use capability::{Capabilities, Capability, Tier};
pub use decide::{
    Action, Decision, Denial, LocalChecker, PermissionChecker, Query, classify, decide,
};
pub use error::AccessError;
pub use grpc::GrpcChecker;
pub use license::{FORMAT_VERSION, License, LicenseSpec, PINNED_PUBLIC_KEY};
pub use settings::{license_key, load_license};
