//! A gateway per test over a real store: a temp SQLite file, or a fresh Postgres schema.

use std::net::SocketAddr;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use flowork_gateway::Gateway;
use flowork_kit::Config;
use flowork_model::{Role, UserId};
use flowork_storage::{AccountStore, NewUser, PgStore, SqliteStore, Store, User};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

/// The password of every user [`Fixture::user`] creates.
pub const PASSWORD: &str = "correct horse battery";

/// One gateway under test.
pub struct Fixture {
    pub gw: Gateway,
    pub app: Router,
    pub accounts: Arc<dyn AccountStore>,
    dir: TempDir,
    pg: Option<(String, String)>,
}

/// An answer: status, headers and the JSON body (`null` when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Fixture {
    pub async fn sqlite() -> Option<Fixture> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flowork.db");
        let s = SqliteStore::open(path.to_str().expect("utf8"), 4)
            .await
            .expect("open sqlite");
        Some(Self::build(Arc::new(s.clone()), Arc::new(s), dir, None, true).await)
    }

    pub async fn postgres() -> Option<Fixture> {
        let url = flowork_testkit::postgres()?;
        let schema = format!("flowork_gw_{}", uuid::Uuid::now_v7().simple());
        let s = PgStore::connect_in_schema(&url, &schema, 4)
            .await
            .expect("connect postgres");
        let dir = tempfile::tempdir().expect("tempdir");
        Some(
            Self::build(
                Arc::new(s.clone()),
                Arc::new(s),
                dir,
                Some((url, schema)),
                true,
            )
            .await,
        )
    }

    async fn build(
        store: Arc<dyn Store>,
        accounts: Arc<dyn AccountStore>,
        dir: TempDir,
        pg: Option<(String, String)>,
        public_metrics: bool,
    ) -> Fixture {
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.gateway.public_metrics = public_metrics;
        let gw = Gateway::new(&cfg, store, accounts.clone(), Vec::new())
            .await
            .expect("gateway");
        Fixture {
            app: gw.clone().router(),
            gw,
            accounts,
            dir,
            pg,
        }
    }

    /// The same store and key, with `/metrics` behind auth.
    pub async fn with_private_metrics(&self) -> Router {
        let mut cfg = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.gateway.public_metrics = false;
        let store: Arc<dyn Store> = match &self.pg {
            None => Arc::new(
                SqliteStore::open(
                    self.dir.path().join("flowork.db").to_str().expect("utf8"),
                    2,
                )
                .await
                .expect("reopen"),
            ),
            Some((url, schema)) => Arc::new(
                PgStore::connect_in_schema(url, schema, 2)
                    .await
                    .expect("reconnect"),
            ),
        };
        Gateway::new(&cfg, store, self.accounts.clone(), Vec::new())
            .await
            .expect("gateway")
            .router()
    }

    /// A new gateway over the same database, opened again, and the same key: what a restarted
    /// gateway process would be (nothing in memory survives).
    pub async fn restarted(&self) -> Gateway {
        let cfg = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        self.reopened(cfg).await
    }

    /// A gateway replica over the same database and key, sharing `redis_url` under `prefix`.
    pub async fn replica(&self, redis_url: &str, prefix: &str) -> Gateway {
        let mut cfg = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.gateway.redis_url = Some(redis_url.to_owned());
        cfg.gateway.redis_prefix = prefix.to_owned();
        self.reopened(cfg).await
    }

    async fn reopened(&self, cfg: Config) -> Gateway {
        self.configured(|c| *c = cfg).await.expect("gateway")
    }

    /// A gateway over the same database and key, with the config `edit` makes (a license file,
    /// say); the error when that config does not start.
    pub async fn configured(
        &self,
        edit: impl FnOnce(&mut Config),
    ) -> Result<Gateway, flowork_gateway::GatewayError> {
        let mut cfg = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        edit(&mut cfg);
        let (store, accounts): (Arc<dyn Store>, Arc<dyn AccountStore>) = match &self.pg {
            None => {
                let path = self.dir.path().join("flowork.db");
                let s = SqliteStore::open(path.to_str().expect("utf8"), 2)
                    .await
                    .expect("reopen");
                (Arc::new(s.clone()), Arc::new(s))
            }
            Some((url, schema)) => {
                let s = PgStore::connect_in_schema(url, schema, 2)
                    .await
                    .expect("reconnect");
                (Arc::new(s.clone()), Arc::new(s))
            }
        };
        Gateway::new(&cfg, store, accounts, Vec::new()).await
    }

    /// The temp dir the fixture's files live in.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn cleanup(self) {
        let Fixture {
            pg,
            gw,
            app,
            accounts,
            dir,
        } = self;
        drop((gw, app, accounts, dir));
        if let Some((url, schema)) = pg {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("raw pg");
            tokio::spawn(conn);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop schema");
        }
    }

    /// A user with [`PASSWORD`] (hashed with cheap argon2id parameters: tests, not security).
    pub async fn user(&self, name: &str, role: Role) -> User {
        let params = Params::new(1024, 1, 1, None).expect("params");
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        self.accounts
            .create_user(NewUser {
                id: UserId::new(),
                username: name.into(),
                password_hash: hash,
                role,
            })
            .await
            .expect("create user")
    }

    /// Logs `name` in; answers (access token, refresh token).
    pub async fn login(&self, name: &str) -> (String, String) {
        let a = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": name, "password": PASSWORD})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        (
            a.body["access_token"].as_str().expect("access").to_owned(),
            a.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        )
    }

    /// A user and their access token.
    pub async fn user_token(&self, name: &str, role: Role) -> (User, String) {
        let u = self.user(name, role).await;
        let (access, _) = self.login(name).await;
        (u, access)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        send(
            &self.app,
            request(
                method,
                path,
                bearer,
                body.map(|b| b.to_string()),
                [10, 0, 0, 1],
            ),
        )
        .await
    }
}

/// A request from `ip`, as the real server would hand it over (with `ConnectInfo`).
pub fn request(
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<String>,
    ip: [u8; 4],
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let mut req = b
        .body(body.map_or_else(Body::empty, Body::from))
        .expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    req
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 24)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// Asserts a problem answer with `status`, naming `field` when given.
pub fn assert_problem(a: &Answer, status: StatusCode, field: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{}",
        a.text
    );
    assert_eq!(a.body["status"], status.as_u16(), "{}", a.text);
    if let Some(f) = field {
        assert_eq!(a.body["field"], f, "{}", a.text);
    }
}
