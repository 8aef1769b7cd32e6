//! Services as OS processes: `flowork-e2e-cli serve <service>` (the `flowork` command), each with
//! its own data dir and a log file that survives restarts. Killed when dropped.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `flowork` command, built by Cargo as this package's binary.
const BIN: &str = env!("CARGO_BIN_EXE_flowork-e2e-cli");

/// A free loopback address: bound, read and released; the service binds it a moment later.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// One service: how to start it, and its process while it runs.
pub struct Service {
    pub name: &'static str,
    data_dir: PathBuf,
    listen: Option<SocketAddr>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Service {
    /// `flowork serve <name>` under `root/<name>/`, on `listen` (the same port on every start).
    pub fn new(root: &Path, name: &'static str, listen: Option<SocketAddr>) -> Self {
        let data_dir = root.join(name);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        Self {
            name,
            log: root.join(format!("{name}.log")),
            data_dir,
            listen,
            env: Vec::new(),
            child: None,
            starts: 0,
        }
    }

    /// Sets an environment variable for every later start.
    pub fn env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Starts the process (appending to its log).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        use std::io::Write as _;
        let _ = writeln!(log, "===== {} start #{} =====", self.name, self.starts);
        let mut cmd = Command::new(BIN);
        // Only what this test sets: nothing from the caller's FLOWORK_* environment.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLOWORK_")) {
            cmd.env_remove(k);
        }
        cmd.env_remove("RUST_LOG")
            .env("FLOWORK_LOG__LEVEL", "info")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["--data-dir", self.data_dir.to_str().expect("utf-8 path")])
            .args(["serve", self.name]);
        if let Some(addr) = self.listen {
            cmd.args(["--listen", &addr.to_string()]);
        }
        let err = log.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {BIN} serve {}: {e}", self.name));
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Panics (with the exit status) if the process ended.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("{} exited: {status}", self.name);
        }
    }

    /// SIGKILL: no shutdown, no flushing, as a crash or `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last `lines` lines of its log (every start).
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
