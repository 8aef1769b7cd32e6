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
//! - [`export_dir`], [`import_dir`]: the `000001.json`… export directory; [`export_tar`],
//!   [`unpack_tar`]: the same files as one tar archive (what the engine's export endpoint sends).
//! - [`flowork_py`]: verifying version files exported by the original Python Flowork.
//! - `keystore` (feature `keystore`): the passphrase-encrypted Ethereum keystore v3 file.
//!
//! ```
//! use flowork_flowchain::{ChainStatus, SigningKey, VersionRecord, verify_chain};
//! use serde_json::json;
//!
//! let key = SigningKey::generate();
//! let mut v1 = VersionRecord::next(None, "wf-1", "2026-11-22T07:00:00Z", json!({"nodes": []}))?;
//! v1.sign(&key)?;
//! // A save sends v2; the server checks v2.previous_hash == hash of its head (else 409).
//! let mut v2 = VersionRecord::next(Some(&v1), "wf-1", "2026-11-22T08:00:00Z", json!({"nodes": [1]}))?;
//! v2.sign(&key)?;
//! assert_eq!(v2.previous_hash, Some(v1.hash()?));
//! assert_eq!(v2.verify_signature(), Ok(Some(key.address())));
//! let report = verify_chain(&[v1, v2]);
//! assert_eq!(report.status, ChainStatus::Valid);
//! // Files of an export: `export_dir(dir, &records)`; `verify_dir(dir)` checks one.
//! # Ok::<(), flowork_flowchain::Error>(())
//! ```

#[macro_use]
mod hex_text;
mod address;
mod archive;
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
pub use archive::{export_tar, unpack_tar};
pub use canonical::{canonical_bytes, is_canonical};
pub use dir::{export_dir, file_name, import_dir, verify_dir};
pub use error::Error;
pub use record::{RecordHash, VersionRecord};
pub use sign::{Signature, SigningKey, personal_hash};
pub use verify::{
    ChainReport, ChainStatus, Problem, VersionProblem, verify_chain, verify_chain_parallel,
    verify_records,
};
