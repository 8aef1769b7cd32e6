//! `flowork workflow push`, `chain export` and `chain verify` end to end, as real processes:
//! `flowork up`, then the CLI through the gateway with an API key; the key signs locally.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{call, flowork, text, up, with_key};

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23";

/// Runs the CLI on `data` with the author key's passphrase and the API token set.
fn cli(data: &Path, token: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = flowork(args);
    cmd.args(["--data-dir", data.to_str().expect("utf8")])
        .env("FLOWORK_API_TOKEN", token);
    with_key(cmd, stdin)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test]
async fn push_two_versions_export_and_verify_then_tamper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (_up, url) = up(data.to_str().expect("utf8"));
    let access = common::login(&url).await;
    let (status, key) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/api-keys"),
        Some(&access),
        Some(json!({"name": "cli"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let token = key["secret"].as_str().expect("secret").to_owned();
    let engine = std::fs::read_to_string(data.join("engine.id")).expect("engine.id");
    let engine = engine.trim();
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(
        reqwest::Method::GET,
        format!("{url}/api/v1/engines/{engine}"),
        Some(&token),
        None,
    )
    .await
    .1["online"]
        != true
    {
        assert!(Instant::now() < deadline, "the engine never linked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gateway = ["--gateway", url.as_str()];

    ok(&cli(&data, &token, &["key", "import"], KEY));
    let v1 = dir.path().join("flow.json");
    std::fs::write(&v1, doc(1).to_string()).expect("write");
    let push = |file: &Path, more: &[&str]| {
        let mut args = vec!["workflow", "push", file.to_str().expect("utf8")];
        args.extend_from_slice(&gateway);
        args.extend_from_slice(more);
        cli(&data, &token, &args, "")
    };
    let said = ok(&push(&v1, &[]));
    assert!(
        said.contains("saved version 1 of wf_") && said.contains(ADDRESS),
        "{said}"
    );
    let id = said
        .split_whitespace()
        .find(|w| w.starts_with("wf_"))
        .expect("the new workflow's id")
        .to_owned();
    let v2 = dir.path().join("flow.yaml");
    std::fs::write(&v2, yaml(2)).expect("write");
    let said = ok(&push(&v2, &["--workflow", &id]));
    assert!(said.contains("saved version 2"), "{said}");

    // The engine runs the head, which the author signed.
    let (status, exec) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/engines/{engine}/workflows/{id}/run?wait=true"),
        Some(&token),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, exec["output"].clone()),
        (200, json!({"v": 2})),
        "{exec}"
    );

    let out = dir.path().join("chain");
    let o = out.to_str().expect("utf8");
    let mut args = vec!["chain", "export", id.as_str(), o];
    args.extend_from_slice(&gateway);
    assert!(ok(&cli(&data, &token, &args, "")).contains("wrote 2 versions"));
    let verified = ok(&cli(&data, &token, &["chain", "verify", o], ""));
    assert!(
        verified.starts_with("valid: 2 versions, all signed"),
        "{verified}"
    );
    eth_account_recovers(&out);

    // An unreachable engine fails in one line.
    let bad = cli(
        &data,
        &token,
        &[
            "workflow",
            "push",
            v1.to_str().expect("utf8"),
            "--engine-url",
            "http://127.0.0.1:9",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("cannot reach"),
        "{}",
        text(&bad.stderr)
    );

    // Tampering with an exported file: verify names the version.
    let first = out.join("000001.json");
    let bytes = std::fs::read(&first).expect("read").into_iter();
    let changed: Vec<u8> = String::from_utf8(bytes.collect())
        .expect("utf8")
        .replace("{v: 1}", "{v: 9}")
        .into_bytes();
    std::fs::write(&first, changed).expect("write");
    let tampered = cli(&data, &token, &["chain", "verify", o], "");
    assert_eq!(
        tampered.status.code(),
        Some(1),
        "{}",
        text(&tampered.stdout)
    );
    let said = text(&tampered.stdout);
    assert!(
        said.contains("invalid: first bad version 1: wrong author"),
        "{said}"
    );
    assert!(said.contains("version 2: broken link"), "{said}");
}

/// The workflow whose run outputs `{"v": n}`.
fn doc(n: u32) -> Value {
    json!({"name": format!("pushed {n}"),
      "nodes": [{"id": "start", "type": "trigger.manual"},
                {"id": "out", "type": "core.set", "params": {"value": format!("{{v: {n}}}")}}],
      "edges": [{"from": "start", "to": "out"}]})
}

fn yaml(n: u32) -> String {
    format!(
        "name: pushed {n}\nnodes:\n  - id: start\n    type: trigger.manual\n  - id: out\n    type: core.set\n    params:\n      value: '{{v: {n}}}'\nedges:\n  - from: start\n    to: out\n"
    )
}

/// eth-account (the Python venv `scripts/test` prepares) recovers our address from every file.
fn eth_account_recovers(dir: &Path) {
    let Some(python) = std::env::var_os("FLOWORK_TEST_PYTHON") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "FLOWORK_TEST_PYTHON is not set (CI=true): run the tests through scripts/test"
        );
        eprintln!(
            "\n*** SKIPPED: the eth-account cross-check needs FLOWORK_TEST_PYTHON (scripts/test) ***\n"
        );
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../flowchain/tests/py/flowork_py.py"
    );
    let out = Command::new(python)
        .args([script, "recover", dir.to_str().expect("utf8")])
        .output()
        .expect("run python");
    let said = ok(&out);
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        [ADDRESS, ADDRESS],
        "{said}"
    );
}
