//! `flowork license keygen|issue|inspect|verify` as an operator runs them, and `flowork up`
//! refusing a license file that does not verify.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_flowork");

fn flowork(dir: &Path, args: &[&str]) -> Output {
    flowork_env(dir, args, &[])
}

fn flowork_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWORK_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run flowork")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn keygen(dir: &Path, name: &str) -> String {
    let out = flowork(dir, &["license", "keygen", "--out", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = text(&out.stdout).trim().to_owned();
    assert_eq!(public.len(), 64, "{public}");
    public
}

/// `flowork license issue --key vendor.key ARGS`.
fn issue(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["license", "issue", "--key", "vendor.key"];
    all.extend(args);
    flowork(dir, &all)
}

#[test]
fn issue_inspect_and_verify_a_license() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let public = keygen(dir, "vendor.key");
    let out = issue(
        dir,
        &[
            "--licensee",
            "Acme Corp",
            "--tier",
            "pro",
            "--seats",
            "10",
            "--ttl",
            "365d",
            "--out",
            "acme.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = flowork(
        dir,
        &["license", "verify", "acme.json", "--public-key", &public],
    );
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}{}", said, text(&out.stderr));
    assert!(
        said.starts_with(
            "ok: acme.json is a pro license for \"Acme Corp\": 9 capabilities, seats 10"
        ),
        "{said}"
    );

    // The key from the config, as the services read it.
    let cfg = dir.join("flowork.toml");
    std::fs::write(
        &cfg,
        format!("[license]\nfile = \"acme.json\"\npublic_key = \"{public}\"\n"),
    )
    .expect("config");
    let out = flowork(dir, &["--config", "flowork.toml", "license", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = flowork(
        dir,
        &["license", "inspect", "acme.json", "--public-key", &public],
    );
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("\"tier\": \"pro\"") && shown.contains("\"ai_copilot\""),
        "{shown}"
    );
    assert!(shown.trim_end().ends_with("verified: yes"), "{shown}");

    // Another key: exit 1, one line saying so.
    let other = keygen(dir, "other.key");
    let out = flowork(
        dir,
        &["license", "verify", "acme.json", "--public-key", &other],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signed by another key"),
        "{}",
        text(&out.stderr)
    );
    let out = flowork(
        dir,
        &["license", "inspect", "acme.json", "--public-key", &other],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("verified: no (signed by another key"),
        "{}",
        text(&out.stdout)
    );

    // Edited after signing: exit 1.
    let edited = std::fs::read_to_string(dir.join("acme.json"))
        .expect("read")
        .replace("\"pro\"", "\"enterprise\"");
    std::fs::write(dir.join("edited.json"), edited).expect("write");
    let out = flowork(
        dir,
        &["license", "verify", "edited.json", "--public-key", &public],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("edited after signing"),
        "{}",
        text(&out.stderr)
    );

    // Usage errors: exit 2, naming the flag.
    for (args, needle) in [
        (vec!["--tier", "gold"], "--tier: unknown tier"),
        (
            vec!["--tier", "pro", "--capability", "teleport"],
            "--capability: unknown capability",
        ),
        (vec!["--tier", "pro", "--ttl", "soon"], "--ttl"),
        (vec!["--tier", "pro", "--seats", "0"], "--seats"),
    ] {
        let mut all = vec!["--licensee", "x", "--out", "x.json"];
        all.extend(args);
        let out = issue(dir, &all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(text(&out.stderr).contains(needle), "{}", text(&out.stderr));
    }
    let out = flowork(dir, &["license", "verify", "acme.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("license.public_key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_expired_license_is_refused_by_verify_and_by_flowork_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let public = keygen(dir, "vendor.key");
    let out = issue(
        dir,
        &[
            "--licensee",
            "Acme",
            "--tier",
            "free",
            "--ttl",
            "1s",
            "--out",
            "short.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = flowork(
        dir,
        &["license", "verify", "short.json", "--public-key", &public],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the license expired at"),
        "{}",
        text(&out.stderr)
    );

    let out = flowork_env(
        dir,
        &["--data-dir", "data", "up", "--port", "0"],
        &[
            ("FLOWORK_LICENSE__FILE", "short.json"),
            ("FLOWORK_LICENSE__PUBLIC_KEY", &public),
            ("FLOWORK_ADMIN_PASSWORD", "a long enough password"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("short.json") && err.contains("expired"),
        "{err}"
    );
}
