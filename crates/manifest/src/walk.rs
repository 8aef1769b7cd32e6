//! Which files a manifest covers: the regular files named, and every regular file under the
//! directories named. Symbolic links are refused rather than followed: a link's target can
//! change without the link changing, and a link can point outside the root.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::ManifestError;
use crate::path::RelPath;

/// The files under `root` that `inputs` name (relative inputs are taken from `root`), sorted
/// and without duplicates, each with its path on disk. `exclude` (the manifest being written)
/// is left out. Refuses symlinks, special files and anything outside `root`.
pub fn collect(
    root: &Path,
    inputs: &[PathBuf],
    exclude: Option<&Path>,
) -> Result<Vec<(RelPath, PathBuf)>, ManifestError> {
    let root = fs::canonicalize(root).map_err(ManifestError::io(root))?;
    let exclude = exclude.and_then(|e| absolute(e).ok());
    let mut found = BTreeMap::new();
    for input in inputs {
        let path = root.join(input);
        let meta = fs::symlink_metadata(&path).map_err(ManifestError::io(&path))?;
        if meta.file_type().is_symlink() {
            return Err(symlink(path));
        }
        let canon = fs::canonicalize(&path).map_err(ManifestError::io(&path))?;
        let Ok(rel) = canon.strip_prefix(&root) else {
            return Err(ManifestError::Refused {
                path,
                reason: "outside the root (--root)",
            });
        };
        if rel.as_os_str().is_empty() {
            walk(&root, &root, exclude.as_deref(), &mut found)?;
        } else if meta.is_dir() {
            walk(&root, &canon, exclude.as_deref(), &mut found)?;
        } else {
            add(&root, canon, &meta, exclude.as_deref(), &mut found)?;
        }
    }
    Ok(found.into_iter().collect())
}

fn walk(
    root: &Path,
    dir: &Path,
    exclude: Option<&Path>,
    found: &mut BTreeMap<RelPath, PathBuf>,
) -> Result<(), ManifestError> {
    let entries = fs::read_dir(dir).map_err(ManifestError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(ManifestError::io(dir))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(ManifestError::io(&path))?;
        if meta.file_type().is_symlink() {
            return Err(symlink(path));
        }
        if meta.is_dir() {
            walk(root, &path, exclude, found)?;
        } else {
            add(root, path, &meta, exclude, found)?;
        }
    }
    Ok(())
}

fn add(
    root: &Path,
    path: PathBuf,
    meta: &fs::Metadata,
    exclude: Option<&Path>,
    found: &mut BTreeMap<RelPath, PathBuf>,
) -> Result<(), ManifestError> {
    if exclude == Some(path.as_path()) {
        return Ok(());
    }
    if !meta.is_file() {
        return Err(ManifestError::Refused {
            path,
            reason: "not a regular file",
        });
    }
    let rel = path
        .strip_prefix(root)
        .map_err(|_| ManifestError::Refused {
            path: path.clone(),
            reason: "outside the root (--root)",
        })
        .and_then(RelPath::from_relative)?;
    found.insert(rel, path);
    Ok(())
}

fn symlink(path: PathBuf) -> ManifestError {
    ManifestError::Refused {
        path,
        reason: "is a symbolic link (refused: list the file it points to instead)",
    }
}

/// `path` with its directory resolved, whether or not the file exists yet.
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => fs::canonicalize(p)?,
        _ => std::env::current_dir()?,
    };
    Ok(parent.join(name))
}
