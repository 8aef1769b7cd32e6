//! Password hashing and checking with argon2id, off the async runtime and a few at a time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::{GatewayError, Result};

/// Longest password accepted (argon2 hashes any length; this bounds the work per attempt).
pub(crate) const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest password a new account may have.
pub(crate) const MIN_PASSWORD_LEN: usize = 8;

/// Checks passwords. Each check takes tens of milliseconds of CPU and about 19 MiB by design;
/// a semaphore keeps a burst of logins from taking every core and the blocking pool.
pub(crate) struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash to check against when the user does not exist, so an unknown username takes
    /// as long as a wrong password (no account enumeration by timing).
    decoy: OnceCell<String>,
}

impl Passwords {
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores.max(2))),
            decoy: OnceCell::new(),
        }
    }

    /// Whether `password` matches `stored` (a PHC string); `None` checks against the decoy and
    /// answers false.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let (stored, real) = match stored {
            Some(s) => (s, true),
            None => {
                let decoy = self
                    .decoy
                    .get_or_try_init(|| hash_password(uuid::Uuid::now_v7().to_string()))
                    .await?;
                (decoy.clone(), false)
            }
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| GatewayError::Internal(format!("password check: {e}")))?;
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| GatewayError::Internal(format!("password check task failed: {e}")))?;
        Ok(ok && real)
    }
}

/// Hashes with argon2id (the crate's default parameters) off the async runtime.
pub(crate) async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| GatewayError::Internal(format!("cannot hash a password: {e}")))
    })
    .await
    .map_err(|e| GatewayError::Internal(format!("hashing task failed: {e}")))?
}
