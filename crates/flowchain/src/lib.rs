//! The signed flow-chain (DESIGN §5 "Flow-chain version record"): every saved version of a
//! workflow is a [`VersionRecord`] linked to the previous one by hash and signed by its author
//! with Ethereum `personal_sign`, so anyone holding an export can check who wrote what, in
//! which order, and that nothing was changed since.
//!
//! - [`canonical_bytes`]: RFC 8785 (JCS) bytes of JSON, the only serialization that is hashed or
//!   signed anywhere in Flowork.
//! - [`SigningKey`], [`Signature`], [`Address`]: EIP-191 signing and signer recovery (secp256k1).
//! - [`VersionRecord::next`], [`VersionRecord::sign`], [`VersionRecord::hash`]: make a version.
//! - [`verify_chain`], [`verify_dir`]: a [`ChainReport`] naming the first bad version and why.
//! - [`export_dir`], [`import_dir`]: the `000001.json`… export directory.
//! - [`flowork_py`]: verifying version files exported by the original Python Flowork.
//! - `keystore` (feature `keystore`): the passphrase-encrypted Ethereum keystore v3 file.

mod address;
mod canonical;
mod dir;
mod error;
pub mod flowork_py;
#[cfg(feature = "keystore")]
pub mod keystore;
pub mod pyjson;
mod record;
mod sign;
mod verify;

pub use address::Address;
pub use canonical::{canonical_bytes, is_canonical};
pub use dir::{export_dir, file_name, import_dir, verify_dir};
pub use error::Error;
pub use record::{RecordHash, VersionRecord};
pub use sign::{Signature, SigningKey, personal_hash};
pub use verify::{ChainReport, ChainStatus, Problem, VersionProblem, verify_chain};
