//! The real `flowork-integrity` binary, copied into a release folder next to its manifest, in
//! strict, warn and off mode: it refuses to start naming the file, or starts (degraded).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flowork_kit::ServiceName;
use flowork_kit::health::{Probe, Status};
use flowork_manifest::{Manifest, SecretKey};
use flowork_proto::v1 as pb;

const BIN: &str = "flowork-integrity";

/// A release folder (the binary, `share/asset.txt`, `integrity.json`) and a data dir beside it.
struct Release {
    tmp: tempfile::TempDir,
    key: SecretKey,
}

impl Release {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("release");
        std::fs::create_dir_all(root.join("share")).expect("mkdir");
        std::fs::copy(env!("CARGO_BIN_EXE_flowork-integrity"), root.join(BIN)).expect("copy");
        std::fs::write(
            root.join("share/asset.txt"),
            b"an asset the binary ships with\n",
        )
        .expect("write");
        let r = Self {
            tmp,
            key: SecretKey::generate(),
        };
        r.sign(&r.key);
        r
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("release")
    }

    fn sign(&self, key: &SecretKey) {
        let m = Manifest::build_dir(&self.root(), key).expect("build");
        std::fs::write(
            self.root().join("integrity.json"),
            m.to_json().expect("json"),
        )
        .expect("write");
    }

    fn start(&self, mode: &str) -> Run {
        let mut child = Command::new(self.root().join(BIN))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.tmp.path().join("data"))
            .env("FLOWORK_INTEGRITY__MODE", mode)
            .env(
                "FLOWORK_INTEGRITY__PUBLIC_KEY",
                self.key.public().to_string(),
            )
            .env("FLOWORK_INTEGRITY__RECHECK_INTERVAL_SECS", "1")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Run {
            child,
            lines: rx,
            log: Vec::new(),
        }
    }
}

struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Run {
    /// The address once it listens, or the exit code and stderr if it stopped first.
    fn outcome(&mut self) -> Result<SocketAddr, (i32, String)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if line.contains("listening")
                        && let Some(addr) = line.split("addr=").nth(1)
                    {
                        let addr: String = addr
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || ".:".contains(*c))
                            .collect();
                        return Ok(addr.parse().expect("an address"));
                    }
                    self.log.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("wait");
                    return Err((status.code().unwrap_or(-1), self.log.join("\n")));
                }
            }
        }
        panic!(
            "neither listened nor exited in 30 s: {}",
            self.log.join("\n")
        );
    }

    fn refused(&mut self) -> String {
        match self.outcome() {
            Ok(addr) => panic!("started on {addr} but must refuse"),
            Err((code, stderr)) => {
                assert_eq!(code, 1, "{stderr}");
                let last = stderr.lines().last().unwrap_or_default().to_owned();
                assert!(last.starts_with("error: integrity: "), "{stderr}");
                assert!(last.contains("refusing to start"), "{stderr}");
                last
            }
        }
    }

    fn started(&mut self) -> SocketAddr {
        match self.outcome() {
            Ok(addr) => addr,
            Err((code, stderr)) => panic!("exited {code} but must start: {stderr}"),
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn health(addr: SocketAddr) -> Status {
    let probe = Probe::new(ServiceName::Integrity, addr, Duration::from_secs(2)).expect("probe");
    probe.check().await.0
}

async fn status(addr: SocketAddr) -> pb::IntegrityReport {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = pb::integrity_client::IntegrityClient::new(channel);
    client
        .status(pb::IntegrityStatusRequest {})
        .await
        .expect("status")
        .into_inner()
}

fn metrics(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.0\r\nhost: x\r\n\r\n")
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body
}

fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[3] ^= 0x20;
    std::fs::write(path, bytes).expect("write");
}

#[tokio::test]
async fn an_intact_release_starts_in_strict_mode_and_reports_clean() {
    let r = Release::new();
    let mut run = r.start("strict");
    let addr = run.started();
    assert_eq!(health(addr).await, Status::Serving);
    let report = status(addr).await;
    assert_eq!(
        (report.mode.as_str(), report.outcome.as_str()),
        ("strict", "clean")
    );
    assert_eq!(report.files_checked, 2, "the binary and the asset");
}

#[test]
fn a_changed_byte_in_a_listed_file_stops_start_up_naming_the_file() {
    let r = Release::new();
    flip_a_byte(&r.root().join("share/asset.txt"));
    let line = r.start("strict").refused();
    assert!(
        line.contains("share/asset.txt: changed (its SHA-256 differs from the manifest)"),
        "{line}"
    );
}

#[test]
fn a_deleted_file_stops_start_up_naming_the_file() {
    let r = Release::new();
    std::fs::remove_file(r.root().join("share/asset.txt")).expect("rm");
    let line = r.start("strict").refused();
    assert!(line.contains("share/asset.txt: missing"), "{line}");
}

#[test]
fn a_changed_executable_stops_start_up_naming_itself() {
    let r = Release::new();
    let exe = r.root().join(BIN);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&exe)
        .expect("open");
    f.write_all(b"\0").expect("append");
    drop(f);
    let line = r.start("strict").refused();
    assert!(line.contains("flowork-integrity: changed"), "{line}");
}

#[test]
fn an_executable_the_manifest_does_not_list_stops_start_up() {
    let r = Release::new();
    let only_asset = Manifest::sign(
        Manifest::hash(
            &flowork_manifest::collect(&r.root(), &[PathBuf::from("share")], None).expect("walk"),
            None,
        )
        .expect("hash"),
        &r.key,
    )
    .expect("sign");
    std::fs::write(
        r.root().join("integrity.json"),
        only_asset.to_json().expect("json"),
    )
    .expect("write");
    let line = r.start("strict").refused();
    assert!(
        line.contains("flowork-integrity: not in the manifest"),
        "{line}"
    );
}

#[test]
fn a_manifest_signed_by_another_key_is_refused() {
    let r = Release::new();
    r.sign(&SecretKey::generate());
    let line = r.start("strict").refused();
    assert!(line.contains("signed by another key"), "{line}");
    assert!(line.contains("integrity.json"), "{line}");
}

#[test]
fn a_manifest_edited_after_signing_is_refused() {
    let r = Release::new();
    flip_a_byte(&r.root().join("share/asset.txt"));
    // Re-hash the edited file into the manifest, keeping the old signature.
    let path = r.root().join("integrity.json");
    let text = std::fs::read_to_string(&path).expect("read");
    let old = Manifest::parse(text.as_bytes()).expect("parse");
    let rel = flowork_manifest::RelPath::parse("share/asset.txt").expect("path");
    let new =
        flowork_manifest::hash::hash_file(&r.root().join("share/asset.txt"), None).expect("hash");
    let edited = text.replace(&old.files[&rel].to_string(), &new.to_string());
    assert_ne!(edited, text);
    std::fs::write(&path, edited).expect("write");
    let line = r.start("strict").refused();
    assert!(line.contains("edited after signing"), "{line}");
}

#[tokio::test]
async fn warn_mode_starts_with_drift_and_reports_not_serving() {
    let r = Release::new();
    flip_a_byte(&r.root().join("share/asset.txt"));
    let mut run = r.start("warn");
    let addr = run.started();
    assert!(
        run.log
            .iter()
            .any(|l| l.contains("share/asset.txt: changed")),
        "warn logs the file: {:?}",
        run.log
    );
    assert_eq!(health(addr).await, Status::NotServing);
    let report = status(addr).await;
    assert_eq!(report.outcome, "drift");
    assert_eq!(report.drift[0].path, "share/asset.txt");
    assert_eq!(report.drift[0].problem, "changed");
}

#[tokio::test]
async fn off_mode_starts_without_checking() {
    let r = Release::new();
    std::fs::remove_file(r.root().join("integrity.json")).expect("rm");
    let mut run = r.start("off");
    let addr = run.started();
    assert_eq!(health(addr).await, Status::Serving);
    assert_eq!(status(addr).await.outcome, "off");
}

#[tokio::test]
async fn a_file_changed_while_running_downgrades_health_and_shows_in_metrics() {
    let r = Release::new();
    let mut run = r.start("strict");
    let addr = run.started();
    assert_eq!(health(addr).await, Status::Serving);
    assert!(metrics(addr).contains("flowork_integrity_drifted_files 0"));
    flip_a_byte(&r.root().join("share/asset.txt"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while health(addr).await != Status::NotServing {
        assert!(Instant::now() < deadline, "health never went NOT_SERVING");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = metrics(addr);
    assert!(text.contains("flowork_integrity_drifted_files 1"), "{text}");
    assert!(text.contains("flowork_integrity_ok 0"), "{text}");
    assert!(
        text.contains("flowork_integrity_checks_total{result=\"drift\"}"),
        "{text}"
    );
    // Put back, it recovers.
    flip_a_byte(&r.root().join("share/asset.txt"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while health(addr).await != Status::Serving {
        assert!(Instant::now() < deadline, "health never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn a_missing_manifest_stops_start_up_naming_it_once() {
    let r = Release::new();
    std::fs::remove_file(r.root().join("integrity.json")).expect("rm");
    let mut run = r.start("strict");
    let line = run.refused();
    assert_eq!(line.matches("integrity.json").count(), 1, "{line}");
    assert!(line.contains("No such file"), "{line}");
    assert!(
        !run.log.iter().any(|l| l.contains("WARN")),
        "a strict refusal is one line, not a warning too: {:?}",
        run.log
    );
}
