//! Durability with a real crash: `flowork up` is SIGKILLed in the middle of an execution, started
//! again on the same data dir, and the execution finishes without re-running completed nodes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_flowork");

/// An HTTP server whose first answer takes 30 s (the crash happens meanwhile); later ones are
/// immediate. Counts requests.
fn slow_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/slow", listener.local_addr().expect("addr"));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if n == 1 {
                    std::thread::sleep(Duration::from_secs(30));
                }
                let body = format!("{{\"call\":{n}}}");
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            });
        }
    });
    (url, calls)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts `flowork up`; returns once its banner is out.
fn up(data: &str, scheduler: u16) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["up", "--data-dir", data, "--port", "0"])
        .env("RUST_LOG", "warn")
        .env(
            "FLOWORK_SCHEDULER__LISTEN",
            format!("127.0.0.1:{scheduler}"),
        )
        .env("FLOWORK_SCHEDULER__LEASE_MS", "2000")
        .stdout(Stdio::piped());
    for (k, _) in std::env::vars()
        .filter(|(k, _)| k.starts_with("FLOWORK_") && !k.starts_with("FLOWORK_TEST_"))
    {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("spawn flowork up");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        if line.expect("read").starts_with("Press Ctrl-C") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    child
}

async fn get(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_sigkilled_engine_resumes_the_execution_without_rerunning_completed_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf8").to_owned();
    let (slow, calls) = slow_server();
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();

    let mut first = up(&data, port);
    let doc = json!({"name": "crash me", "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "before", "type": "core.set", "params": {"value": "{order: .input.order}"}},
        {"id": "call", "type": "core.http", "params": {"url": slow}},
        {"id": "after", "type": "core.set", "params": {"value": "{order: .nodes.before.order, reply: .input.body.call}"}}],
      "edges": [{"from": "start", "to": "before"}, {"from": "before", "to": "call"}, {"from": "call", "to": "after"}]});
    let wf: Value = http
        .post(format!("{api}/workflows"))
        .json(&doc)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let run = format!("{api}/workflows/{}/run", wf["id"].as_str().expect("id"));
    let exec: Value = http
        .post(run)
        .json(&json!({"order": 42}))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let ex = exec["id"].as_str().expect("execution id").to_owned();

    // Wait until the engine is inside the slow call, then kill it without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the engine never made the call");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Command::new("kill")
        .args(["-KILL", &first.id().to_string()])
        .status()
        .expect("kill -9");
    let _ = first.wait();

    let mut second = up(&data, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let e = get(&format!("{api}/executions/{ex}")).await;
        if e["status"] == "succeeded" || e["status"] == "failed" {
            break e;
        }
        assert!(Instant::now() < deadline, "not resumed within 30 s: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = second.kill();
    let _ = second.wait();

    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["output"], json!({"order": 42, "reply": 2}));
    let runs = done["node_runs"].as_array().expect("node runs");
    let of = |node: &str| {
        runs.iter()
            .filter(|r| r["node_id"] == node)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("before").len(),
        1,
        "a completed node never runs again: {done}"
    );
    assert_eq!(of("start").len(), 1);
    let call_attempts: Vec<u64> = of("call")
        .iter()
        .filter_map(|r| r["attempt"].as_u64())
        .collect();
    assert_eq!(
        call_attempts,
        [1, 2],
        "the interrupted node ran again as attempt 2"
    );
    let statuses: Vec<&str> = of("call")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["interrupted", "succeeded"],
        "history says attempt 1 was cut short"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
