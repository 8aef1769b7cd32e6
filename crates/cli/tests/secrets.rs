//! A credential's secret never reaches the logs, even at trace level, nor any API answer or
//! execution record, when a real `flowork up` uses it for an HTTP call.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_flowork");
const SECRET: &str = "tok-7f3a9c1e5b2d8f4a6e0c";

/// Answers every request with 200 and a JSON body that does not echo anything.
fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/api", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let body = "{\"ok\":true}";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test]
async fn secrets_stay_out_of_logs_answers_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let log = dir.path().join("stderr.log");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "up",
        "--data-dir",
        dir.path().join("data").to_str().expect("utf8"),
        "--port",
        "0",
    ])
    .env("RUST_LOG", "trace")
    .env("FLOWORK_SCHEDULER__LISTEN", format!("127.0.0.1:{port}"))
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&log).expect("log file"));
    for (k, _) in std::env::vars()
        .filter(|(k, _)| k.starts_with("FLOWORK_") && !k.starts_with("FLOWORK_TEST_"))
    {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("read").starts_with("Press Ctrl-C") {
            break;
        }
    }
    let mut seen = Vec::new();
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let cred =
        json!({"name": "partner", "kind": "bearer", "secret": {"type": "bearer", "token": SECRET}});
    seen.push(
        http.post(format!("{api}/credentials"))
            .json(&cred)
            .send()
            .await
            .expect("create")
            .text()
            .await
            .expect("body"),
    );
    let doc = json!({"name": "call partner", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "call", "type": "core.http", "params": {"url": server(), "credential": "partner"}}],
      "edges": [{"from": "start", "to": "call"}]});
    let wf: Value = http
        .post(format!("{api}/workflows"))
        .json(&doc)
        .send()
        .await
        .expect("workflow")
        .json()
        .await
        .expect("json");
    let run = format!(
        "{api}/workflows/{}/run?wait=true",
        wf["id"].as_str().expect("id")
    );
    let exec: Value = http
        .post(run)
        .json(&json!({}))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    assert_eq!(exec["status"], "succeeded", "{exec}");
    let ex = exec["id"].as_str().expect("id");
    for path in [
        format!("{api}/executions/{ex}"),
        format!("{api}/credentials"),
        format!("{api}/credentials/partner"),
        format!("{api}/executions"),
    ] {
        seen.push(
            http.get(path)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body"),
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    lines.for_each(drop);

    let logs = std::fs::read_to_string(&log).expect("read log");
    assert!(
        logs.len() > 1000,
        "trace logging was on: {} bytes",
        logs.len()
    );
    assert!(!logs.contains(SECRET), "the secret is in the logs");
    // The local engine's token (it dialed the gateway with it the whole time) is no better.
    let engine_token = std::fs::read_to_string(dir.path().join("data/engine.token"))
        .expect("flowork up wrote the engine token");
    assert!(
        !logs.contains(engine_token.trim()),
        "the engine token is in the logs"
    );
    for body in &seen {
        assert!(
            !body.contains(SECRET),
            "the secret is in an API answer: {body}"
        );
    }
    let db = std::fs::read(dir.path().join("data/flowork.db")).expect("db");
    let wal = std::fs::read(dir.path().join("data/flowork.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is stored in plain text"
        );
    }
}
