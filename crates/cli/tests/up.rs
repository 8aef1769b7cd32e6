//! `flowork up` as a user runs it: a real process, real ports, real SQLite/Postgres, real signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_flowork");

/// A running `flowork up` and what its banner said.
struct Up {
    child: Child,
    url: String,
    banner: Vec<String>,
}

fn flowork(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("FLOWORK_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOWORK_") && !k.starts_with("FLOWORK_TEST_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn start(mut cmd: Command) -> Up {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn flowork");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = Vec::new();
    let mut url = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(u) = line.trim().strip_prefix("URL:") {
            url = u.split_whitespace().next().map(str::to_owned);
        }
        let done = line.starts_with("Press Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL in banner: {banner:?}"));
    // Keep draining stdout, as a terminal would, so later lines never hit a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Up { child, url, banner }
}

impl Drop for Up {
    /// A failed assertion must not leave a server running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Up {
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    status.success(),
                    "flowork up exited with {status} after Ctrl-C"
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "flowork up did not stop within 15 s of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The local engine's id, from the banner's `Engine:` line.
fn engine_id(up: &Up) -> String {
    up.banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("Engine:"))
        .and_then(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("eng_"))
        .unwrap_or_else(|| panic!("no engine id in {:?}", up.banner))
        .to_owned()
}

async fn healthz(url: &str) -> (u16, Value) {
    let res = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("GET /healthz");
    let code = res.status().as_u16();
    (code, res.json().await.expect("healthz json"))
}

fn status_of<'a>(health: &'a Value, name: &str) -> &'a str {
    health["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("{name} missing from {health}"))
}

#[tokio::test]
async fn up_serves_health_stops_on_ctrl_c_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");

    let up = start(flowork(&["up", "--data-dir", data, "--port", "0"]));
    let engine = up
        .banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("Engine API (loopback):"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the banner names the engine API")
        .to_owned();
    let first_engine = engine_id(&up);
    let first_banner = up.banner.join("\n");
    let text = &first_banner;
    assert!(
        text.contains(&format!(
            "{}/api/v1/engines/{first_engine}/workflows",
            up.url
        )) && text.contains(&format!("{}/webhook/{first_engine}/", up.url)),
        "{text}"
    );
    let nodes = reqwest::get(format!("{engine}/nodes"))
        .await
        .expect("GET nodes");
    assert_eq!(nodes.status(), 200);
    let login = up
        .banner
        .iter()
        .find(|l| l.contains("Login:"))
        .expect("first run prints the login");
    assert!(login.contains("admin / "), "{login}");
    let (code, health) = healthz(&up.url).await;
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["status"], "ok");
    for name in [
        "gateway",
        "database",
        "store",
        "scheduler",
        "integrity",
        "license",
    ] {
        assert_eq!(status_of(&health, name), "serving", "{health}");
    }
    for name in ["modules", "inference", "training", "sync"] {
        assert_eq!(status_of(&health, name), "not_implemented", "{health}");
    }
    let metrics = reqwest::get(format!("{}/metrics", up.url))
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .expect("body")
            .contains("flowork_http_requests_total")
    );
    up.stop();
    assert!(std::path::Path::new(data).join("flowork.db").is_file());
    assert!(
        std::path::Path::new(data).join("master.key").is_file(),
        "the vault key is created on first run"
    );

    let token_file = std::path::Path::new(data).join("engine.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file)
            .expect("engine.token")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the engine token is private");
    }
    let token = std::fs::read_to_string(&token_file).expect("token");
    assert!(
        !first_banner.contains(token.trim()),
        "the engine token is never printed"
    );

    // Same data dir: the admin from the first run is still there, so no new password, and the
    // same local engine (with the same token) links again.
    let again = start(flowork(&["up", "--data-dir", data, "--port", "0"]));
    assert!(
        !again.banner.iter().any(|l| l.contains("Login:")),
        "{:?}",
        again.banner
    );
    assert_eq!(engine_id(&again), first_engine, "registered once");
    assert_eq!(std::fs::read_to_string(&token_file).expect("token"), token);
    assert_eq!(healthz(&again.url).await.0, 200);
    again.stop();
}

#[tokio::test]
async fn admin_password_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = flowork(&["up", "--port", "0"]);
    cmd.current_dir(dir.path())
        .env("FLOWORK_ADMIN_PASSWORD", "correct horse battery staple");
    let up = start(cmd);
    let text = up.banner.join("\n");
    assert!(
        text.contains("password from FLOWORK_ADMIN_PASSWORD"),
        "{text}"
    );
    assert!(
        !text.contains("correct horse"),
        "the password must never be printed"
    );
    assert!(
        dir.path().join(".flowork/flowork.db").is_file(),
        "default data dir is ./.flowork"
    );
    up.stop();
}

/// Runs flowork expecting failure; returns its stderr, which must be exactly one line.
fn fails(mut cmd: Command) -> String {
    let out = cmd.output().expect("run flowork");
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8(out.stderr).expect("utf8");
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

#[test]
fn bad_configuration_exits_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf8");

    let mut cmd = flowork(&["up", "--data-dir", data]);
    cmd.env("FLOWORK_GATEWAY__LISTNE", "127.0.0.1:1");
    assert!(fails(cmd).contains("FLOWORK_GATEWAY__LISTNE"));

    let mut cmd = flowork(&["up", "--data-dir", data]);
    cmd.env("FLOWORK_DATABASE__URL", "mysql://root:hunter2@localhost/x");
    let err = fails(cmd);
    assert!(
        err.contains("database.url") && !err.contains("hunter2"),
        "{err}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let err = fails(flowork(&["up", "--data-dir", data, "--port", &port]));
    assert!(
        err.contains("gateway.listen") && err.contains("address already in use"),
        "{err}"
    );

    let taken_addr = taken.local_addr().expect("addr").to_string();
    let err = fails(flowork(&["serve", "store", "--listen", &taken_addr]));
    assert!(
        err.contains("store.listen") && err.contains("address already in use"),
        "{err}"
    );

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let under_file = file.join("data");
    let err = fails(flowork(&[
        "up",
        "--data-dir",
        under_file.to_str().expect("utf8"),
    ]));
    assert!(err.contains("data_dir"), "{err}");

    let mut cmd = flowork(&["up", "--data-dir", data]);
    cmd.env(
        "FLOWORK_DATABASE__URL",
        "postgres://flowork:secret@127.0.0.1:1/nope",
    );
    let err = fails(cmd);
    assert!(
        err.contains("database.url") && !err.contains("secret"),
        "{err}"
    );
}

#[test]
fn version_and_dump_config() {
    let out = flowork(&["--version"]).output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("flowork {}", env!("CARGO_PKG_VERSION"))
    );

    let mut cmd = flowork(&["--dump-config", "up", "--port", "9123"]);
    cmd.env("FLOWORK_DATABASE__URL", "postgres://u:pw@db/flowork");
    let out = cmd.output().expect("run");
    let dumped = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dumped.contains("listen = \"127.0.0.1:9123\""), "{dumped}");
    assert!(
        dumped.contains("u:***@db") && !dumped.contains(":pw@"),
        "{dumped}"
    );
}

#[tokio::test]
async fn up_runs_on_postgres_with_one_setting() {
    let Some(base) = flowork_testkit::postgres() else {
        return;
    };
    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect pg");
    tokio::spawn(conn);
    let db = format!("flowork_up_{}", std::process::id());
    // One statement per call: DROP/CREATE DATABASE refuse to run in an implicit transaction.
    let drop_db = format!("DROP DATABASE IF EXISTS {db}");
    admin.batch_execute(&drop_db).await.expect("drop old db");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    let mut url = url::Url::parse(&base).expect("FLOWORK_TEST_PG is a URL");
    url.set_path(&db);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = flowork(&[
        "up",
        "--data-dir",
        dir.path().to_str().expect("utf8"),
        "--port",
        "0",
    ]);
    cmd.env("FLOWORK_DATABASE__URL", url.as_str());
    let up = start(cmd);
    assert!(
        up.banner.iter().any(|l| l.contains("Database: Postgres")),
        "{:?}",
        up.banner
    );
    let (code, health) = healthz(&up.url).await;
    assert_eq!(code, 200, "{health}");
    let db_health = health["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "database"));
    assert_eq!(
        db_health.map(|d| d["detail"].clone()),
        Some(serde_json::json!("postgres")),
        "{health}"
    );
    up.stop();
    assert!(
        !dir.path().join("flowork.db").exists(),
        "no SQLite file when on Postgres"
    );

    let users: i64 = {
        let (c, conn) = tokio_postgres::connect(url.as_str(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        c.query_one("SELECT count(*) FROM users", &[])
            .await
            .expect("count")
            .get(0)
    };
    assert_eq!(users, 1, "the admin lives in Postgres");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .expect("drop db");
}

#[tokio::test]
async fn serve_runs_one_service_on_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = flowork(&[
        "serve",
        "gateway",
        "--listen",
        &addr,
        "--data-dir",
        dir.path().to_str().expect("utf8"),
    ])
    .stdout(Stdio::null())
    .spawn()
    .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        match reqwest::get(format!("http://{addr}/healthz")).await {
            Ok(res) => break res.json::<Value>().await.expect("json"),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("gateway never answered: {e}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    // Alone, the gateway reports itself and its database, and no local services.
    let names: Vec<&str> = health["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["gateway", "database"], "{health}");
    let bad = flowork(&["serve", "nonsense"]).output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown service \"nonsense\""));
}

#[tokio::test]
async fn a_master_key_that_does_not_fit_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf8");
    let first = start(flowork(&["up", "--data-dir", data, "--port", "0"]));
    first.stop();
    let key_file = dir.path().join("master.key");
    let before = std::fs::read(&key_file).expect("key file");
    // A different, well-formed key: 32 zero bytes.
    let mut cmd = flowork(&["up", "--data-dir", data, "--port", "0"]);
    cmd.env(
        "FLOWORK_MASTER_KEY",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let err = fails(cmd);
    assert!(err.contains("master key does not match"), "{err}");
    assert_eq!(
        std::fs::read(&key_file).expect("key file"),
        before,
        "the key file is untouched"
    );
}
