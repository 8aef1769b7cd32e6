//! `flowork chain verify` and `flowork key`, run as the real binary.

use std::path::Path;
use std::process::{Command, Output};

use flowork_flowchain::{SigningKey, VersionRecord, export_dir};
use serde_json::json;

mod common;
use common::text;

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23";

fn flowork(args: &[&str], stdin: &str) -> Output {
    common::with_key(common::flowork(args), stdin)
}

fn export(dir: &Path, n: usize) {
    let key = SigningKey::from_hex(KEY).expect("key");
    let mut records: Vec<VersionRecord> = Vec::new();
    for i in 0..n {
        let mut r = VersionRecord::next(
            records.last(),
            "wf",
            "2026-11-22T07:00:00Z",
            json!({"i": i}),
        )
        .expect("record");
        r.sign(&key).expect("sign");
        records.push(r);
    }
    export_dir(dir, &records).expect("export");
}

#[test]
fn verify_exit_codes_name_the_first_bad_version() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("chain");
    export(&dir, 3);
    let d = dir.to_str().expect("utf-8");
    let out = flowork(&["chain", "verify", d], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("valid: 3 versions"),
        "{}",
        text(&out.stdout)
    );

    // Change the workflow of version 2 (keeping the file canonical).
    let path = dir.join("000002.json");
    let changed = text(&std::fs::read(&path).expect("read")).replace(r#""i":1"#, r#""i":7"#);
    std::fs::write(&path, changed).expect("write");
    let out = flowork(&["chain", "verify", d], "");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("version 2: wrong author"), "{stdout}");
    assert!(stdout.contains("version 3: broken link"), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("invalid: first bad version 2: wrong author"),
        "{stdout}"
    );

    let out = flowork(&["chain", "verify", "/nonexistent/flowork-chain"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: /nonexistent/flowork-chain"),
        "{}",
        text(&out.stderr)
    );
    let out = flowork(&["chain", "verify", d, "--format", "other"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn key_import_show_and_refusals() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("k.json");
    let f = file.to_str().expect("utf-8");
    let out = flowork(&["key", "import", "--key", f], &format!("{KEY}\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), ADDRESS);
    let out = flowork(&["key", "show", "--key", f], "");
    assert_eq!(text(&out.stdout).trim(), ADDRESS);
    // Nothing secret on any output.
    assert!(!text(&out.stdout).contains("4c0883a6") && !text(&out.stderr).contains("4c0883a6"));
    let on_disk = text(&std::fs::read(&file).expect("read"));
    assert!(!on_disk.contains("4c0883a6") && on_disk.contains("\"kdf\": \"scrypt\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let out = flowork(&["key", "import", "--key", f], &format!("{KEY}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    let out = flowork(&["key", "new", "--key", f], "");
    assert_eq!(out.status.code(), Some(1));
    let other = tmp.path().join("bad.json");
    let out = flowork(
        &["key", "import", "--key", other.to_str().expect("utf-8")],
        "nothex\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid private key"),
        "{}",
        text(&out.stderr)
    );

    // The library unlocks what the CLI wrote (and eth-account does too: tests/python.rs).
    let data = tmp.path().join("data");
    let out = flowork(
        &["key", "new", "--data-dir", data.to_str().expect("utf-8")],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let address = text(&out.stdout).trim().to_string();
    assert!(data.join("author.key.json").is_file());
    let out = flowork(
        &["key", "show", "--data-dir", data.to_str().expect("utf-8")],
        "",
    );
    assert_eq!(text(&out.stdout).trim(), address);
}

#[test]
fn eth_account_decrypts_the_cli_keystore() {
    let Some(python) = std::env::var_os("FLOWORK_TEST_PYTHON") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "FLOWORK_TEST_PYTHON is not set (CI=true)"
        );
        eprintln!(
            "\n*** SKIPPED: FLOWORK_TEST_PYTHON is not set; run the tests through scripts/test ***\n"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("k.json");
    let f = file.to_str().expect("utf-8");
    let out = flowork(&["key", "import", "--key", f], KEY);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../flowchain/tests/py/flowork_py.py"
    );
    let out = Command::new(python)
        .args([script, "keystore-decrypt", f, "a passphrase"])
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), KEY);
}
