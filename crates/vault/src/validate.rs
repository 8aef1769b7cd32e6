//! The rules for credential names, kinds and secrets, checked before anything is written.

use crate::error::{Result, VaultError};
use crate::secret::Secret;

/// Longest credential name, in characters.
pub const MAX_NAME_LEN: usize = 128;
/// Longest credential kind, in characters.
pub const MAX_KIND_LEN: usize = 64;
/// Largest secret, as serialized JSON.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// A name is 1–128 of `[A-Za-z0-9_.-]`: safe in URLs, expressions and log lines as is.
pub(crate) fn name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(VaultError::invalid("name", "must not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(VaultError::invalid(
            "name",
            format!(
                "must be at most {MAX_NAME_LEN} characters, got {}",
                name.len()
            ),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(VaultError::invalid(
            "name",
            format!("{c:?} is not allowed; use letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

/// A kind is a lowercase identifier (`http_header`, `basic_auth`, `oauth2.client`), 1–64 chars.
pub(crate) fn kind(kind: &str) -> Result<()> {
    let ok_start = kind.starts_with(|c: char| c.is_ascii_lowercase());
    let ok_chars = kind
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if !ok_start || !ok_chars || kind.len() > MAX_KIND_LEN {
        return Err(VaultError::invalid(
            "kind",
            format!(
                "{kind:?} is not a kind: expected a lowercase letter, then up to {} of \
                 [a-z0-9_.-]",
                MAX_KIND_LEN - 1
            ),
        ));
    }
    Ok(())
}

/// A secret is a JSON object (its fields are what nodes read).
pub(crate) fn secret(secret: &Secret) -> Result<()> {
    if !secret.expose().is_object() {
        return Err(VaultError::invalid(
            "secret",
            "must be a JSON object, e.g. {\"token\": \"...\"}",
        ));
    }
    Ok(())
}

/// The serialized secret fits the size limit.
pub(crate) fn secret_size(len: usize) -> Result<()> {
    if len > MAX_SECRET_BYTES {
        return Err(VaultError::invalid(
            "secret",
            format!("must be at most {MAX_SECRET_BYTES} bytes as JSON, got {len}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "github.token", "A-b_c.9", &"x".repeat(128)] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "a\n", &"x".repeat(129)] {
            assert!(
                matches!(name(bad), Err(VaultError::Invalid { field: "name", .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn kinds() {
        for ok in ["http_header", "basic_auth", "oauth2.client", "a"] {
            assert!(kind(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Basic", "1abc", "a b", &"k".repeat(65)] {
            assert!(
                matches!(kind(bad), Err(VaultError::Invalid { field: "kind", .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_are_objects() {
        assert!(secret(&Secret::new(json!({"token": "t"}))).is_ok());
        assert!(secret(&Secret::new(json!("just a string"))).is_err());
        assert!(secret_size(MAX_SECRET_BYTES).is_ok());
        assert!(secret_size(MAX_SECRET_BYTES + 1).is_err());
    }
}
