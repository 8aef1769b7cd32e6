//! The credentials vault of the engine.
//!
//! Secrets are sealed with XChaCha20-Poly1305 under a 32-byte [`MasterKey`] before they reach
//! the store, bound to the credential's name, and only opened for the node that uses them
//! ([`Vault::reveal`]). The key comes from `FLOWORK_MASTER_KEY` ([`MasterKey::from_base64`]) or a
//! key file ([`MasterKey::load_or_create`]); [`Vault::open`] refuses a key that is not the one
//! the stored credentials were sealed with.

mod canary;
mod error;
mod key;
mod keyfile;
mod seal;
mod secret;
mod validate;
mod vault;

pub use canary::{CANARY_KEY, KV_NAMESPACE};
pub use error::{Result, VaultError};
pub use key::{KEY_LEN, MASTER_KEY_ENV, MasterKey};
pub use secret::Secret;
pub use validate::{MAX_KIND_LEN, MAX_NAME_LEN, MAX_SECRET_BYTES};
pub use vault::{CredentialMeta, Vault};
