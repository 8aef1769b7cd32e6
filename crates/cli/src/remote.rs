//! Reaching an engine's API from the command line: through the gateway
//! (`<gateway>/api/v1/engines/<id>/…`, authenticated with `FLOWORK_API_TOKEN`), or directly on
//! the engine's private port (`--engine-url`, no auth; for tools on the engine's machine).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use flowork_kit::entry::ConfigArgs;
use reqwest::StatusCode;
use zeroize::Zeroizing;

/// The environment variable holding the gateway credential (an `fk_…` API key or an access
/// token). Never a flag: it would show in `ps` and shell history.
pub const TOKEN_ENV: &str = "FLOWORK_API_TOKEN";

/// Where the engine is.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// The gateway [default: http://127.0.0.1:8000, where `flowork up` listens]. Authenticates
    /// with FLOWORK_API_TOKEN (an API key, `POST /api/v1/api-keys`, or an access token)
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// The engine's id at the gateway [default: <data dir>/engine.id, the engine of `flowork up`]
    #[arg(long, value_name = "ID")]
    pub engine: Option<String>,
    /// Talk to an engine API directly instead (its private port, e.g. http://127.0.0.1:7100;
    /// no auth)
    #[arg(long, value_name = "URL", env = "FLOWORK_ENGINE_URL", conflicts_with_all = ["gateway", "engine"])]
    pub engine_url: Option<String>,
}

/// Why a remote command failed: one line for stderr.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The engine (or gateway) answered with a problem.
    #[error("{status}: {detail}")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The problem's detail (and field), or the body.
        detail: String,
    },
    /// It could not be reached.
    #[error("{0}")]
    Http(String),
    /// Something the user gave (or a file) is unusable.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Key(#[from] crate::key::KeyError),
    #[error(transparent)]
    Chain(#[from] flowork_flowchain::Error),
}

/// An engine API client; paths are relative to the engine's `/api/v1`.
#[derive(Debug)]
pub struct EngineClient {
    base: String,
    token: Option<Zeroizing<String>>,
    http: reqwest::Client,
}

impl EngineClient {
    /// The client `args` describe (the data dir from the config names the local engine).
    pub fn new(config: &ConfigArgs, args: &EngineArgs) -> Result<Self, RemoteError> {
        let base = match &args.engine_url {
            Some(url) => format!("{}/api/v1", url.trim_end_matches('/')),
            None => {
                let gateway = args.gateway.as_deref().unwrap_or("http://127.0.0.1:8000");
                let engine = match &args.engine {
                    Some(id) => id.clone(),
                    None => local_engine(config)?,
                };
                format!("{}/api/v1/engines/{engine}", gateway.trim_end_matches('/'))
            }
        };
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(Zeroizing::new);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| RemoteError::Http(e.to_string()))?;
        Ok(Self { base, token, http })
    }

    /// `GET path`: the status and body (any status; see [`EngineClient::expect`]).
    pub async fn get(&self, path: &str) -> Result<(StatusCode, Bytes), RemoteError> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), RemoteError> {
        let req = self
            .http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(req).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Bytes), RemoteError> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.as_str());
        }
        let res = req
            .send()
            .await
            .map_err(|e| RemoteError::Http(format!("cannot reach {}: {e}", self.base)))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| RemoteError::Http(format!("reading the answer: {e}")))?;
        Ok((status, body))
    }

    /// `body` when `status` is `want`, else the answer as an error (with a hint for 401).
    pub fn expect(
        &self,
        want: StatusCode,
        (status, body): (StatusCode, Bytes),
    ) -> Result<Bytes, RemoteError> {
        if status == want {
            return Ok(body);
        }
        let mut detail = problem_detail(&body);
        if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
            detail.push_str(&format!(" (set {TOKEN_ENV} to an API key)"));
        }
        Err(RemoteError::Api { status, detail })
    }
}

/// A small runtime for one command's few requests.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, RemoteError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RemoteError::Http(format!("cannot start the async runtime: {e}")))
}

/// A problem's `detail` (with its `field`), or the body as text.
fn problem_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<flowork_kit::Problem>(body) {
        Ok(p) => match p.field {
            Some(f) => format!("{} (field {f})", p.detail),
            None => p.detail,
        },
        Err(_) => String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect(),
    }
}

/// The `flowork up` engine's id, from `<data dir>/engine.id`.
fn local_engine(config: &ConfigArgs) -> Result<String, RemoteError> {
    let cfg = config
        .load(serde_json::json!({}))
        .map_err(|e| RemoteError::Input(e.to_string()))?;
    let path = cfg.data_dir.join(crate::local_engine::ID_FILE);
    read_id(&path)
}

fn read_id(path: &Path) -> Result<String, RemoteError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| {
            RemoteError::Input(format!(
                "{}: {e} (run `flowork up` first, or pass --engine ID or --engine-url URL)",
                path.display()
            ))
        })
}
