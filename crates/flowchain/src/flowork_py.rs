//! Version files exported by the original Python Flowork: `v{N}_{timestamp}.json`, each
//! `{version, author_id, timestamp, previous_hash, workflow_data, signature}`.
//!
//! - The signed text is `json.dumps({"workflow_data": wd}, sort_keys=True, separators=(",",
//!   ":"))` ([`crate::pyjson`]); `signature` is its `personal_sign` by `author_id`. Only the
//!   workflow data is signed: version, timestamp and link are protected by the hash chain alone.
//! - `previous_hash` is the lowercase hex SHA-256 of the previous file's raw bytes. Version 1
//!   has none: `null`, `""` or an absent field are all accepted, since Python code writes
//!   either `None` or an empty string there.
//! - `signature` may be written with or without "0x" (eth-account ≥ 0.13 `.hex()` drops it),
//!   `author_id` in any case (eth-account writes EIP-55). A null/empty signature is unsigned.
//! - Caveat: `json.dump` writes `NaN`/`Infinity` for non-finite floats; those are not JSON and
//!   such a file is reported as malformed.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::verify::{ChainVerifier, Link};
use crate::{Address, ChainReport, Error, Problem, RecordHash, Signature, pyjson};

/// Verifies a directory of Python Flowork version files, in version order.
pub fn verify_dir(dir: &Path) -> Result<ChainReport, Error> {
    let mut v = ChainVerifier::new();
    for (number, path) in version_files(dir)? {
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        v.push_numbered(number, link(number, &bytes));
    }
    Ok(v.finish())
}

/// The text Python Flowork signed for this workflow data.
pub fn signed_text(workflow_data: &Value) -> String {
    let mut m = Map::new();
    m.insert("workflow_data".into(), workflow_data.clone());
    pyjson::dumps_sorted(&Value::Object(m))
}

fn link(number: u32, bytes: &[u8]) -> Result<Link, Problem> {
    let bad = |why: String| Problem::Malformed(why);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let version = match obj.get("version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(number) => number,
        Some(v) => return Err(bad(format!("file v{number}_… holds version {v}"))),
        None => return Err(bad("version: missing or not a positive integer".into())),
    };
    let text = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(format!("{key}: not a string"))),
    };
    let author = text("author_id")?
        .map(str::parse::<Address>)
        .transpose()
        .map_err(|e| bad(format!("author_id: {e}")))?;
    let signature = text("signature")?
        .map(str::parse::<Signature>)
        .transpose()
        .map_err(|e| Problem::BadSignature(e.to_string()))?;
    let previous = text("previous_hash")?
        .map(|h| h.to_ascii_lowercase().parse::<RecordHash>())
        .transpose()
        .map_err(|e| bad(format!("previous_hash: {e}")))?;
    let data = obj
        .get("workflow_data")
        .ok_or_else(|| bad("workflow_data: missing".into()))?;
    Ok(Link {
        version,
        workflow_id: None,
        author,
        signature,
        previous,
        hash: RecordHash::of(bytes),
        signed: signed_text(data).into_bytes(),
        checked: None,
    })
}

/// `v{N}_{anything}.json` files, sorted by N; other files are ignored, a repeated N refused.
fn version_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(rest) = name.strip_prefix('v').filter(|_| name.ends_with(".json")) else {
            continue;
        };
        let Some((n, _)) = rest.split_once('_') else {
            continue;
        };
        if let Ok(n) = n.parse::<u32>() {
            files.push((n, path));
        }
    }
    files.sort();
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::file(
            &w[1].1,
            format!("a second file for version {}", w[1].0),
        ));
    }
    if files.is_empty() {
        return Err(Error::file(dir, "no v{N}_{timestamp}.json version files"));
    }
    Ok(files)
}
