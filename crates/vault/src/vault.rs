//! The vault: credentials sealed under the master key, kept in the store by name.

use std::sync::Arc;

use flowork_model::{CredentialId, Timestamp};
use flowork_storage::{Credential, NewCredential, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::key::MasterKey;
use crate::secret::Secret;
use crate::{canary, seal, validate};

/// What the API may show about a credential: never the secret, never the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMeta {
    /// The credential's id.
    pub id: CredentialId,
    /// Unique; nodes refer to credentials by name.
    pub name: String,
    /// The credential type ("http_header", "basic_auth", ...).
    pub kind: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its secret was last replaced.
    pub updated_at: Timestamp,
}

impl From<Credential> for CredentialMeta {
    fn from(c: Credential) -> Self {
        CredentialMeta {
            id: c.id,
            name: c.name,
            kind: c.kind,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The engine's credentials vault. Cheap to share behind an `Arc`.
pub struct Vault {
    store: Arc<dyn Store>,
    key: MasterKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault, checking `key` against the stored key canary (written on first use).
    ///
    /// Fails with [`VaultError::WrongKey`] when the key is not the one the stored credentials
    /// were sealed with; nothing is written in that case.
    pub async fn open(store: Arc<dyn Store>, key: MasterKey) -> Result<Vault> {
        canary::check(store.as_ref(), &key).await?;
        tracing::info!(fingerprint = key.fingerprint(), "vault opened");
        Ok(Vault { store, key })
    }

    /// The non-secret fingerprint of the master key in use.
    pub fn fingerprint(&self) -> &str {
        self.key.fingerprint()
    }

    /// Seals and stores a new credential. Conflict if the name is taken.
    pub async fn create(&self, name: &str, kind: &str, secret: Secret) -> Result<CredentialMeta> {
        validate::name(name)?;
        validate::kind(kind)?;
        validate::secret(&secret)?;
        let sealed = seal::seal_secret(&self.key, name, &secret)?;
        drop(secret);
        let new = NewCredential {
            id: CredentialId::new(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            sealed,
        };
        let cred = self
            .store
            .create_credential(new)
            .await
            .map_err(|e| VaultError::from_store(name, e))?;
        tracing::info!(credential = name, kind, "credential created");
        Ok(cred.into())
    }

    /// Replaces a credential's secret. NotFound if there is no such credential.
    pub async fn update(&self, name: &str, secret: Secret) -> Result<CredentialMeta> {
        validate::secret(&secret)?;
        let sealed = seal::seal_secret(&self.key, name, &secret)?;
        drop(secret);
        let cred = self
            .store
            .update_credential(name, sealed)
            .await
            .map_err(|e| VaultError::from_store(name, e))?;
        tracing::info!(credential = name, "credential updated");
        Ok(cred.into())
    }

    /// The plain-text secret, for the node that uses it. Corrupt if the sealed value does not
    /// open under this key and name.
    pub async fn reveal(&self, name: &str) -> Result<Secret> {
        let cred = self.get(name).await?;
        seal::open_secret(&self.key, name, &cred.sealed)
    }

    /// A credential's metadata.
    pub async fn get_meta(&self, name: &str) -> Result<CredentialMeta> {
        Ok(self.get(name).await?.into())
    }

    /// Every credential's metadata, in the store's order.
    pub async fn list(&self) -> Result<Vec<CredentialMeta>> {
        let all = self.store.list_credentials().await?;
        Ok(all.into_iter().map(CredentialMeta::from).collect())
    }

    /// Deletes a credential. NotFound if there is no such credential.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.store
            .delete_credential(name)
            .await
            .map_err(|e| VaultError::from_store(name, e))?;
        tracing::info!(credential = name, "credential deleted");
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Credential> {
        self.store
            .get_credential(name)
            .await
            .map_err(|e| VaultError::from_store(name, e))
    }
}
