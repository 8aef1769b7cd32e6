//! Helpers the CLI process tests share: the real `flowork` binary, `flowork up`, HTTP calls.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

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
