//! Large JSON values (node run inputs and outputs) are kept once, in the `blobs` table, by the
//! SHA-256 of their text; the node run row holds `null` and the hash.
//!
//! Why: node run rows stay small (history pages and resumes read many of them), and a big value
//! is stored once although it is usually twice in history (a node's output is the next node's
//! input, and a replay repeats both). Each backend reads them back with a join, so nothing above
//! the store sees the difference. The size limit that fails loudly is the engine's (16 MiB per
//! node output).
//!
//! Collection: retention deletes blobs no node run references, once they are older than
//! [`BLOB_GRACE_MS`]. Every write that references a blob refreshes its `touched_at` in the same
//! transaction, so a blob being reused is never collected under it.

use sha2::{Digest, Sha256};

/// JSON text at least this long goes to the blob table.
pub const BLOB_THRESHOLD: usize = 64 * 1024;

/// How long an unreferenced blob survives, in milliseconds.
pub(crate) const BLOB_GRACE_MS: i64 = 60 * 60 * 1000;

/// A large value to store in the blob table.
#[derive(Debug)]
pub(crate) struct Blob {
    pub hash: String,
    pub text: String,
}

/// `text` as a row stores it: unchanged when small; else `null`, plus the blob holding it.
pub(crate) fn split(text: String) -> (String, Option<Blob>) {
    if text.len() < BLOB_THRESHOLD {
        return (text, None);
    }
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    ("null".to_owned(), Some(Blob { hash, text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_inline_large_is_hashed() {
        assert!(split("{\"a\":1}".into()).1.is_none());
        let big = format!("\"{}\"", "x".repeat(BLOB_THRESHOLD));
        let (inline, blob) = split(big.clone());
        let blob = blob.expect("blob");
        assert_eq!((inline.as_str(), blob.text), ("null", big));
        assert_eq!(blob.hash.len(), 64);
    }
}
