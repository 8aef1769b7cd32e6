//! `flowork up`'s local engine registration on a real SQLite store: once, then reused; repaired
//! when its token was rotated, it was deleted, or a run stopped before writing its files.

use std::path::Path;
use std::sync::Arc;

use flowork_cli::local_engine::{ID_FILE, LocalEngine, NAME, ensure};
use flowork_scheduler::link::TOKEN_FILE;
use flowork_storage::{AccountStore, Store};
use sha2::{Digest as _, Sha256};

async fn store(dir: &Path) -> (Arc<dyn Store>, Arc<dyn AccountStore>) {
    let url = format!("sqlite://{}", dir.join("f.db").display());
    let (store, accounts) = flowork_storage::connect_with_accounts(&url, 2)
        .await
        .expect("store");
    flowork_gateway::bootstrap_admin(store.as_ref())
        .await
        .expect("admin");
    (store, accounts)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The gateway accepts the engine's token.
async fn verifies(accounts: &dyn AccountStore, local: &LocalEngine) {
    let (engine, stored) = accounts
        .get_engine_token_hash(local.id)
        .await
        .expect("registered");
    assert_eq!(engine.name, NAME);
    assert_eq!(
        stored,
        hash(&local.token),
        "the token on disk is the live one"
    );
}

#[tokio::test]
async fn registered_once_then_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, accounts) = store(dir.path()).await;
    let first = ensure(accounts.as_ref(), dir.path()).await.expect("first");
    assert!(first.registered);
    assert!(first.token.starts_with("fke_"));
    verifies(accounts.as_ref(), &first).await;
    let id_file = std::fs::read_to_string(dir.path().join(ID_FILE)).expect("id file");
    assert_eq!(id_file.trim(), first.id.to_string());
    assert!(
        !format!("{first:?}").contains(first.token.as_str()),
        "Debug hides the token"
    );

    let again = ensure(accounts.as_ref(), dir.path()).await.expect("again");
    assert!(!again.registered);
    assert_eq!(
        (again.id, again.token.as_str()),
        (first.id, first.token.as_str())
    );
    assert_eq!(accounts.list_engines(None).await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_rotated_deleted_or_half_written_registration_is_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, accounts) = store(dir.path()).await;
    let first = ensure(accounts.as_ref(), dir.path()).await.expect("first");
    let owner = accounts
        .get_engine(first.id)
        .await
        .expect("engine")
        .owner_id;

    // Rotated through the API: same engine, a new token written for it.
    accounts
        .set_engine_token(owner, first.id, &hash("fke_someone-elses"))
        .await
        .expect("rotate");
    let rotated = ensure(accounts.as_ref(), dir.path())
        .await
        .expect("rotated");
    assert_eq!(rotated.id, first.id);
    assert_ne!(rotated.token.as_str(), first.token.as_str());
    verifies(accounts.as_ref(), &rotated).await;

    // A run that registered but stopped before writing its files: the same engine is reused.
    std::fs::remove_file(dir.path().join(ID_FILE)).expect("rm id");
    std::fs::remove_file(dir.path().join(TOKEN_FILE)).expect("rm token");
    let resumed = ensure(accounts.as_ref(), dir.path())
        .await
        .expect("resumed");
    assert_eq!(resumed.id, first.id, "no second registration");
    verifies(accounts.as_ref(), &resumed).await;
    assert!(dir.path().join(ID_FILE).is_file());

    // Deleted through the API: registered anew.
    accounts
        .delete_engine(owner, first.id)
        .await
        .expect("delete");
    let fresh = ensure(accounts.as_ref(), dir.path()).await.expect("fresh");
    assert_ne!(fresh.id, first.id);
    verifies(accounts.as_ref(), &fresh).await;
    assert_eq!(accounts.list_engines(None).await.expect("list").len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn a_token_file_others_can_read_stops_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, accounts) = store(dir.path()).await;
    ensure(accounts.as_ref(), dir.path()).await.expect("first");
    let path = dir.path().join(TOKEN_FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let err = ensure(accounts.as_ref(), dir.path())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(
        err.is::<flowork_kit::KitError>(),
        "a setup error: flowork up exits 2"
    );
}
