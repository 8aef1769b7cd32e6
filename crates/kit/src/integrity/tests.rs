use std::fs;

use flowork_manifest::SecretKey;

use super::*;

/// A release folder: an "executable", a data file, and a manifest signed by `key`.
fn release(key: &SecretKey) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("flowork-x"), b"\x7fELF pretend").expect("write");
    fs::create_dir(dir.path().join("share")).expect("mkdir");
    fs::write(dir.path().join("share/a.txt"), b"asset").expect("write");
    let m = Manifest::build_dir(dir.path(), key).expect("build");
    fs::write(
        dir.path().join("integrity.json"),
        m.to_json().expect("json"),
    )
    .expect("write");
    dir
}

fn checker(dir: &Path, key: PublicKey, mode: IntegrityMode) -> Checker {
    Checker {
        mode,
        manifest: dir.join("integrity.json"),
        key,
        executable: dir.join("flowork-x"),
        recheck: None,
    }
}

#[test]
fn clean_drifted_and_untrusted() {
    let key = SecretKey::generate();
    let dir = release(&key);
    let c = checker(dir.path(), key.public(), IntegrityMode::Strict);
    let s = c.run();
    assert_eq!(s.outcome, Outcome::Clean { checked: 2 });
    assert!(verdict(s).is_ok());

    fs::write(dir.path().join("share/a.txt"), b"Asset").expect("write");
    let s = c.run();
    assert!(s.is_degraded());
    let e = verdict(s.clone()).expect_err("strict refuses");
    assert_eq!(
        e.to_string(),
        "integrity: share/a.txt: changed (its SHA-256 differs from the manifest); refusing to \
         start (integrity.mode = strict)"
    );
    let warn = Snapshot {
        mode: IntegrityMode::Warn,
        ..s
    };
    assert!(verdict(warn).is_ok(), "warn starts");

    let other = checker(
        dir.path(),
        SecretKey::generate().public(),
        IntegrityMode::Strict,
    );
    let Outcome::Untrusted(why) = other.run().outcome else {
        panic!("another key must be untrusted");
    };
    assert!(why.contains("signed by another key"), "{why}");
}

#[test]
fn an_executable_outside_the_manifest_is_named() {
    let key = SecretKey::generate();
    let dir = release(&key);
    let mut c = checker(dir.path(), key.public(), IntegrityMode::Strict);
    fs::write(dir.path().join("flowork-y"), b"new binary").expect("write");
    c.executable = dir.path().join("flowork-y");
    let e = verdict(c.run()).expect_err("not listed");
    assert!(
        e.to_string().contains("flowork-y: not in the manifest"),
        "{e}"
    );
}

#[test]
fn a_missing_manifest_is_untrusted_and_names_its_path() {
    let key = SecretKey::generate();
    let dir = release(&key);
    fs::remove_file(dir.path().join("integrity.json")).expect("rm");
    let c = checker(dir.path(), key.public(), IntegrityMode::Warn);
    let s = c.run();
    assert!(s.is_degraded());
    assert!(s.summary().contains("integrity.json"), "{}", s.summary());
    assert_eq!(
        s.summary().matches("integrity.json").count(),
        1,
        "the path once: {}",
        s.summary()
    );
}
