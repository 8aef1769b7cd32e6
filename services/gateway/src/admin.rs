//! The first-run admin account: created once, when there are no users at all.

use flowork_model::{Role, UserId};
use flowork_storage::{NewUser, StorageError, UserStore};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::auth::password::hash_password;

/// The env var that chooses the first admin's password.
pub const ADMIN_PASSWORD_ENV: &str = "FLOWORK_ADMIN_PASSWORD";
const ADMIN: &str = "admin";

/// What [`bootstrap_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// Users exist already; nothing changed.
    Existing,
    /// Created `admin` with the password from `FLOWORK_ADMIN_PASSWORD`.
    FromEnv,
    /// Created `admin` with this generated password, to be shown once.
    Generated(String),
}

/// Creates the user `admin` if the store has no users. The password comes from
/// `FLOWORK_ADMIN_PASSWORD`, else is generated; only its argon2id hash is stored.
pub async fn bootstrap_admin<S: UserStore + ?Sized>(
    store: &S,
) -> Result<AdminBootstrap, StorageError> {
    if store.count_users().await? > 0 {
        return Ok(AdminBootstrap::Existing);
    }
    let (password, generated) = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (generate_password(), true),
    };
    let hash = hash_password(password.clone())
        .await
        .map_err(|e| StorageError::Invalid(e.to_string()))?;
    let user = NewUser {
        id: UserId::new(),
        username: ADMIN.into(),
        password_hash: hash,
        role: Role::Admin,
    };
    match store.create_user(user).await {
        Ok(_) => {}
        // Another process created it between our count and insert: theirs stands.
        Err(StorageError::Conflict(_)) => return Ok(AdminBootstrap::Existing),
        Err(e) => return Err(e),
    }
    tracing::info!(user = ADMIN, "created the first admin account");
    Ok(if generated {
        AdminBootstrap::Generated(password)
    } else {
        AdminBootstrap::FromEnv
    })
}

fn generate_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Prints a generated password once, on stdout (never to the log).
pub fn print_generated(password: &str) {
    println!("  Login:    admin / {password}");
    println!("            (shown once; set {ADMIN_PASSWORD_ENV} on first run to choose it)");
}
