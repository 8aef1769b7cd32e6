//! The export directory as one tar archive (POSIX ustar): what the engine's export endpoint sends,
//! so `curl … | tar x` or [`unpack_tar`] gives exactly the files of [`crate::export_dir`].
//!
//! Only what a chain needs: regular files named `NNNNNN.json` at the archive root, mode 0644,
//! mtime 0 (the same chain always gives the same bytes). Anything else is refused on unpack, so
//! an archive can never write outside the directory.

use std::fs;
use std::path::Path;

use crate::dir::{file_name, prepare_empty, version_of};
use crate::{Error, VersionRecord};

const BLOCK: usize = 512;
/// The largest file unpacked: far above any workflow, small enough that a hostile size field
/// cannot make us allocate much.
const MAX_FILE: usize = 64 << 20;

/// The tar archive of `records`' canonical files.
pub fn export_tar(records: &[VersionRecord]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for r in records {
        let bytes = r.canonical_bytes()?;
        out.extend_from_slice(&header(&file_name(r.version), bytes.len()));
        out.extend_from_slice(&bytes);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    // End of archive: two zero blocks.
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

fn header(name: &str, size: usize) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let sum = checksum(&h);
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// The header checksum: the byte sum with the checksum field read as spaces.
fn checksum(h: &[u8]) -> u32 {
    h.iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum()
}

fn octal(field: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    usize::from_str_radix(digits, 8).ok()
}

/// Writes the files of a chain archive into `dir` (created if missing; refused if it already
/// holds version files), bytes exactly as archived, so `verify_dir` judges what was sent.
/// Returns how many files were written.
pub fn unpack_tar(archive: &[u8], dir: &Path) -> Result<usize, Error> {
    let bad = |why: String| Error::invalid("chain archive", why);
    prepare_empty(dir)?;
    let (mut at, mut count) = (0usize, 0usize);
    while at + BLOCK <= archive.len() {
        let h = &archive[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            return Ok(count);
        }
        let stored = octal(&h[148..156])
            .ok_or_else(|| bad(format!("header at {at}: bad checksum field")))?;
        if stored != checksum(h) as usize {
            return Err(bad(format!("header at {at}: checksum mismatch")));
        }
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = std::str::from_utf8(&h[..name_end]).unwrap_or("");
        if !matches!(h[156], b'0' | 0) || version_of(name).is_none() || h[345] != 0 {
            return Err(bad(format!(
                "entry {name:?}: only NNNNNN.json files at the archive root belong in a chain"
            )));
        }
        let size = octal(&h[124..136])
            .filter(|&s| s <= MAX_FILE)
            .ok_or_else(|| bad(format!("entry {name:?}: bad size")))?;
        let start = at + BLOCK;
        let data = archive
            .get(start..start + size)
            .ok_or_else(|| bad(format!("entry {name:?}: truncated")))?;
        let path = dir.join(name);
        if path.exists() {
            return Err(bad(format!("entry {name:?} appears twice")));
        }
        fs::write(&path, data).map_err(|e| Error::io(&path, e))?;
        count += 1;
        at = start + size.next_multiple_of(BLOCK);
    }
    Err(bad("truncated: no end-of-archive marker".into()))
}
