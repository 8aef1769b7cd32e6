//! `flowork key new|import|show`: the author key that signs workflow versions, kept in a
//! passphrase-encrypted Ethereum keystore v3 file (`<data dir>/author.key.json` by default).

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use flowork_flowchain::keystore::{self, Keystore, ScryptParams};
use flowork_flowchain::{Address, SigningKey};
use flowork_kit::entry::ConfigArgs;
use flowork_kit::private_file;
use zeroize::Zeroizing;

/// The environment variable a passphrase is read from before prompting.
pub const PASSPHRASE_ENV: &str = "FLOWORK_KEY_PASSPHRASE";

/// `flowork key …`
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The keystore file [default: <data dir>/author.key.json]
    #[arg(long, global = true, value_name = "FILE")]
    key: Option<PathBuf>,
    /// scrypt cost as log2(N) for new keystores [default: 18, the Ethereum standard]. Lower
    /// values are for tests only: they make a stolen file cheap to brute-force.
    #[arg(long, hide = true, env = "FLOWORK_KEY_SCRYPT_LOG_N", global = true)]
    scrypt_log_n: Option<u8>,
    #[command(subcommand)]
    command: KeyCommand,
}

/// The key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new random author key and print its address (refuses to overwrite a key).
    New,
    /// Import a private key: 64 hex digits read from stdin (never from the command line).
    Import {
        /// Replace an existing keystore file
        #[arg(long)]
        force: bool,
    },
    /// Print the author address.
    Show,
}

/// Why a key command failed: one line for stderr.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The keystore or the input is unusable.
    #[error(transparent)]
    Chain(#[from] flowork_flowchain::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Something the user gave is unusable.
    #[error("{0}")]
    Input(String),
}

fn file_err(path: &Path, reason: impl ToString) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn main(config: &ConfigArgs, args: KeyArgs) -> ExitCode {
    match run(config, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => flowork_kit::entry::fail(&e, 1),
    }
}

fn run(config: &ConfigArgs, args: KeyArgs) -> Result<(), KeyError> {
    let path = match args.key {
        Some(p) => p,
        None => default_path(config)?,
    };
    let params = match args.scrypt_log_n {
        Some(log_n) => ScryptParams {
            log_n,
            ..ScryptParams::STANDARD
        },
        None => ScryptParams::STANDARD,
    };
    match args.command {
        KeyCommand::New => {
            refuse_existing(&path, false)?;
            let key = SigningKey::generate();
            save(&path, &key, params, false)?;
            println!("{}", key.address());
        }
        KeyCommand::Import { force } => {
            refuse_existing(&path, force)?;
            let key = SigningKey::from_hex(&read_private_key()?)?;
            save(&path, &key, params, force)?;
            println!("{}", key.address());
        }
        KeyCommand::Show => println!("{}", show(&path)?),
    }
    Ok(())
}

/// `<data dir>/author.key.json`, the data dir as `flowork up` resolves it.
pub fn default_path(config: &ConfigArgs) -> Result<PathBuf, KeyError> {
    let cfg = config
        .load(serde_json::json!({}))
        .map_err(|e| KeyError::Input(e.to_string()))?;
    Ok(cfg.data_dir.join("author.key.json"))
}

fn refuse_existing(path: &Path, force: bool) -> Result<(), KeyError> {
    if path.exists() && !force {
        return Err(file_err(
            path,
            "already exists (import --force replaces it)",
        ));
    }
    Ok(())
}

/// Reads and parses a keystore file (refused if group or others can read it).
pub fn read_keystore(path: &Path) -> Result<Keystore, KeyError> {
    let text = private_file::read(path)
        .map_err(|e| file_err(path, e))?
        .ok_or_else(|| file_err(path, "no such key file (create one with `flowork key new`)"))?;
    serde_json::from_str(&text).map_err(|e| file_err(path, format!("not a keystore v3 file: {e}")))
}

/// Decrypts the author key, asking for the passphrase (or taking FLOWORK_KEY_PASSPHRASE).
/// Blocking and slow (scrypt): from async code, call it in `spawn_blocking`.
pub fn unlock(path: &Path) -> Result<SigningKey, KeyError> {
    let store = read_keystore(path)?;
    let pass = passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    Ok(keystore::decrypt(&store, &pass)?)
}

fn show(path: &Path) -> Result<Address, KeyError> {
    let store = read_keystore(path)?;
    // The standard file names its address; without one the key must be decrypted.
    if let Some(a) = &store.address {
        return format!("0x{}", a.trim_start_matches("0x"))
            .parse()
            .map_err(|e: flowork_flowchain::Error| file_err(path, e));
    }
    Ok(unlock(path)?.address())
}

fn save(
    path: &Path,
    key: &SigningKey,
    params: ScryptParams,
    replace: bool,
) -> Result<(), KeyError> {
    let pass = passphrase("New passphrase: ", true)?;
    let store = keystore::encrypt(key, &pass, params)?;
    let bytes = serde_json::to_vec_pretty(&store).map_err(|e| file_err(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    let written = if replace {
        private_file::replace(path, &bytes)
    } else {
        private_file::create_new(path, &bytes)
    };
    written.map_err(|e| file_err(path, e))
}

/// The passphrase from FLOWORK_KEY_PASSPHRASE, else prompted on the terminal without echo
/// (twice when `confirm`). An empty passphrase is refused.
fn passphrase(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, KeyError> {
    if let Some(p) = std::env::var_os(PASSPHRASE_ENV) {
        let p = Zeroizing::new(
            p.into_string()
                .map_err(|_| KeyError::Input(format!("{PASSPHRASE_ENV} is not UTF-8")))?,
        );
        return non_empty(p);
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| {
                KeyError::Input(format!(
                    "cannot prompt for a passphrase ({e}); set {PASSPHRASE_ENV}"
                ))
            })
    };
    let p = ask(prompt)?;
    if confirm && *ask("Repeat passphrase: ")? != *p {
        return Err(KeyError::Input("the passphrases do not match".into()));
    }
    non_empty(p)
}

fn non_empty(p: Zeroizing<String>) -> Result<Zeroizing<String>, KeyError> {
    if p.is_empty() {
        return Err(KeyError::Input("the passphrase must not be empty".into()));
    }
    Ok(p)
}

/// The private key from stdin: hidden input on a terminal, else the whole of stdin.
fn read_private_key() -> Result<Zeroizing<String>, KeyError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Private key (hex, not echoed): ");
        return rpassword::read_password()
            .map(Zeroizing::new)
            .map_err(|e| KeyError::Input(format!("cannot read the private key: {e}")));
    }
    let mut text = Zeroizing::new(String::new());
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| KeyError::Input(format!("cannot read the private key from stdin: {e}")))?;
    Ok(text)
}
