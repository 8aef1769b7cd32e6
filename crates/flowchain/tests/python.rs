//! Interop with real Ethereum tooling: fixtures written by eth-account (PyPI) in the Python that
//! `scripts/test` prepares and exports as FLOWORK_TEST_PYTHON. Without it the tests skip loudly;
//! under CI=true a missing interpreter is a failure.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use flowork_flowchain::keystore::{self, Keystore, ScryptParams};
use flowork_flowchain::{ChainStatus, Problem, SigningKey, VersionRecord, export_dir, flowork_py};
use serde_json::json;

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn python() -> Option<PathBuf> {
    match std::env::var_os("FLOWORK_TEST_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("FLOWORK_TEST_PYTHON is not set (CI=true): run the tests through scripts/test")
        }
        None => {
            eprintln!(
                "\n*** SKIPPED: FLOWORK_TEST_PYTHON is not set; run `scripts/test -p flowork-flowchain` \
                 for the eth-account interop tests ***\n"
            );
            None
        }
    }
}

fn py(python: &Path, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/flowork_py.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn write_py_chain(python: &Path, tamper: Option<&str>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let mut args = vec!["write-chain", dir, KEY, "3"];
    args.extend(tamper);
    py(python, &args);
    tmp
}

fn invalid(dir: &Path) -> (u32, Problem) {
    match flowork_py::verify_dir(dir).unwrap().status {
        ChainStatus::Invalid { version, problem } => (version, problem),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn python_flowork_exports_verify() {
    let Some(python) = python() else { return };
    let good = write_py_chain(&python, None);
    let report = flowork_py::verify_dir(good.path()).unwrap();
    assert_eq!(report.status, ChainStatus::Valid, "{:?}", report.problems);
    assert_eq!(report.versions, 3);

    let (v, p) = invalid(write_py_chain(&python, Some("byte:2")).path());
    assert_eq!(v, 2);
    assert!(matches!(p, Problem::WrongAuthor { .. }), "{p:?}");

    let (v, p) = invalid(write_py_chain(&python, Some("sig:2")).path());
    let other = SigningKey::from_hex(&"11".repeat(32)).unwrap().address();
    assert_eq!(v, 2);
    assert!(
        matches!(p, Problem::WrongAuthor { recovered, .. } if recovered == other),
        "{p:?}"
    );

    let (v, p) = invalid(write_py_chain(&python, Some("link:3")).path());
    assert_eq!(v, 3);
    assert!(matches!(p, Problem::BrokenLink { .. }), "{p:?}");
}

#[test]
fn eth_account_recovers_the_signer_of_our_export() {
    let Some(python) = python() else { return };
    let key = SigningKey::from_hex(KEY).unwrap();
    let mut records: Vec<VersionRecord> = Vec::new();
    for (i, wf) in [
        json!({"name": "a", "nodes": []}),
        json!({"name": "café ❤", "n": [1, -2, {"b": null, "a": true}]}),
        json!("x\ny\u{1}\""),
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = VersionRecord::next(
            records.last(),
            "wf-9",
            format!("2026-11-22T07:00:0{i}Z"),
            wf,
        )
        .unwrap();
        r.sign(&key).unwrap();
        records.push(r);
    }
    let tmp = tempfile::tempdir().unwrap();
    export_dir(tmp.path(), &records).unwrap();
    let out = py(&python, &["recover", tmp.path().to_str().unwrap()]);
    let want = key.address().to_string();
    assert_eq!(out.lines().collect::<Vec<_>>(), [want.as_str(); 3]);
}

#[test]
fn keystores_interoperate_with_eth_account() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("theirs.json");
    py(
        &python,
        &[
            "keystore-encrypt",
            KEY,
            "pass phrase ✓",
            theirs.to_str().unwrap(),
        ],
    );
    let store: Keystore = serde_json::from_slice(&fs::read(&theirs).unwrap()).unwrap();
    let key = keystore::decrypt(&store, "pass phrase ✓").unwrap();
    assert_eq!(format!("0x{}", hex_of(&key)), KEY);

    let ours = tmp.path().join("ours.json");
    let fresh = SigningKey::generate();
    let store = keystore::encrypt(
        &fresh,
        "другой",
        ScryptParams {
            log_n: 10,
            r: 8,
            p: 1,
        },
    )
    .unwrap();
    fs::write(&ours, serde_json::to_vec(&store).unwrap()).unwrap();
    let out = py(
        &python,
        &["keystore-decrypt", ours.to_str().unwrap(), "другой"],
    );
    assert_eq!(out.trim(), format!("0x{}", hex_of(&fresh)));
}

fn hex_of(key: &SigningKey) -> String {
    key.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
