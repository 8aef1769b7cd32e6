//! `flowork integrity keygen|build|verify`: make a signing key, sign a release's files into an
//! `integrity.json`, and check files against one (DESIGN §5).
//!
//! Exit codes: 0 all good; 1 verification failed (a file drifted, or the manifest is not signed
//! by the expected key), each problem on its own stderr line; 2 usage (bad flags, unreadable
//! key or manifest).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Subcommand;
use flowork_kit::entry::ConfigArgs;
use flowork_manifest::{Manifest, ManifestError, PublicKey, SecretKey};
use serde_json::json;

/// `flowork integrity ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an Ed25519 signing key (file mode 0600) and print its public key.
    ///
    /// Pin the public key in release builds (FLOWORK_INTEGRITY_PUBKEY=<hex> cargo build) or set
    /// integrity.public_key. Keep the key file off the machines that run Flowork.
    Keygen {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(
            long,
            short = 'o',
            value_name = "FILE",
            default_value = "integrity.key"
        )]
        out: PathBuf,
    },
    /// Hash files and directories under a root and sign them into a manifest.
    ///
    /// Paths in the manifest are relative to --root, sorted. Directories are walked; symbolic
    /// links and special files are refused, as is anything outside the root.
    Build {
        /// The signing key (from `flowork integrity keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The directory manifest paths are relative to (the manifest's own directory, for the
        /// boot check) [default: .]
        #[arg(long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Where to write the manifest [default: <root>/integrity.json]
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// Files and directories to cover, relative to --root [default: the whole root]
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Check files against a manifest: its signature, then every listed file.
    Verify {
        /// The manifest [default: <root>/integrity.json with --root, else what the boot check
        /// uses: integrity.manifest, or integrity.json next to this executable]
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// The expected signer (64 hex) [default: integrity.public_key, or the pinned key]
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Where the listed files are [default: the manifest's directory]
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

/// Runs one `flowork integrity` command.
pub fn main(args: &ConfigArgs, command: Command) -> ExitCode {
    match command {
        Command::Keygen { out } => keygen(&out),
        Command::Build {
            key,
            root,
            out,
            paths,
        } => build(&key, &root, out, paths),
        Command::Verify {
            manifest,
            public_key,
            root,
        } => verify(args, manifest, public_key, root),
    }
}

pub(crate) fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

pub(crate) fn keygen(out: &Path) -> ExitCode {
    if out.exists() {
        return usage(format!(
            "{}: already exists; refusing to overwrite a signing key",
            out.display()
        ));
    }
    let key = SecretKey::generate();
    if let Err(e) = flowork_kit::private_file::create_new(out, key.to_file_text().as_bytes()) {
        return usage(format!("{}: {e}", out.display()));
    }
    // Another keygen may have won a race for the file; report the key that is in it.
    match read_key(out) {
        Ok(k) if k.public() == key.public() => {}
        Ok(_) => {
            return usage(format!(
                "{}: created concurrently by another process",
                out.display()
            ));
        }
        Err(code) => return code,
    }
    eprintln!("wrote the signing key to {} (mode 0600)", out.display());
    println!("{}", key.public());
    ExitCode::SUCCESS
}

pub(crate) fn read_key(path: &Path) -> Result<SecretKey, ExitCode> {
    let shown = path.display();
    match flowork_kit::private_file::read(path) {
        Ok(Some(text)) => SecretKey::from_hex(&text).map_err(|e| usage(format!("{shown}: {e}"))),
        Ok(None) => Err(usage(format!("{shown}: no such key file"))),
        Err(e) => Err(usage(format!("{shown}: {e}"))),
    }
}

fn build(key: &Path, root: &Path, out: Option<PathBuf>, mut paths: Vec<PathBuf>) -> ExitCode {
    let key = match read_key(key) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let out = out.unwrap_or_else(|| root.join(flowork_manifest::FILE_NAME));
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let files = match flowork_manifest::collect(root, &paths, Some(&out)) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let total = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::new(total);
    let digests = Manifest::hash(&files, Some(&|n| progress.add(n)));
    progress.finish();
    let manifest = match digests.and_then(|d| Manifest::sign(d, &key)) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    if let Err(e) = manifest
        .to_json()
        .and_then(|text| write_atomic(&out, &text))
    {
        return usage(e);
    }
    println!(
        "signed {} files ({}) into {} with key {}",
        manifest.files.len(),
        mib(total),
        out.display(),
        key.public()
    );
    ExitCode::SUCCESS
}

pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), ManifestError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|source| ManifestError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn verify(
    args: &ConfigArgs,
    manifest: Option<PathBuf>,
    public_key: Option<String>,
    root: Option<PathBuf>,
) -> ExitCode {
    let cfg = match args.load(json!({})) {
        Ok(cfg) => cfg,
        Err(e) => return flowork_kit::entry::fail(&e, 2),
    };
    let path = match (manifest, &root) {
        (Some(m), _) => m,
        (None, Some(r)) => r.join(flowork_manifest::FILE_NAME),
        (None, None) => match cfg.integrity.manifest_path() {
            Ok(p) => p,
            Err(e) => return usage(e),
        },
    };
    let key = match public_key {
        Some(hex) => PublicKey::parse_hex(&hex, "--public-key").map_err(usage),
        None => match cfg.integrity.public_key() {
            Ok(Some(k)) => Ok(k),
            Ok(None) => Err(usage(
                "no public key: pass --public-key HEX (or set integrity.public_key)",
            )),
            Err(e) => Err(usage(e)),
        },
    };
    let key = match key {
        Ok(k) => k,
        Err(code) => return code,
    };
    let shown = path.display();
    let m = match Manifest::load(&path) {
        Ok(m) => m,
        Err(ManifestError::Io { source, .. }) => {
            return usage(format!("manifest {shown}: {source}"));
        }
        Err(e) => return usage(format!("manifest {shown}: {e}")),
    };
    if let Err(e) = m.verify_signature(&key) {
        eprintln!("error: manifest {shown}: {e}");
        return ExitCode::FAILURE;
    }
    let root = root.unwrap_or_else(|| flowork_kit::integrity::root_of(&path));
    let total = m
        .files
        .keys()
        .filter_map(|r| std::fs::metadata(r.under(&root)).ok())
        .map(|md| md.len())
        .sum();
    let progress = Progress::new(total);
    let report = m.check(&root, Some(&|n| progress.add(n)));
    progress.finish();
    if report.is_ok() {
        println!(
            "ok: {} files match {shown} (signed by {key})",
            report.checked
        );
        return ExitCode::SUCCESS;
    }
    for d in &report.drift {
        eprintln!("drift: {d}");
    }
    eprintln!(
        "error: {} of {} files differ from {shown}",
        report.drift.len(),
        report.checked
    );
    ExitCode::FAILURE
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// A one-line progress meter on stderr, shown only on a terminal and for more than a blink.
struct Progress {
    total: u64,
    done: AtomicU64,
    started: Instant,
    last: Mutex<Instant>,
    on: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Self {
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            last: Mutex::new(Instant::now()),
            on: std::io::stderr().is_terminal(),
        }
    }

    fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if !self.on || self.started.elapsed() < Duration::from_millis(300) {
            return;
        }
        // Whichever hashing thread gets the lock redraws; the others carry on.
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.elapsed() < Duration::from_millis(100) {
            return;
        }
        *last = Instant::now();
        let pct = (done * 100).checked_div(self.total).unwrap_or(100);
        let _ = write!(
            std::io::stderr(),
            "\rhashing: {} of {} ({pct}%)   ",
            mib(done),
            mib(self.total)
        );
    }

    fn finish(&self) {
        if self.on && self.started.elapsed() >= Duration::from_millis(300) {
            let _ = write!(std::io::stderr(), "\r{:60}\r", "");
        }
    }
}
