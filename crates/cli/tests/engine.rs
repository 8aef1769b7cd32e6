//! An engine as its own process, dialing out to a gateway (`flowork serve scheduler` with
//! `scheduler.gateway_url`): it opens no listening port at all, and is reached through the
//! gateway only.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::{Guard, call, flowork, up};

/// The inodes of the TCP sockets in LISTEN state on this machine.
fn listening_inodes() -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if cols.get(3) == Some(&"0A")
                && let Some(inode) = cols.get(9)
            {
                out.push((*inode).to_owned());
            }
        }
    }
    out
}

/// The socket inodes process `pid` holds open.
fn socket_inodes(pid: u32) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_linked_engine_process_opens_no_port_and_serves_through_the_gateway() {
    if !std::path::Path::new("/proc/net/tcp").exists() {
        eprintln!("SKIPPED: needs Linux /proc to list listening sockets");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let gw_data = dir.path().join("gateway");
    let (_gateway, url) = up(gw_data.to_str().expect("utf8"));
    let access = common::login(&url).await;
    let (status, reg) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/engines"),
        Some(&access),
        Some(json!({"name": "remote"})),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let id = reg["id"].as_str().expect("id").to_owned();
    let token = reg["token"].as_str().expect("token").to_owned();

    let engine_data = dir.path().join("engine");
    let log = dir.path().join("engine.log");
    let child = flowork(&[
        "serve",
        "scheduler",
        "--data-dir",
        engine_data.to_str().expect("utf8"),
    ])
    .env("RUST_LOG", "debug")
    .env("FLOWORK_SCHEDULER__GATEWAY_URL", &url)
    .env("FLOWORK_SCHEDULER__ENGINE_ID", &id)
    .env("FLOWORK_ENGINE_TOKEN", &token)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).expect("log file"))
    .spawn()
    .expect("spawn the engine");
    let engine = Guard(child);
    let pid = engine.0.id();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, e) = call(
            reqwest::Method::GET,
            format!("{url}/api/v1/engines/{id}"),
            Some(&access),
            None,
        )
        .await;
        if e["online"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the engine never linked: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listening = listening_inodes();
    let held = socket_inodes(pid);
    assert!(!held.is_empty(), "the engine holds its link socket");
    assert!(
        held.iter().all(|s| !listening.contains(s)),
        "the engine process listens on a port"
    );

    // Reached through the gateway only.
    let (status, nodes) = call(
        reqwest::Method::GET,
        format!("{url}/api/v1/engines/{id}/nodes"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, 200, "{nodes}");
    assert!(nodes.as_array().is_some_and(|n| !n.is_empty()), "{nodes}");

    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut engine = engine;
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = engine.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the engine did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(!logged.contains(&token), "the engine token reached the log");
}
