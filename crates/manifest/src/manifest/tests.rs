use std::fs;

use super::*;

const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn tree() -> (tempfile::TempDir, SecretKey, Manifest) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    fs::create_dir_all(dir.path().join("share/deep")).expect("mkdir");
    fs::write(dir.path().join("bin/flowork"), b"binary").expect("write");
    fs::write(dir.path().join("share/a.txt"), b"hello\n").expect("write");
    fs::write(dir.path().join("share/deep/b.txt"), b"b").expect("write");
    let key = SecretKey::generate();
    let m = Manifest::build_dir(dir.path(), &key).expect("build");
    (dir, key, m)
}

/// The bytes signed and the signature were computed independently (Python `cryptography`,
/// `json.dumps(sort_keys=True, separators=(",", ":"))`, which is JCS for this document).
#[test]
fn known_answer_matches_an_independent_implementation() {
    let key = SecretKey::from_hex(SEED).expect("seed");
    let files = BTreeMap::from([
        (
            RelPath::parse("share/a.txt").expect("p"),
            Digest::of(b"hello\n"),
        ),
        (
            RelPath::parse("bin/flowork").expect("p"),
            Digest::of(b"binary"),
        ),
    ]);
    let m = Manifest::sign(files, &key).expect("sign");
    assert_eq!(
        String::from_utf8_lossy(m.signed_bytes()),
        r#"{"algorithm":"sha256","files":{"bin/flowork":"9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd","share/a.txt":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"},"public_key":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","version":1}"#
    );
    let doc: Value = serde_json::from_str(&m.to_json().expect("json")).expect("parse");
    assert_eq!(
        doc["signature"],
        "9b3fa9500053369af38d3d072ee74b1435bbdd250f79e939186775ce51f128a5ff053c0461afb58c9e8b87fd1d5a0830c0ae2108d260430c5856840679e58c02"
    );
    let keys: Vec<_> = doc.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys.len(), 5);
    // Round trip: what was written parses back to the same manifest and verifies.
    let back = Manifest::parse(m.to_json().expect("json").as_bytes()).expect("parse");
    assert_eq!(back, m);
    back.verify_signature(&key.public()).expect("verifies");
}

#[test]
fn an_intact_tree_checks_clean() {
    let (dir, key, m) = tree();
    assert_eq!(m.files.len(), 3);
    m.verify_signature(&key.public()).expect("signature");
    let report = m.check(dir.path(), None);
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, 3);
}

#[test]
fn a_changed_byte_and_a_deleted_file_are_named() {
    let (dir, _, m) = tree();
    let mut bytes = fs::read(dir.path().join("share/a.txt")).expect("read");
    bytes[0] ^= 1;
    fs::write(dir.path().join("share/a.txt"), bytes).expect("write");
    fs::remove_file(dir.path().join("share/deep/b.txt")).expect("rm");
    let report = m.check(dir.path(), None);
    let lines: Vec<String> = report.drift.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "share/a.txt: changed (its SHA-256 differs from the manifest)",
            "share/deep/b.txt: missing"
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_listed_file_replaced_by_a_symlink_or_directory_is_drift() {
    let (dir, _, m) = tree();
    let a = dir.path().join("share/a.txt");
    fs::remove_file(&a).expect("rm");
    std::os::unix::fs::symlink(dir.path().join("bin/flowork"), &a).expect("symlink");
    fs::remove_file(dir.path().join("bin/flowork")).expect("rm");
    fs::create_dir(dir.path().join("bin/flowork")).expect("mkdir");
    let kinds: Vec<_> = m
        .check(dir.path(), None)
        .drift
        .into_iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(kinds, [DriftKind::NotRegular, DriftKind::NotRegular]);
}

#[test]
fn a_manifest_signed_by_another_key_is_refused() {
    let (_, _, m) = tree();
    let pinned = SecretKey::generate().public();
    let e = m.verify_signature(&pinned).expect_err("other key");
    assert!(e.to_string().starts_with("signed by another key"), "{e}");
    // Naming the pinned key does not help: the signature is still the other key's.
    let mut doc: Value = serde_json::from_str(&m.to_json().expect("json")).expect("json");
    doc["public_key"] = json!(pinned.to_string());
    let forged = Manifest::parse(doc.to_string().as_bytes()).expect("parse");
    assert!(matches!(
        forged.verify_signature(&pinned),
        Err(ManifestError::BadSignature)
    ));
}

#[test]
fn a_manifest_edited_after_signing_is_refused() {
    let (_, key, m) = tree();
    let text = m.to_json().expect("json");
    let digest = m.files.values().next().expect("a file").to_string();
    let edits = [
        text.replace(&digest, &"0".repeat(64)),
        text.replace("\"share/a.txt\"", "\"share/A.txt\""),
        text.replace("\"files\": {", "\"files\": {\"extra\": \"00000000000000000000000000000000000000000000000000000000000000ff\","),
    ];
    for edited in edits {
        assert_ne!(edited, text);
        let m = Manifest::parse(edited.as_bytes()).expect("still well-formed");
        let e = m.verify_signature(&key.public()).expect_err("edited");
        assert!(matches!(e, ManifestError::BadSignature), "{e}");
    }
    // Reformatting is not an edit: the signature covers the canonical bytes.
    let compact: Value = serde_json::from_str(&text).expect("json");
    let m = Manifest::parse(compact.to_string().as_bytes()).expect("parse");
    m.verify_signature(&key.public())
        .expect("same canonical bytes");
}

#[test]
fn traversal_and_absolute_paths_in_a_manifest_are_refused() {
    let key = SecretKey::generate();
    for bad in ["../x", "a/../../etc/passwd", "/etc/passwd", "./a", "a\\b"] {
        let doc = json!({"version": 1, "algorithm": "sha256",
            "files": {bad: "00".repeat(32)}, "public_key": key.public().to_string(),
            "signature": "00".repeat(64)});
        let e = Manifest::parse(doc.to_string().as_bytes()).expect_err(bad);
        assert!(matches!(e, ManifestError::InvalidPath { .. }), "{bad}: {e}");
    }
}

#[test]
fn malformed_documents_say_what_is_wrong() {
    let key = SecretKey::generate().public().to_string();
    let base = json!({"version": 1, "algorithm": "sha256", "files": {},
        "public_key": key, "signature": "00".repeat(64)});
    let cases = [
        ("version", json!(2), "only version 1"),
        ("algorithm", json!("md5"), "only \"sha256\""),
        ("public_key", json!("abc"), "public_key:"),
        ("signature", json!("xyz"), "signature:"),
        ("extra", json!(1), "unknown field `extra`"),
    ];
    for (field, value, want) in cases {
        let mut doc = base.clone();
        doc[field] = value;
        let e = Manifest::parse(doc.to_string().as_bytes()).expect_err(field);
        assert!(e.to_string().contains(want), "{field}: {e}");
    }
    let mut unsigned = base.clone();
    unsigned.as_object_mut().expect("obj").remove("signature");
    let e = Manifest::parse(unsigned.to_string().as_bytes()).expect_err("unsigned");
    assert!(e.to_string().contains("not signed"), "{e}");
    assert!(Manifest::parse(b"[]").is_err());
}

#[test]
fn covers_tells_whether_a_file_is_listed() {
    let (dir, _, m) = tree();
    assert!(m.covers(dir.path(), &dir.path().join("bin/flowork")));
    fs::write(dir.path().join("new"), b"x").expect("write");
    assert!(!m.covers(dir.path(), &dir.path().join("new")));
    assert!(!m.covers(dir.path(), Path::new("/bin/sh")));
}

#[cfg(unix)]
#[test]
fn building_refuses_symlinks_and_paths_outside_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    fs::create_dir_all(&root).expect("mkdir");
    fs::write(dir.path().join("outside"), b"x").expect("write");
    std::os::unix::fs::symlink(dir.path().join("outside"), root.join("link")).expect("symlink");
    let e = crate::collect(&root, &[PathBuf::from(".")], None).expect_err("symlink");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    fs::remove_file(root.join("link")).expect("rm");
    let e = crate::collect(&root, &[PathBuf::from("../outside")], None).expect_err("outside");
    assert!(e.to_string().contains("outside the root"), "{e}");
    fs::write(root.join("f"), b"x").expect("write");
    let own = root.join(crate::FILE_NAME);
    fs::write(&own, b"{}").expect("write");
    let files = crate::collect(&root, &[PathBuf::from("."), PathBuf::from("f")], Some(&own))
        .expect("collect");
    let names: Vec<_> = files.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["f"]);
}
