//! Who may save versions on this engine: the signature policy and the author check.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use flowork_flowchain::Address;
use flowork_kit::KitError;
use flowork_kit::config::VersionsConfig;

/// Decides whether a verified author may save versions here. The engine's own answer is the
/// configured allowlist ([`AllowList`]); the permission service can supply another (for example
/// "addresses bound to the calling user") without the save path changing.
#[async_trait]
pub trait AuthorCheck: Send + Sync {
    /// `Ok` when `author` (whose signature verified) may save; otherwise why not. `caller` is the
    /// gateway user the request came from (`x-flowork-user-id`), when it came through one.
    async fn check(&self, author: Address, caller: Option<&str>) -> Result<(), String>;
}

/// `versions.allowed_authors`: a fixed set of addresses, or anyone when empty.
#[derive(Debug, Clone, Default)]
pub struct AllowList(BTreeSet<Address>);

impl AllowList {
    /// The set; empty allows every author.
    pub fn new(authors: impl IntoIterator<Item = Address>) -> Self {
        Self(authors.into_iter().collect())
    }
}

#[async_trait]
impl AuthorCheck for AllowList {
    async fn check(&self, author: Address, _caller: Option<&str>) -> Result<(), String> {
        if self.0.is_empty() || self.0.contains(&author) {
            Ok(())
        } else {
            Err(format!(
                "{author} is not in versions.allowed_authors of this engine"
            ))
        }
    }
}

/// The engine's version policy.
#[derive(Clone)]
pub struct VersionPolicy {
    /// Refuse unsigned saves.
    pub require_signed: bool,
    /// Who may sign.
    pub authors: Arc<dyn AuthorCheck>,
}

impl std::fmt::Debug for VersionPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionPolicy")
            .field("require_signed", &self.require_signed)
            .finish_non_exhaustive()
    }
}

impl Default for VersionPolicy {
    /// Development: unsigned saves allowed, any author.
    fn default() -> Self {
        Self {
            require_signed: false,
            authors: Arc::new(AllowList::default()),
        }
    }
}

impl VersionPolicy {
    /// From `[versions]`; `embedded` is whether this engine runs inside `flowork up`.
    pub fn from_config(cfg: &VersionsConfig, embedded: bool) -> Result<Self, KitError> {
        let authors = cfg
            .allowed_authors
            .iter()
            .map(|a| {
                a.parse::<Address>()
                    .map_err(|e| KitError::Config(format!("versions.allowed_authors: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            require_signed: cfg.require_signed(embedded),
            authors: Arc::new(AllowList::new(authors)),
        })
    }
}
