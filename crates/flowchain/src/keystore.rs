//! The Ethereum keystore v3 file (Web3 Secret Storage): the author key encrypted under a
//! passphrase with scrypt + AES-128-CTR and a Keccak-256 MAC, as geth, eth-account and
//! MetaMask read and write it.
//!
//! scrypt is deliberately slow (the standard parameters take about a second and 256 MiB):
//! call [`encrypt`] and [`decrypt`] through `spawn_blocking` from async code.

use aes::cipher::{KeyIvInit as _, StreamCipher as _};
use serde::{Deserialize, Serialize};
use sha3::{Digest as _, Keccak256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::{Address, Error, SigningKey};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// scrypt cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    /// log2 of N.
    pub log_n: u8,
    /// Block size r.
    pub r: u32,
    /// Parallelism p.
    pub p: u32,
}

impl ScryptParams {
    /// geth's and eth-account's standard: N = 2^18, r = 8, p = 1.
    pub const STANDARD: Self = Self {
        log_n: 18,
        r: 8,
        p: 1,
    };
}

/// A keystore v3 document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keystore {
    /// The address, 40 lowercase hex digits without "0x" (optional in the standard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Cipher, KDF and MAC.
    pub crypto: Crypto,
    /// A random UUID.
    pub id: String,
    /// Always 3.
    pub version: u32,
}

/// The `crypto` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Crypto {
    /// "aes-128-ctr".
    pub cipher: String,
    /// The IV.
    pub cipherparams: CipherParams,
    /// The encrypted private key, hex.
    pub ciphertext: String,
    /// "scrypt" (pbkdf2 keystores are refused).
    pub kdf: String,
    /// scrypt parameters.
    pub kdfparams: KdfParams,
    /// keccak256(derived[16..32] || ciphertext), hex.
    pub mac: String,
}

/// The `cipherparams` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CipherParams {
    /// 16-byte IV, hex.
    pub iv: String,
}

/// scrypt's `kdfparams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KdfParams {
    /// Derived key length: 32.
    pub dklen: usize,
    /// N (a power of two).
    pub n: u64,
    /// r.
    pub r: u32,
    /// p.
    pub p: u32,
    /// Salt, hex.
    pub salt: String,
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if !n.is_power_of_two() || n < 2 {
        return Err(Error::invalid(
            "keystore",
            "scrypt n must be a power of two",
        ));
    }
    // A hostile file must not make us allocate gigabytes: 128·r·N bytes, capped at 1 GiB
    // (the standard parameters need 256 MiB).
    if 128u128 * u128::from(r) * u128::from(n) > 1 << 30 || p > 16 {
        return Err(Error::invalid(
            "keystore",
            "scrypt parameters too costly (over 1 GiB or p > 16)",
        ));
    }
    let log_n = n.trailing_zeros() as u8;
    let params = scrypt::Params::new(log_n, r, p, len)
        .map_err(|e| Error::invalid("keystore", format!("scrypt parameters: {e}")))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    scrypt::scrypt(passphrase, salt, &params, &mut out)
        .map_err(|e| Error::invalid("keystore", format!("scrypt: {e}")))?;
    Ok(out)
}

fn mac(derived: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(&derived[16..32]);
    h.update(ciphertext);
    h.finalize().into()
}

/// Encrypts `key` under `passphrase`.
pub fn encrypt(
    key: &SigningKey,
    passphrase: &str,
    params: ScryptParams,
) -> Result<Keystore, Error> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    rand::fill(&mut salt[..]);
    rand::fill(&mut iv[..]);
    rand::fill(&mut id[..]);
    let n = 1u64 << params.log_n;
    let derived = derive(passphrase.as_bytes(), &salt, n, params.r, params.p, 32)?;
    let mut ciphertext = key.to_bytes().to_vec();
    Aes128Ctr::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut ciphertext);
    Ok(Keystore {
        address: Some(hex::encode(key.address().0)),
        crypto: Crypto {
            cipher: "aes-128-ctr".into(),
            cipherparams: CipherParams {
                iv: hex::encode(iv),
            },
            kdf: "scrypt".into(),
            kdfparams: KdfParams {
                dklen: 32,
                n,
                r: params.r,
                p: params.p,
                salt: hex::encode(salt),
            },
            mac: hex::encode(mac(&derived, &ciphertext)),
            ciphertext: hex::encode(ciphertext),
        },
        id: uuid::Builder::from_random_bytes(id).into_uuid().to_string(),
        version: 3,
    })
}

/// Decrypts the key; [`Error::WrongPassphrase`] when the MAC does not match.
pub fn decrypt(store: &Keystore, passphrase: &str) -> Result<SigningKey, Error> {
    let bad = |why: &str| Error::invalid("keystore", why.to_string());
    let c = &store.crypto;
    if store.version != 3 {
        return Err(bad("only version 3 keystores are supported"));
    }
    if !c.kdf.eq_ignore_ascii_case("scrypt") {
        return Err(bad("only the scrypt KDF is supported"));
    }
    if !c.cipher.eq_ignore_ascii_case("aes-128-ctr") {
        return Err(bad("only the aes-128-ctr cipher is supported"));
    }
    let p = &c.kdfparams;
    if p.dklen < 32 {
        return Err(bad("dklen must be at least 32"));
    }
    let unhex =
        |what: &str, s: &str| hex::decode(s).map_err(|_| bad(&format!("{what} is not hex")));
    let salt = unhex("salt", &p.salt)?;
    let ciphertext = Zeroizing::new(unhex("ciphertext", &c.ciphertext)?);
    let iv: [u8; 16] = unhex("iv", &c.cipherparams.iv)?
        .try_into()
        .map_err(|_| bad("iv must be 16 bytes"))?;
    let expected = unhex("mac", &c.mac)?;
    if ciphertext.len() != 32 {
        return Err(bad("ciphertext must be 32 bytes"));
    }
    let derived = derive(passphrase.as_bytes(), &salt, p.n, p.r, p.p, p.dklen)?;
    // Constant time: a MAC check must not leak how many bytes matched.
    if !bool::from(mac(&derived, &ciphertext)[..].ct_eq(&expected[..])) {
        return Err(Error::WrongPassphrase);
    }
    let mut plain = Zeroizing::new([0u8; 32]);
    plain.copy_from_slice(&ciphertext);
    Aes128Ctr::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut plain[..]);
    let key = SigningKey::from_bytes(&plain)?;
    if let Some(a) = &store.address {
        let claimed: Result<Address, _> = format!("0x{}", a.trim_start_matches("0x")).parse();
        if claimed.ok() != Some(key.address()) {
            return Err(bad("the key does not match the file's address"));
        }
    }
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FAST: ScryptParams = ScryptParams {
        log_n: 4,
        r: 8,
        p: 1,
    };

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let key = SigningKey::generate();
        let store = encrypt(&key, "correct horse", FAST).unwrap();
        let text = serde_json::to_string(&store).unwrap();
        let back: Keystore = serde_json::from_str(&text).unwrap();
        assert_eq!(
            decrypt(&back, "correct horse").unwrap().address(),
            key.address()
        );
        assert!(matches!(
            decrypt(&back, "wrong"),
            Err(Error::WrongPassphrase)
        ));
    }

    #[test]
    fn reads_an_eth_account_keystore() {
        // Account.encrypt(KEY, "testpassword", kdf="scrypt", iterations=2**10), eth-account 0.14.
        let text = r#"{"address": "2c7536E3605D9C16a7a3D7b1898e529396a65c23", "crypto": {"cipher": "aes-128-ctr",
          "cipherparams": {"iv": "8d3c1fd7ec157831191fbb7693ff80ae"},
          "ciphertext": "a3a9802b2bf240a954de5bf98dd1b76bfbbcbf768764381303a3ea8af64f27b3", "kdf": "scrypt",
          "kdfparams": {"dklen": 32, "n": 1024, "r": 8, "p": 1, "salt": "42181ca2e932331b43990f5ad7799233"},
          "mac": "9479a2ad659876e706b5687a4fffba537e63da4fcca3329e876ef50b143a493e"},
          "id": "aabd7347-27e6-4679-8e5b-7be082d85341", "version": 3}"#;
        let store: Keystore = serde_json::from_str(text).unwrap();
        let key = decrypt(&store, "testpassword").unwrap();
        assert_eq!(
            hex::encode(key.to_bytes()),
            "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
        );
        assert!(matches!(
            decrypt(&store, "testpassword!"),
            Err(Error::WrongPassphrase)
        ));
    }
}
