//! The start-up key check: a sealed known value in kv `vault/canary` that only the right key
//! opens. The first engine to start writes it (compare-and-swap on absence, so engines starting
//! together agree on one); every later start verifies it and changes nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowork_storage::{Expect, StorageError, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::key::MasterKey;
use crate::seal::{self, Binding};

/// The kv namespace the vault keeps its own records in.
pub const KV_NAMESPACE: &str = "vault";
/// The kv key of the canary.
pub const CANARY_KEY: &str = "canary";

const PLAINTEXT: &[u8] = b"flowork-vault canary v1";
const CANARY_NAME: &str = "vault canary";

/// The canary as stored (JSON), readable by operators: which key, and the proof.
#[derive(Serialize, Deserialize)]
struct Canary {
    format: u32,
    fingerprint: String,
    /// Base64 of the sealed [`PLAINTEXT`].
    sealed: String,
}

/// Verifies `key` against the stored canary, writing one first if there is none.
pub(crate) async fn check(store: &dyn Store, key: &MasterKey) -> Result<()> {
    if let Some(entry) = store.kv_get(KV_NAMESPACE, CANARY_KEY).await? {
        return verify(key, &entry.value);
    }
    // No canary yet. If credentials exist anyway (sealed before the canary existed, or the canary
    // was deleted), writing one for an unchecked key would bless the wrong key: require that it
    // opens at least one of them first.
    let creds = store.list_credentials().await?;
    let opens_one = creds
        .iter()
        .any(|c| seal::open(key, Binding::Credential(&c.name), &c.sealed).is_some());
    if !creds.is_empty() && !opens_one {
        return Err(VaultError::WrongKey {
            expected: None,
            got: key.fingerprint().to_owned(),
        });
    }
    let canary = Canary {
        format: 1,
        fingerprint: key.fingerprint().to_owned(),
        sealed: STANDARD.encode(seal::seal(key, Binding::Canary, PLAINTEXT)?),
    };
    let bytes = serde_json::to_vec(&canary)
        .map_err(|e| VaultError::Storage(StorageError::Backend(e.to_string())))?;
    match store
        .kv_put(KV_NAMESPACE, CANARY_KEY, bytes, Expect::Absent)
        .await
    {
        Ok(_) => {
            tracing::info!(fingerprint = key.fingerprint(), "vault key canary created");
            Ok(())
        }
        // Another engine wrote its canary first: ours must match that one.
        Err(StorageError::Conflict(_)) => match store.kv_get(KV_NAMESPACE, CANARY_KEY).await? {
            Some(entry) => verify(key, &entry.value),
            None => Err(VaultError::Corrupt {
                name: CANARY_NAME.into(),
            }),
        },
        Err(e) => Err(e.into()),
    }
}

fn verify(key: &MasterKey, stored: &[u8]) -> Result<()> {
    let corrupt = || VaultError::Corrupt {
        name: CANARY_NAME.into(),
    };
    let canary: Canary = serde_json::from_slice(stored).map_err(|_| corrupt())?;
    let opened = STANDARD
        .decode(&canary.sealed)
        .ok()
        .and_then(|sealed| seal::open(key, Binding::Canary, &sealed));
    match opened {
        // The proof opening is what counts; the stored fingerprint is only there for the message.
        Some(plain) if plain.as_slice() == PLAINTEXT => Ok(()),
        Some(_) => Err(corrupt()),
        None if canary.fingerprint != key.fingerprint() => Err(VaultError::WrongKey {
            expected: Some(canary.fingerprint),
            got: key.fingerprint().to_owned(),
        }),
        // Same key, yet the proof does not open: the record was edited, not the key changed.
        None => Err(corrupt()),
    }
}
