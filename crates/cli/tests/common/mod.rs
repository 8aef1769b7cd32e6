//! Helpers the CLI process tests share: the real `flowork` binary, `flowork up`, HTTP calls.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_flowork");
pub const PASSWORD: &str = "a long enough admin password";

pub fn flowork(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWORK_") && !k.starts_with("FLOWORK_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Kills the child if a failed assertion leaves it running.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `flowork up`; returns it and its URL once the banner is out.
pub fn up(data: &str) -> (Guard, String) {
    let mut child = flowork(&["up", "--data-dir", data, "--port", "0"])
        .env("FLOWORK_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn flowork up");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("read");
        if let Some(u) = line.trim().strip_prefix("URL:") {
            url = u.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (Guard(child), url.expect("URL in the banner"))
}

pub async fn call(
    method: reqwest::Method,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Runs `cmd` with the author key's passphrase set (and a cheap scrypt cost; the default is the
/// standard 2^18), feeding it `stdin`.
pub fn with_key(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .env("FLOWORK_KEY_PASSPHRASE", "a passphrase")
        .env("FLOWORK_KEY_SCRYPT_LOG_N", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flowork");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The admin's access token at the gateway `url`.
pub async fn login(url: &str) -> String {
    let (status, pair) = call(
        reqwest::Method::POST,
        format!("{url}/api/v1/auth/login"),
        None,
        Some(json!({"username": "admin", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    pair["access_token"].as_str().expect("token").to_owned()
}
