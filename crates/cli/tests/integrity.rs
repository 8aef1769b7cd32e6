//! `flowork integrity keygen|build|verify` as a user runs them, and `flowork up` refusing to
//! start from a tampered release in strict mode.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_flowork");

fn flowork(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWORK_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run flowork")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `dir/key` and its public key, and a release under `dir/release`.
fn setup() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rel = tmp.path().join("release");
    std::fs::create_dir_all(rel.join("share/models")).expect("mkdir");
    std::fs::write(rel.join("bin"), b"pretend binary").expect("write");
    std::fs::write(rel.join("share/a.txt"), b"a").expect("write");
    std::fs::write(rel.join("share/models/m.onnx"), vec![7u8; 3 << 20]).expect("write");
    let out = flowork(tmp.path(), &["integrity", "keygen", "--out", "key"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = text(&out.stdout).trim().to_owned();
    assert_eq!(public.len(), 64, "{public}");
    (tmp, public)
}

#[test]
fn keygen_writes_a_private_key_and_refuses_to_overwrite_it() {
    let (tmp, _) = setup();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(tmp.path().join("key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(tmp.path().join("key")).expect("read");
    let out = flowork(tmp.path(), &["integrity", "keygen", "--out", "key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("refusing to overwrite"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(tmp.path().join("key")).expect("read"), before);
}

#[test]
fn build_then_verify_then_drift_wrong_key_and_edits() {
    let (tmp, public) = setup();
    let d = tmp.path();
    let out = flowork(
        d,
        &["integrity", "build", "--key", "key", "--root", "release"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("signed 3 files"),
        "{}",
        text(&out.stdout)
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("release/integrity.json")).expect("read"))
            .expect("json");
    let files: Vec<_> = doc["files"]
        .as_object()
        .expect("files")
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, ["bin", "share/a.txt", "share/models/m.onnx"]);
    assert_eq!(doc["public_key"], public.as_str());

    let verify = |extra: &[&str]| {
        let mut args = vec!["integrity", "verify", "--root", "release"];
        args.extend_from_slice(extra);
        flowork(d, &args)
    };
    let out = verify(&["--public-key", &public]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ok: 3 files match"),
        "{}",
        text(&out.stdout)
    );

    // The pinned key may come from the config too.
    let mut cmd = Command::new(BIN);
    let out = cmd
        .args([
            "integrity",
            "verify",
            "--manifest",
            "release/integrity.json",
        ])
        .current_dir(d)
        .env("FLOWORK_INTEGRITY__PUBLIC_KEY", &public)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));

    std::fs::write(d.join("release/share/a.txt"), b"b").expect("write");
    std::fs::remove_file(d.join("release/bin")).expect("rm");
    let out = verify(&["--public-key", &public]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("drift: bin: missing"), "{err}");
    assert!(err.contains("drift: share/a.txt: changed"), "{err}");
    assert!(err.contains("2 of 3 files differ"), "{err}");

    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let out = verify(&["--public-key", other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signed by another key"),
        "{}",
        text(&out.stderr)
    );

    let path = d.join("release/integrity.json");
    let edited = std::fs::read_to_string(&path)
        .expect("read")
        .replace("\"share/a.txt\"", "\"share/b.txt\"");
    std::fs::write(&path, edited).expect("write");
    let out = verify(&["--public-key", &public]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("edited after signing"),
        "{}",
        text(&out.stderr)
    );

    let out = verify(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no key anywhere is a usage error"
    );
    assert!(
        text(&out.stderr).contains("--public-key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn build_refuses_paths_outside_the_root_and_symlinks() {
    let (tmp, _) = setup();
    let d = tmp.path();
    let out = flowork(
        d,
        &[
            "integrity",
            "build",
            "--key",
            "key",
            "--root",
            "release",
            "../key",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("outside the root"),
        "{}",
        text(&out.stderr)
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(d.join("key"), d.join("release/share/link")).expect("link");
        let out = flowork(
            d,
            &["integrity", "build", "--key", "key", "--root", "release"],
        );
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains("share/link") && err.contains("symbolic link"),
            "{err}"
        );
    }
    assert!(!d.join("release/integrity.json").exists());
}

/// `flowork up` checks its own executable like every service binary.
#[test]
fn flowork_up_refuses_a_tampered_release_in_strict_mode() {
    let (tmp, public) = setup();
    let d = tmp.path();
    std::fs::copy(BIN, d.join("release/flowork")).expect("copy");
    let out = flowork(
        d,
        &["integrity", "build", "--key", "key", "--root", "release"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(d.join("release/share/a.txt"), b"tampered").expect("write");
    let out = Command::new(d.join("release/flowork"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(d.join("data"))
        .env("FLOWORK_INTEGRITY__MODE", "strict")
        .env("FLOWORK_INTEGRITY__PUBLIC_KEY", &public)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.trim_end().ends_with(
            "error: integrity: share/a.txt: changed (its SHA-256 differs from the manifest); \
             refusing to start (integrity.mode = strict)"
        ),
        "{err}"
    );
    assert!(
        !d.join("data").exists(),
        "refused before touching the data dir"
    );
}
