//! The issuer key file: `<data dir>/fac.key`, the PKCS#8 Ed25519 key in base64, mode 0600.
//!
//! Created on first use; refused when group or others can read it (whoever holds it can mint
//! tokens with any budget). Blocking I/O: call at start-up or through `spawn_blocking`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowork_kit::private_file;
use zeroize::Zeroizing;

use crate::error::FacError;
use crate::token::Issuer;

/// The key file's name under the data dir.
pub const KEY_FILE: &str = "fac.key";

/// The issuer named `iss` with the key in `<data_dir>/fac.key`, generating it if absent.
pub fn load_or_create(data_dir: &Path, iss: &str) -> Result<Issuer, FacError> {
    let path = data_dir.join(KEY_FILE);
    let err = |reason: String| FacError::Key {
        path: path.display().to_string(),
        reason,
    };
    if private_file::read(&path)
        .map_err(|e| err(e.to_string()))?
        .is_none()
    {
        let pkcs8 = Issuer::generate_pkcs8().map_err(err)?;
        let text = Zeroizing::new(format!("{}\n", STANDARD.encode(pkcs8.as_slice())));
        private_file::create_new(&path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
    }
    // Read back what is there: a concurrent creator may have won the race.
    let text = private_file::read(&path)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("vanished right after it was created".into()))?;
    let pkcs8 = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|e| err(format!("not base64: {e}")))?,
    );
    Issuer::from_pkcs8(iss, &pkcs8).map_err(err)
}
