//! Streaming SHA-256 of files, several files at once on a few threads.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Bytes read per call; large enough that syscalls cost nothing next to hashing.
const CHUNK: usize = 256 * 1024;
/// More threads than this only contend for the disk.
const MAX_THREADS: usize = 8;

/// Told how many bytes were just hashed; called from several threads at once.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Parses 64 hex digits (either case).
    pub fn parse_hex(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| format!("{s:?} is not a SHA-256 digest (64 hex digits)"))?;
        Ok(Self(out))
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Streams one file through SHA-256.
pub fn hash_file(path: &Path, progress: Option<Progress<'_>>) -> io::Result<Digest> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(p) = progress {
            p(n as u64);
        }
    }
    Ok(Digest(hasher.finalize().into()))
}

/// Hashes every path, a few files at a time; results come back in the order of `paths`.
pub fn hash_files(paths: &[PathBuf], progress: Option<Progress<'_>>) -> Vec<io::Result<Digest>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(paths.len());
    if threads <= 1 {
        return paths.iter().map(|p| hash_file(p, progress)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<io::Result<Digest>>>> =
        Mutex::new((0..paths.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let r = hash_file(path, progress);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    let all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("not hashed (a worker panicked)"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_and_parallel_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut paths = Vec::new();
        for i in 0..9 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, "abc".repeat(i * 100_000)).expect("write");
            paths.push(p);
        }
        paths.push(dir.path().join("missing"));
        let total = AtomicUsize::new(0);
        let count = |n: u64| {
            total.fetch_add(n as usize, Ordering::Relaxed);
        };
        let got = hash_files(&paths, Some(&count));
        assert_eq!(
            got[0].as_ref().expect("empty").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (i, r) in got.iter().enumerate().take(9) {
            let want = Digest::of("abc".repeat(i * 100_000).as_bytes());
            assert_eq!(r.as_ref().expect("hashed"), &want);
        }
        assert!(got[9].is_err());
        assert_eq!(
            total.into_inner(),
            (0..9).map(|i| i * 300_000).sum::<usize>()
        );
    }

    #[test]
    fn digests_parse_either_case_and_print_lowercase() {
        let d = Digest::parse_hex(&"AB".repeat(32)).expect("hex");
        assert_eq!(d.to_string(), "ab".repeat(32));
        assert!(Digest::parse_hex("abc").is_err());
    }
}
