//! Signed integrity manifests (DESIGN §5, a contract other tools interoperate with):
//!
//! ```json
//! {"version":1,"algorithm":"sha256","files":{"<relative path>":"<hex>"},
//!  "public_key":"<ed25519 hex>","signature":"<hex Ed25519 over the JCS bytes of everything but signature>"}
//! ```
//!
//! - [`Manifest::build`] hashes files and directories under a root and signs the result;
//!   [`Manifest::parse`] reads one, [`Manifest::verify_signature`] checks it against a pinned
//!   [`PublicKey`], and [`Manifest::check`] re-hashes the listed files and names each drift.
//! - Paths are [`RelPath`]s: relative, `/`-separated, never `..`, `.`, empty or absolute, so a
//!   manifest can never make a check read outside its root.
//! - Hashing streams each file through SHA-256 and spreads files over a few threads
//!   ([`hash::hash_files`]); everything here blocks, so async callers use `spawn_blocking`.
//! - A module's folder is covered the same way: [`Manifest::build`] over the folder, and
//!   [`Manifest::check`] with the folder as root (the modules service calls these at install
//!   and at load).

mod error;
pub mod hash;
mod keys;
mod manifest;
mod path;
mod walk;

pub use error::ManifestError;
pub use hash::{Digest, Progress};
pub use keys::{PublicKey, SecretKey};
pub use manifest::{ALGORITHM, Drift, DriftKind, FORMAT_VERSION, Manifest, Report};
pub use path::RelPath;
pub use walk::collect;

/// The file name a manifest goes by, next to the executable it covers.
pub const FILE_NAME: &str = "integrity.json";
