//! The export directory: `000001.json`, `000002.json`, …, each file exactly the record's
//! canonical bytes. Blocking I/O: call through `spawn_blocking` from async code.

use std::fs;
use std::path::{Path, PathBuf};

use crate::verify::ChainVerifier;
use crate::{ChainReport, Error, Problem, RecordHash, VersionRecord};

/// The file name of a version: six digits, zero-padded.
pub fn file_name(version: u32) -> String {
    format!("{version:06}.json")
}

/// Writes `records` into `dir` (created if missing), one canonical file per version.
/// Refuses a directory that already holds version files, so two chains never mix.
pub fn export_dir(dir: &Path, records: &[VersionRecord]) -> Result<(), Error> {
    prepare_empty(dir)?;
    for r in records {
        let path = dir.join(file_name(r.version));
        fs::write(&path, r.canonical_bytes()?).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Creates `dir` if missing and refuses one that already holds version files.
pub(crate) fn prepare_empty(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if let Some((_, path)) = version_files(dir)?.first() {
        return Err(Error::file(
            path,
            "the export directory already holds a chain",
        ));
    }
    Ok(())
}

/// The version number a file name such as `000001.json` stands for.
pub(crate) fn version_of(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".json")?;
    match stem.parse::<u32>() {
        Ok(n) if stem.len() == 6 && stem.bytes().all(|b| b.is_ascii_digit()) && n > 0 => Some(n),
        _ => None,
    }
}

/// Reads a chain back, refusing (and naming) the first file that is not a canonical record, a
/// gap in the numbering, or a file whose number is not its record's version. It does not check
/// links or signatures: see [`verify_dir`].
pub fn import_dir(dir: &Path) -> Result<Vec<VersionRecord>, Error> {
    let mut records = Vec::new();
    for (i, (number, path)) in version_files(dir)?.into_iter().enumerate() {
        let expected = i as u32 + 1;
        if number != expected {
            let missing = dir.join(file_name(expected));
            return Err(Error::file(missing, "missing: the versions have a gap"));
        }
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let record = VersionRecord::from_canonical_bytes(&bytes)
            .map_err(|p| Error::file(&path, p.to_string()))?;
        if record.version != number {
            return Err(Error::file(
                &path,
                format!("holds version {}", record.version),
            ));
        }
        records.push(record);
    }
    Ok(records)
}

/// Verifies an export directory. Unreadable or non-canonical files are problems in the report
/// (naming their version); only a directory that cannot be listed or read is an error.
pub fn verify_dir(dir: &Path) -> Result<ChainReport, Error> {
    let mut v = ChainVerifier::new();
    for (number, path) in version_files(dir)? {
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let link = VersionRecord::decode(&bytes).and_then(|(r, signed)| {
            if r.version != number {
                return Err(Problem::Malformed(format!(
                    "{} holds version {}",
                    file_name(number),
                    r.version
                )));
            }
            // The bytes are canonical, so hashing them is hashing the record.
            Ok(r.link_with(signed, RecordHash::of(&bytes)))
        });
        v.push_numbered(number, link);
    }
    Ok(v.finish())
}

/// The `NNNNNN.json` files of `dir`, sorted by number. Other names are refused when they look
/// like a version file (`*.json`), ignored otherwise.
fn version_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".json") {
            continue;
        }
        match version_of(name) {
            Some(n) => files.push((n, path)),
            _ if name.starts_with('v') && name.contains('_') => {
                return Err(Error::file(
                    &path,
                    "a Python Flowork version file: verify with --format flowork-py",
                ));
            }
            _ => {
                return Err(Error::file(
                    &path,
                    "not a version file name (expected NNNNNN.json)",
                ));
            }
        }
    }
    files.sort();
    Ok(files)
}
