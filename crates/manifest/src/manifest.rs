//! The manifest document: parse, sign, verify the signature, and check files against it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ManifestError;
use crate::hash::{Digest, Progress, hash_files};
use crate::keys::{PublicKey, SecretKey};
use crate::path::RelPath;

/// The `version` this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;
/// The one `algorithm`.
pub const ALGORITHM: &str = "sha256";
/// A manifest larger than this is refused unread (a million files is ~100 MB).
const MAX_BYTES: u64 = 256 << 20;

/// A parsed, well-formed manifest. Whether it is *trusted* is [`Manifest::verify_signature`]'s call.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Every covered file and its SHA-256.
    pub files: BTreeMap<RelPath, Digest>,
    /// The key the manifest says signed it.
    pub public_key: PublicKey,
    signature: [u8; 64],
    /// The JCS bytes of the document without `signature`: what the signature covers.
    signed: Vec<u8>,
}

/// The document as written, field by field (order as in DESIGN §5).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    version: u64,
    algorithm: String,
    files: BTreeMap<String, String>,
    public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

impl Manifest {
    /// Parses a manifest document. The signature is read here but checked by
    /// [`Manifest::verify_signature`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let malformed = |e: &dyn fmt::Display| ManifestError::Malformed(e.to_string());
        let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| malformed(&"expected a JSON object"))?;
        let signature = match obj.remove("signature") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(malformed(&"signature: expected a hex string")),
            None => return Err(malformed(&"no signature field: the manifest is not signed")),
        };
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&signature, &mut sig).map_err(|_| ManifestError::InvalidKey {
            what: "signature",
            reason: "expected an Ed25519 signature as 128 hex digits".into(),
        })?;
        // Signed bytes from the document as parsed, so exactly what was signed is what is used.
        let signed = jcs(&doc)?;
        let raw: Doc = serde_json::from_value(doc).map_err(|e| malformed(&e))?;
        if raw.version != FORMAT_VERSION {
            return Err(malformed(&format!(
                "version {}: only version {FORMAT_VERSION} is supported",
                raw.version
            )));
        }
        if raw.algorithm != ALGORITHM {
            return Err(malformed(&format!(
                "algorithm {:?}: only {ALGORITHM:?} is supported",
                raw.algorithm
            )));
        }
        let mut files = BTreeMap::new();
        for (path, hex) in raw.files {
            let digest =
                Digest::parse_hex(&hex).map_err(|e| malformed(&format!("files[{path:?}]: {e}")))?;
            files.insert(RelPath::parse(&path)?, digest);
        }
        Ok(Self {
            files,
            public_key: PublicKey::parse_hex(&raw.public_key, "public_key")?,
            signature: sig,
            signed,
        })
    }

    /// Reads and parses the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let meta = fs::metadata(path).map_err(ManifestError::io(path))?;
        if meta.len() > MAX_BYTES {
            return Err(ManifestError::Malformed(format!(
                "{} is larger than {MAX_BYTES} bytes",
                path.display()
            )));
        }
        Self::parse(&fs::read(path).map_err(ManifestError::io(path))?)
    }

    /// Signs `files` with `key`.
    pub fn sign(files: BTreeMap<RelPath, Digest>, key: &SecretKey) -> Result<Self, ManifestError> {
        let public_key = key.public();
        let unsigned = json!({
            "version": FORMAT_VERSION,
            "algorithm": ALGORITHM,
            "files": files.iter().map(|(p, d)| (p.as_str(), d.to_string())).collect::<BTreeMap<_, _>>(),
            "public_key": public_key.to_string(),
        });
        let signed = jcs(&unsigned)?;
        Ok(Self {
            files,
            public_key,
            signature: key.sign(&signed),
            signed,
        })
    }

    /// Hashes `files` (as [`crate::collect`] returns them); the first unreadable one fails.
    pub fn hash(
        files: &[(RelPath, PathBuf)],
        progress: Option<Progress<'_>>,
    ) -> Result<BTreeMap<RelPath, Digest>, ManifestError> {
        let paths: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
        let mut out = BTreeMap::new();
        for ((rel, path), digest) in files.iter().zip(hash_files(&paths, progress)) {
            out.insert(rel.clone(), digest.map_err(ManifestError::io(path))?);
        }
        Ok(out)
    }

    /// A signed manifest of every file under `dir` but `dir/integrity.json` (a module's folder,
    /// say); check it later with [`Manifest::check`] and `dir` as the root.
    pub fn build_dir(dir: &Path, key: &SecretKey) -> Result<Self, ManifestError> {
        let own = dir.join(crate::FILE_NAME);
        let files = crate::collect(dir, &[PathBuf::from(".")], Some(&own))?;
        Self::sign(Self::hash(&files, None)?, key)
    }

    /// Trusts the manifest only if it names `pinned` and its signature verifies under it.
    pub fn verify_signature(&self, pinned: &PublicKey) -> Result<(), ManifestError> {
        if &self.public_key != pinned {
            return Err(ManifestError::WrongKey {
                found: self.public_key.to_string(),
                pinned: pinned.to_string(),
            });
        }
        if !pinned.verifies(&self.signed, &self.signature) {
            return Err(ManifestError::BadSignature);
        }
        Ok(())
    }

    /// The JCS bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// The document as pretty JSON (fields in DESIGN §5 order, files sorted), with a newline.
    pub fn to_json(&self) -> Result<String, ManifestError> {
        let doc = Doc {
            version: FORMAT_VERSION,
            algorithm: ALGORITHM.to_owned(),
            files: (self.files.iter())
                .map(|(p, d)| (p.as_str().to_owned(), d.to_string()))
                .collect(),
            public_key: self.public_key.to_string(),
            signature: Some(hex::encode(self.signature)),
        };
        let mut s = serde_json::to_string_pretty(&doc)
            .map_err(|e| ManifestError::Canonical(e.to_string()))?;
        s.push('\n');
        Ok(s)
    }

    /// Re-hashes every listed file under `root` and reports each one that differs.
    pub fn check(&self, root: &Path, progress: Option<Progress<'_>>) -> Report {
        let mut drift = Vec::new();
        let mut todo = Vec::new();
        for (rel, want) in &self.files {
            let path = rel.under(root);
            match fs::symlink_metadata(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    drift.push(Drift::new(rel.as_str(), DriftKind::Missing))
                }
                Err(e) => drift.push(Drift::new(
                    rel.as_str(),
                    DriftKind::Unreadable(e.to_string()),
                )),
                Ok(m) if !m.is_file() => {
                    drift.push(Drift::new(rel.as_str(), DriftKind::NotRegular))
                }
                Ok(_) => todo.push((rel, want, path)),
            }
        }
        let paths: Vec<PathBuf> = todo.iter().map(|(_, _, p)| p.clone()).collect();
        for ((rel, want, _), got) in todo.iter().zip(hash_files(&paths, progress)) {
            let kind = match got {
                Ok(d) if &d == *want => continue,
                Ok(_) => DriftKind::Changed,
                Err(e) if e.kind() == io::ErrorKind::NotFound => DriftKind::Missing,
                Err(e) => DriftKind::Unreadable(e.to_string()),
            };
            drift.push(Drift::new(rel.as_str(), kind));
        }
        drift.sort_by(|a, b| a.path.cmp(&b.path));
        Report {
            checked: self.files.len(),
            drift,
        }
    }

    /// Whether `file` (an executable, say) is one of the listed files under `root`.
    pub fn covers(&self, root: &Path, file: &Path) -> bool {
        let (Ok(root), Ok(file)) = (fs::canonicalize(root), fs::canonicalize(file)) else {
            return false;
        };
        file.strip_prefix(&root)
            .ok()
            .and_then(|rel| RelPath::from_relative(rel).ok())
            .is_some_and(|rel| self.files.contains_key(&rel))
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many listed files were checked.
    pub checked: usize,
    /// Every file that is not as listed, sorted by path.
    pub drift: Vec<Drift>,
}

impl Report {
    /// Whether every file matched.
    pub fn is_ok(&self) -> bool {
        self.drift.is_empty()
    }
}

/// One file that is not as the manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The manifest path (or, for a file the manifest should list, its path on disk).
    pub path: String,
    pub kind: DriftKind,
}

impl Drift {
    /// A drift of `path`.
    pub fn new(path: impl Into<String>, kind: DriftKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }
}

/// How a file differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftKind {
    /// Its SHA-256 is not the listed one.
    Changed,
    /// It is gone.
    Missing,
    /// It is now a directory, symlink or other non-regular file.
    NotRegular,
    /// It could not be read (permissions, I/O error).
    Unreadable(String),
    /// It should be listed and is not (a binary's own executable).
    NotInManifest,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            DriftKind::Changed => "changed (its SHA-256 differs from the manifest)",
            DriftKind::Missing => "missing",
            DriftKind::NotRegular => "not a regular file",
            DriftKind::Unreadable(e) => return write!(f, "{}: unreadable: {e}", self.path),
            DriftKind::NotInManifest => "not in the manifest",
        };
        write!(f, "{}: {what}", self.path)
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Changed => "changed",
            Self::Missing => "missing",
            Self::NotRegular => "not_regular",
            Self::Unreadable(_) => "unreadable",
            Self::NotInManifest => "not_in_manifest",
        })
    }
}

fn jcs(v: &Value) -> Result<Vec<u8>, ManifestError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| ManifestError::Canonical(e.to_string()))
}

#[cfg(test)]
mod tests;
