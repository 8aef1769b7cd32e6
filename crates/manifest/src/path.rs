//! Paths inside a manifest: relative to its root, `/`-separated, and unable to leave the root.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::error::ManifestError;

/// Longest path a manifest may hold (Linux's `PATH_MAX`).
const MAX_LEN: usize = 4096;

/// A path relative to a manifest's root: non-empty, `/`-separated, no `.` or `..` component, no
/// empty component, not absolute, no backslash or NUL. Parsing is the only way to get one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    /// Parses a path as written in a manifest.
    pub fn parse(s: &str) -> Result<Self, ManifestError> {
        let bad = |reason| ManifestError::InvalidPath {
            path: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_LEN {
            return Err(bad("longer than 4096 bytes"));
        }
        if s.starts_with('/') {
            return Err(bad("absolute; manifest paths are relative to its root"));
        }
        // A backslash is a separator on Windows and a filename byte on Unix: refuse the ambiguity.
        if s.contains('\\') || s.contains('\0') {
            return Err(bad("contains a backslash or NUL"));
        }
        for part in s.split('/') {
            match part {
                "" => return Err(bad("has an empty component (// or a trailing /)")),
                "." | ".." => return Err(bad("has a . or .. component")),
                _ => {}
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The manifest path of `rel`, a filesystem path relative to the root (UTF-8 names only).
    pub fn from_relative(rel: &Path) -> Result<Self, ManifestError> {
        let shown = rel.display().to_string();
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => match p.to_str() {
                    Some(p) => parts.push(p),
                    None => {
                        return Err(ManifestError::InvalidPath {
                            path: shown,
                            reason: "not valid UTF-8",
                        });
                    }
                },
                Component::CurDir => {}
                _ => {
                    return Err(ManifestError::InvalidPath {
                        path: shown,
                        reason: "not inside the root",
                    });
                }
            }
        }
        Self::parse(&parts.join("/"))
    }

    /// The path as written in the manifest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where this path is on disk under `root`.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(self.0.split('/'));
        p
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_parse() {
        for ok in [
            "a",
            "bin/flowork",
            "share/a b/c.txt",
            ".hidden",
            "a..b",
            "...",
        ] {
            assert_eq!(RelPath::parse(ok).expect(ok).as_str(), ok);
        }
    }

    #[test]
    fn paths_that_could_leave_the_root_are_refused() {
        for bad in [
            "",
            "../x",
            "a/../../x",
            "..",
            ".",
            "./a",
            "a/./b",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\..\\b",
            "C:\\x",
            "a\0b",
        ] {
            let e = RelPath::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn from_relative_joins_with_slashes_and_refuses_parent_dirs() {
        let p = RelPath::from_relative(Path::new("./bin/flowork")).expect("rel");
        assert_eq!(p.as_str(), "bin/flowork");
        assert_eq!(p.under(Path::new("/opt")), Path::new("/opt/bin/flowork"));
        assert!(RelPath::from_relative(Path::new("../x")).is_err());
        assert!(RelPath::from_relative(Path::new("/x")).is_err());
    }
}
