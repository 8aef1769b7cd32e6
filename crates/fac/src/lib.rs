//! FAC (Flowork Access Capability) tokens, DESIGN §5: a JWT signed with Ed25519 (`alg: EdDSA`) by
//! the engine's issuer key, carrying a gas budget, per-node-type costs and the node types (and
//! optionally workflows) it allows.
//!
//! - [`Issuer`] signs ([`Issuer::issue`]) and verifies ([`Issuer::verify`]) tokens. Only EdDSA is
//!   accepted: `alg: none`, HS*, RS*, ES* are refused before any signature check.
//! - [`Capability`] is the parsed `fac` claim: patterns are parsed once, then [`Capability::cost`]
//!   and [`Capability::allows`] answer per node type.
//! - [`key`] keeps the issuer key in `<data dir>/fac.key` (mode 0600), generated on first use.
//!
//! Cost rule: the most specific pattern wins. An exact node type beats any glob; among globs the
//! one with the most literal (non-`*`) characters wins (ties: the longer pattern, then the first
//! in byte order); `"*"` is the fallback. A node type that no pattern matches costs 1 gas: every
//! node an agent runs costs something.

mod claims;
mod error;
pub mod key;
mod pattern;
mod token;

pub use claims::{Capability, Claims, FacClaim};
pub use error::{FacError, Forbidden};
pub use flowork_model::{Gas, Jti, OutOfGas};
pub use pattern::Pattern;
pub use token::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, IssueRequest, Issuer, LEEWAY_SECS};
