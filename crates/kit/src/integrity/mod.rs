//! The boot integrity check every binary runs (DESIGN §1 promise 4, §5), and its re-checks.
//!
//! [`boot`] verifies the manifest's signature against the pinned key, then hashes the running
//! executable and every listed file. `strict` refuses to start with one line naming the file;
//! `warn` logs each file and starts degraded; `off` checks nothing. [`spawn_recheck`] repeats
//! the check every `integrity.recheck_interval_secs`: a drift after boot exports
//! `flowork_integrity_drifted_files`, and flips every service's health to NOT_SERVING
//! ([`crate::server::Grpc::set_serving`] watches [`subscribe`]). The state is per process: one
//! executable, one manifest.

mod settings;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use flowork_manifest::{Drift, DriftKind, Manifest, ManifestError, PublicKey};
use tokio::sync::watch;

pub use settings::{IntegrityConfig, IntegrityMode, PINNED_PUBLIC_KEY};

use crate::error::KitError;

/// What the last check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Mode `off`: nothing was checked.
    Off,
    /// Every listed file (and the executable) matched.
    Clean { checked: usize },
    /// These files differ.
    Drift { checked: usize, drift: Vec<Drift> },
    /// The manifest itself is missing, unreadable, or not signed by the pinned key.
    Untrusted(String),
}

/// The last check, as health and the integrity service report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub mode: IntegrityMode,
    /// The manifest checked against (unset in mode `off`).
    pub manifest: Option<PathBuf>,
    pub checked_at: Option<SystemTime>,
    pub outcome: Outcome,
}

impl Snapshot {
    /// Whether health should say NOT_SERVING: something drifted or the manifest is untrusted.
    pub fn is_degraded(&self) -> bool {
        matches!(self.outcome, Outcome::Drift { .. } | Outcome::Untrusted(_))
    }

    /// One line for logs and health details.
    pub fn summary(&self) -> String {
        match &self.outcome {
            Outcome::Off => "integrity checks off".to_owned(),
            Outcome::Clean { checked } => format!("{checked} files verified"),
            Outcome::Drift { drift, .. } => (drift.iter())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Outcome::Untrusted(why) => why.clone(),
        }
    }

    fn off() -> Self {
        Self {
            mode: IntegrityMode::Off,
            manifest: None,
            checked_at: None,
            outcome: Outcome::Off,
        }
    }
}

/// What a check needs: the manifest, the key, the executable.
#[derive(Debug, Clone)]
pub struct Checker {
    pub mode: IntegrityMode,
    pub manifest: PathBuf,
    pub key: PublicKey,
    pub executable: PathBuf,
    pub recheck: Option<Duration>,
}

impl Checker {
    /// The checker `cfg` asks for, checking `executable`; `None` in mode `off`.
    pub fn new(cfg: &IntegrityConfig, executable: PathBuf) -> Result<Option<Self>, KitError> {
        if cfg.mode == IntegrityMode::Off {
            return Ok(None);
        }
        let key = cfg.public_key()?.ok_or_else(|| {
            KitError::Config("integrity.public_key is required unless integrity.mode = off".into())
        })?;
        if let (Some(_), Some(pinned)) = (&cfg.public_key, PINNED_PUBLIC_KEY)
            && !pinned.eq_ignore_ascii_case(&key.to_string())
        {
            tracing::warn!("integrity.public_key overrides the key this build pins");
        }
        Ok(Some(Self {
            mode: cfg.mode,
            manifest: cfg.manifest_path()?,
            key,
            executable,
            recheck: (cfg.recheck_interval_secs > 0)
                .then(|| Duration::from_secs(cfg.recheck_interval_secs)),
        }))
    }

    /// Runs the check (blocking: it hashes every file).
    pub fn run(&self) -> Snapshot {
        Snapshot {
            mode: self.mode,
            manifest: Some(self.manifest.clone()),
            checked_at: Some(SystemTime::now()),
            outcome: self.outcome(),
        }
    }

    fn outcome(&self) -> Outcome {
        let shown = self.manifest.display();
        let manifest = match Manifest::load(&self.manifest) {
            Ok(m) => m,
            // The I/O error already names the path.
            Err(ManifestError::Io { source, .. }) => {
                return Outcome::Untrusted(format!("manifest {shown}: {source}"));
            }
            Err(e) => return Outcome::Untrusted(format!("manifest {shown}: {e}")),
        };
        if let Err(e) = manifest.verify_signature(&self.key) {
            return Outcome::Untrusted(format!("manifest {shown}: {e}"));
        }
        let root = root_of(&self.manifest);
        let report = manifest.check(&root, None);
        let mut drift = report.drift;
        if !manifest.covers(&root, &self.executable) {
            let exe = self.executable.display().to_string();
            drift.insert(0, Drift::new(exe, DriftKind::NotInManifest));
        }
        if drift.is_empty() {
            Outcome::Clean {
                checked: report.checked,
            }
        } else {
            Outcome::Drift {
                checked: report.checked,
                drift,
            }
        }
    }
}

/// The directory a manifest's paths are relative to: the one it is in.
pub fn root_of(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

struct Global {
    checker: Option<Checker>,
    state: watch::Sender<Snapshot>,
}

static GLOBAL: OnceLock<Global> = OnceLock::new();
static RECHECK_SPAWNED: AtomicBool = AtomicBool::new(false);

/// The boot check of this process's executable. Blocking; call it before serving. `Err` in
/// strict mode names every file at fault; warn mode logs them and returns `Ok`. A second call
/// in one process (tests, `flowork up`) reports the first one's outcome.
pub fn boot(cfg: &IntegrityConfig) -> Result<Snapshot, KitError> {
    if let Some(g) = GLOBAL.get() {
        return verdict(g.state.borrow().clone());
    }
    let checker = match cfg.mode {
        IntegrityMode::Off => None,
        _ => {
            let exe = std::env::current_exe().map_err(|e| KitError::Integrity {
                detail: format!("cannot locate the executable: {e}"),
            })?;
            Checker::new(cfg, exe)?
        }
    };
    let snapshot = checker.as_ref().map_or_else(Snapshot::off, Checker::run);
    publish_metrics(&snapshot);
    let global = GLOBAL.get_or_init(|| Global {
        checker,
        state: watch::Sender::new(snapshot),
    });
    let snapshot = global.state.borrow().clone();
    // A strict refusal is reported once, by the caller's error line.
    if !(snapshot.mode == IntegrityMode::Strict && snapshot.is_degraded()) {
        log(&snapshot);
    }
    verdict(snapshot)
}

fn verdict(s: Snapshot) -> Result<Snapshot, KitError> {
    if s.mode == IntegrityMode::Strict && s.is_degraded() {
        return Err(KitError::Integrity {
            detail: format!(
                "{}; refusing to start (integrity.mode = strict)",
                s.summary()
            ),
        });
    }
    Ok(s)
}

fn log(s: &Snapshot) {
    match &s.outcome {
        Outcome::Off => tracing::debug!("integrity checks off (integrity.mode = off)"),
        Outcome::Clean { checked } => tracing::info!(files = checked, "integrity verified"),
        Outcome::Drift { drift, .. } => {
            for d in drift {
                tracing::warn!(file = %d.path, problem = %d.kind, "integrity: {d}");
            }
        }
        Outcome::Untrusted(why) => tracing::warn!("integrity: {why}"),
    }
}

/// The current state (mode `off` before [`boot`]).
pub fn snapshot() -> Snapshot {
    GLOBAL
        .get()
        .map_or_else(Snapshot::off, |g| g.state.borrow().clone())
}

/// Changes of the state, once [`boot`] ran in a mode that checks.
pub fn subscribe() -> Option<watch::Receiver<Snapshot>> {
    let g = GLOBAL.get()?;
    g.checker.as_ref()?;
    Some(g.state.subscribe())
}

/// Re-checks now (on a blocking thread) and publishes the result.
pub async fn recheck() -> Snapshot {
    let Some(g) = GLOBAL.get() else {
        return Snapshot::off();
    };
    let Some(checker) = g.checker.clone() else {
        return g.state.borrow().clone();
    };
    let snapshot = match tokio::task::spawn_blocking(move || checker.run()).await {
        Ok(s) => s,
        Err(e) => return fail_snapshot(g, e.to_string()),
    };
    let was_degraded = g.state.borrow().is_degraded();
    if snapshot.is_degraded() && !was_degraded {
        log(&snapshot);
    } else if !snapshot.is_degraded() && was_degraded {
        tracing::info!("integrity: every file matches its manifest again");
    }
    publish_metrics(&snapshot);
    g.state.send_replace(snapshot.clone());
    snapshot
}

/// A check that could not finish (its thread panicked) counts as untrusted.
fn fail_snapshot(g: &Global, why: String) -> Snapshot {
    let mut s = g.state.borrow().clone();
    s.checked_at = Some(SystemTime::now());
    s.outcome = Outcome::Untrusted(format!("the check did not finish: {why}"));
    tracing::warn!("integrity: {}", s.summary());
    publish_metrics(&s);
    g.state.send_replace(s.clone());
    s
}

/// Starts the periodic re-check on the current runtime, once per process (no-op in mode `off`
/// or with `recheck_interval_secs = 0`).
pub fn spawn_recheck() {
    let Some(every) = GLOBAL
        .get()
        .and_then(|g| g.checker.as_ref())
        .and_then(|c| c.recheck)
    else {
        return;
    };
    if RECHECK_SPAWNED.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; boot just checked
        loop {
            tick.tick().await;
            recheck().await;
        }
    });
}

/// `flowork_integrity_ok` (1/0), `flowork_integrity_drifted_files`, `..._checks_total{result}`
/// and `..._last_check_timestamp_seconds`.
fn publish_metrics(s: &Snapshot) {
    crate::telemetry::prometheus();
    let (result, drifted) = match &s.outcome {
        Outcome::Off => return,
        Outcome::Clean { .. } => ("ok", 0),
        Outcome::Drift { drift, .. } => ("drift", drift.len()),
        Outcome::Untrusted(_) => ("untrusted", 0),
    };
    metrics::gauge!("flowork_integrity_ok").set(if s.is_degraded() { 0.0 } else { 1.0 });
    metrics::gauge!("flowork_integrity_drifted_files").set(drifted as f64);
    metrics::counter!("flowork_integrity_checks_total", "result" => result).increment(1);
    if let Some(at) = s
        .checked_at
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
    {
        metrics::gauge!("flowork_integrity_last_check_timestamp_seconds").set(at.as_secs_f64());
    }
}

#[cfg(test)]
mod tests;
