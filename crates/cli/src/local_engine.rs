//! The local engine of `flowork up` (DESIGN §2, the embedded default): registered once at the
//! gateway for the admin, its token in `<data_dir>/engine.token` (mode 0600) and its id in
//! `<data_dir>/engine.id`, so every later run links the same engine.
//!
//! Self-healing on purpose: a token rotated through the API, an engine deleted through it, or a
//! crash between registering and writing the files would otherwise leave `flowork up` unable to
//! link its own engine; each case is repaired here (a new token, or a new registration).

use std::path::{Path, PathBuf};

use flowork_kit::entry::BoxError;
use flowork_model::{EngineId, Role, UserId};
use flowork_scheduler::link::{Secret, TOKEN_FILE, read_token_file, write_token_file};
use flowork_storage::{AccountStore, NewEngine, StorageError};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The file under the data dir naming the local engine.
pub const ID_FILE: &str = "engine.id";
/// The local engine's name at the gateway.
pub const NAME: &str = "local";

/// The engine `flowork up` links.
pub struct LocalEngine {
    pub id: EngineId,
    /// Its token (never printed; `Debug` hides it).
    pub token: Secret,
    /// Whether this run registered it (or gave it a new token).
    pub registered: bool,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("registered", &self.registered)
            .finish()
    }
}

/// The local engine, registered (or repaired) if needed.
pub async fn ensure(accounts: &dyn AccountStore, data_dir: &Path) -> Result<LocalEngine, BoxError> {
    let (id_path, token_path) = (data_dir.join(ID_FILE), data_dir.join(TOKEN_FILE));
    let (id, token) = read_files(id_path.clone(), token_path.clone()).await?;
    if let (Some(id), Some(token)) = (id, &token) {
        match accounts.get_engine_token_hash(id).await {
            Ok((_, hash)) if hash == hash_token(token) => {
                return Ok(LocalEngine {
                    id,
                    token: token.clone(),
                    registered: false,
                });
            }
            Ok((engine, _)) => {
                tracing::info!(engine = %id, "the local engine's token was replaced; issuing a new one");
                return reissue(accounts, engine.owner_id, id, token_path, None).await;
            }
            Err(StorageError::NotFound { .. }) => {
                tracing::info!(engine = %id, "the local engine was deleted; registering a new one");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let owner = admin(accounts).await?;
    let token = new_token();
    let new = NewEngine {
        id: EngineId::new(),
        owner_id: owner,
        name: NAME.into(),
        token_hash: hash_token(&token),
    };
    let id = match accounts.create_engine(new).await {
        Ok(engine) => engine.id,
        // Registered by an earlier run that stopped before writing its files: reuse it.
        Err(StorageError::Conflict(_)) => {
            let engines = accounts.list_engines(Some(owner)).await?;
            let Some(engine) = engines.into_iter().find(|e| e.name == NAME) else {
                return Err(format!("could not register the local engine {NAME:?}").into());
            };
            return reissue(accounts, owner, engine.id, token_path, Some(id_path)).await;
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(engine = %id, "registered the local engine");
    write_files(token_path, token.clone(), Some((id_path, id))).await?;
    Ok(LocalEngine {
        id,
        token,
        registered: true,
    })
}

/// A new token for an existing engine, written to the token file (and its id to `id_path`).
async fn reissue(
    accounts: &dyn AccountStore,
    owner: UserId,
    id: EngineId,
    token_path: PathBuf,
    id_path: Option<PathBuf>,
) -> Result<LocalEngine, BoxError> {
    let token = new_token();
    accounts
        .set_engine_token(owner, id, &hash_token(&token))
        .await?;
    write_files(token_path, token.clone(), id_path.map(|p| (p, id))).await?;
    Ok(LocalEngine {
        id,
        token,
        registered: true,
    })
}

/// The first admin: `admin`, else the oldest user with the admin role.
async fn admin(accounts: &dyn AccountStore) -> Result<UserId, BoxError> {
    match accounts.get_user_by_name("admin").await {
        Ok(u) if u.role == Role::Admin => return Ok(u.id),
        Ok(_) | Err(StorageError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let users = accounts.list_users().await?;
    users
        .into_iter()
        .find(|u| u.role == Role::Admin)
        .map(|u| u.id)
        .ok_or_else(|| "no admin user to register the local engine for".into())
}

async fn read_files(
    id_path: PathBuf,
    token_path: PathBuf,
) -> Result<(Option<EngineId>, Option<Secret>), BoxError> {
    tokio::task::spawn_blocking(move || {
        let id = match std::fs::read_to_string(&id_path) {
            Ok(s) => s.trim().parse::<EngineId>().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: {e}", id_path.display()).into()),
        };
        // A token file group or others can read is refused, not silently replaced.
        let token = read_token_file(&token_path)?;
        Ok((id, token))
    })
    .await?
}

async fn write_files(
    token_path: PathBuf,
    token: Secret,
    id: Option<(PathBuf, EngineId)>,
) -> Result<(), BoxError> {
    tokio::task::spawn_blocking(move || {
        write_token_file(&token_path, &token)
            .map_err(|e| format!("{}: {e}", token_path.display()))?;
        if let Some((path, id)) = id {
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok::<_, BoxError>(())
    })
    .await?
}

/// A new engine token in the gateway's format: `fke_` and 43 alphanumerics (about 256 bits).
fn new_token() -> Secret {
    let mut s = Zeroizing::new(String::from("fke_"));
    s.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(43)
            .map(char::from),
    );
    s
}

/// How the gateway stores tokens: lowercase hex SHA-256.
fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
