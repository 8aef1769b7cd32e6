//! `flowork license keygen|issue|inspect|verify`: make the vendor signing key, sign a license
//! file, show what one says, and check one the way the services do at start.
//!
//! Exit codes as for `flowork integrity`: 0 good; 1 the license does not verify (one line
//! saying why: expired, another key, edited, unknown capability); 2 usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use flowork_access::{AccessError, Capability, License, LicenseSpec, Tier};
use flowork_kit::entry::ConfigArgs;
use flowork_manifest::PublicKey;
use flowork_model::Timestamp;
use serde_json::json;

use crate::integrity::{keygen, read_key, usage, write_atomic};

/// `flowork license ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an Ed25519 signing key for license files (mode 0600) and print its public key.
    ///
    /// Pin the public key in builds (FLOWORK_LICENSE_PUBKEY=<hex> cargo build) or set
    /// license.public_key. Keep the key file away from the machines that run Flowork.
    Keygen {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long, short = 'o', value_name = "FILE", default_value = "license.key")]
        out: PathBuf,
    },
    /// Sign a license file.
    Issue {
        /// The signing key (from `flowork license keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Who the license is for.
        #[arg(long)]
        licensee: String,
        /// free, basic, pro, architect or enterprise.
        #[arg(long)]
        tier: String,
        /// A capability to grant (repeatable) [default: the tier's]
        #[arg(long = "capability", value_name = "NAME")]
        capabilities: Vec<String>,
        /// How many user accounts the gateway may hold [default: no limit]
        #[arg(long)]
        seats: Option<u32>,
        /// Lifetime: a number with s, m, h or d (e.g. 365d) [default: never expires]
        #[arg(long)]
        ttl: Option<String>,
        /// Where to write it.
        #[arg(long, short = 'o', value_name = "FILE", default_value = "license.json")]
        out: PathBuf,
    },
    /// Print what a license file says, and whether it verifies.
    Inspect {
        file: PathBuf,
        /// The expected signer (64 hex) [default: license.public_key, or the pinned key]
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Verify a license file as the services do at start.
    Verify {
        /// The license [default: license.file]
        file: Option<PathBuf>,
        /// The expected signer (64 hex) [default: license.public_key, or the pinned key]
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

/// Runs one `flowork license` command.
pub fn main(args: &ConfigArgs, command: Command) -> ExitCode {
    match command {
        Command::Keygen { out } => keygen(&out),
        Command::Issue {
            key,
            licensee,
            tier,
            capabilities,
            seats,
            ttl,
            out,
        } => match issue(&key, licensee, &tier, &capabilities, seats, ttl, &out) {
            Ok(code) | Err(code) => code,
        },
        Command::Inspect { file, public_key } => inspect(args, &file, public_key),
        Command::Verify { file, public_key } => verify(args, file, public_key),
    }
}

fn issue(
    key: &Path,
    licensee: String,
    tier: &str,
    capabilities: &[String],
    seats: Option<u32>,
    ttl: Option<String>,
    out: &Path,
) -> Result<ExitCode, ExitCode> {
    let key = read_key(key)?;
    let tier: Tier = tier.parse().map_err(|e| usage(format!("--tier: {e}")))?;
    let caps = capabilities
        .iter()
        .map(|c| c.parse::<Capability>())
        .collect::<Result<_, _>>()
        .map_err(|e| usage(format!("--capability: {e}")))?;
    if seats == Some(0) {
        return Err(usage("--seats must be at least 1"));
    }
    if licensee.trim().is_empty() {
        return Err(usage("--licensee must not be empty"));
    }
    let now = Timestamp::now();
    let expires_at = match ttl {
        Some(t) => Some(now.after(crate::fac::parse_ttl(&t).map_err(usage)?)),
        None => None,
    };
    let spec = LicenseSpec {
        licensee,
        tier,
        capabilities: (!capabilities.is_empty()).then_some(caps),
        seats,
        issued_at: now,
        expires_at,
    };
    let text = spec.sign(&key).map_err(usage)?;
    write_atomic(out, &text).map_err(usage)?;
    println!(
        "signed a {} license for {:?} into {} with key {}",
        tier,
        spec.licensee,
        out.display(),
        key.public()
    );
    Ok(ExitCode::SUCCESS)
}

/// The key to check against: `--public-key`, else `license.public_key` or the pinned one.
fn expected_key(args: &ConfigArgs, flag: Option<String>) -> Result<Option<PublicKey>, ExitCode> {
    if let Some(hex) = flag {
        return PublicKey::parse_hex(&hex, "--public-key")
            .map(Some)
            .map_err(usage);
    }
    let cfg = args
        .load(json!({}))
        .map_err(|e| flowork_kit::entry::fail(&e, 2))?;
    flowork_access::license_key(&cfg.license).map_err(usage)
}

fn read(file: &Path) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(file).map_err(|e| usage(format!("{}: {e}", file.display())))
}

fn inspect(args: &ConfigArgs, file: &Path, public_key: Option<String>) -> ExitCode {
    let run = || -> Result<ExitCode, ExitCode> {
        let bytes = read(file)?;
        let l = License::inspect(&bytes).map_err(|e| usage(format!("{}: {e}", file.display())))?;
        let shown = json!({
            "licensee": l.licensee,
            "tier": l.tier,
            "capabilities": l.capabilities,
            "seats": l.seats,
            "issued_at": l.issued_at.to_rfc3339(),
            "expires_at": l.expires_at.map(Timestamp::to_rfc3339),
            "public_key": l.signed_by.map(|k| k.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&shown).map_err(usage)?);
        Ok(match expected_key(args, public_key)? {
            None => {
                println!("verified: unknown (no key: pass --public-key or set license.public_key)");
                ExitCode::FAILURE
            }
            Some(key) => match License::verify(&bytes, &key, Timestamp::now()) {
                Ok(_) => {
                    println!("verified: yes");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("verified: no ({e})");
                    ExitCode::FAILURE
                }
            },
        })
    };
    run().unwrap_or_else(|code| code)
}

fn verify(args: &ConfigArgs, file: Option<PathBuf>, public_key: Option<String>) -> ExitCode {
    let run = || -> Result<ExitCode, ExitCode> {
        let file = match file {
            Some(f) => f,
            None => {
                let cfg = args
                    .load(json!({}))
                    .map_err(|e| flowork_kit::entry::fail(&e, 2))?;
                cfg.license
                    .file
                    .ok_or_else(|| usage("no license file: pass FILE (or set license.file)"))?
            }
        };
        let key = expected_key(args, public_key)?.ok_or_else(|| usage(AccessError::NoKey))?;
        let bytes = read(&file)?;
        match License::verify(&bytes, &key, Timestamp::now()) {
            Ok(l) => {
                let expires = l
                    .expires_at
                    .map_or_else(|| "never".to_owned(), Timestamp::to_rfc3339);
                let seats = l
                    .seats
                    .map_or_else(|| "unlimited".to_owned(), |s| s.to_string());
                println!(
                    "ok: {} is a {} license for {:?}: {} capabilities, seats {seats}, expires {expires} (signed by {key})",
                    file.display(),
                    l.tier,
                    l.licensee,
                    l.capabilities.len(),
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: license {}: {e}", file.display());
                Ok(ExitCode::FAILURE)
            }
        }
    };
    run().unwrap_or_else(|code| code)
}
