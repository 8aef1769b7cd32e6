//! The gateway's REST API and public webhooks, as a client sees them.

use std::future::Future;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// An admin's session with the gateway at `base`.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// A response: status, `Retry-After` (if any) and the JSON body (`null` if not JSON).
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Api {
    /// Logs in as `admin`; `None` while the gateway does not answer yet.
    pub async fn login(base: &str, password: &str) -> Option<Api> {
        // No pooled connections: the gateway is killed and restarted under this client.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(20))
            .build()
            .ok()?;
        let res = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .await
            .ok()?;
        let pair: Value = res.json().await.ok()?;
        let token = pair["access_token"].as_str()?.to_owned();
        Some(Api {
            http,
            base: base.to_owned(),
            token,
        })
    }

    /// An authenticated API call; `path` starts with `/api/v1/`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// `POST /webhook/{engine}/{path}` with a JSON body, signed with `key` when given
    /// (`x-flowork-signature: sha256=<HMAC-SHA256 of the body>`). Public: no token.
    pub async fn webhook(
        &self,
        engine: &str,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Answer {
        let bytes = body.to_string();
        let mut req = self
            .http
            .post(format!("{}/webhook/{engine}/{path}", self.base))
            .header("content-type", "application/json");
        if let Some(key) = key {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
            mac.update(bytes.as_bytes());
            let sig = hex::encode(mac.finalize().into_bytes());
            req = req.header("x-flowork-signature", format!("sha256={sig}"));
        }
        let res = req
            .body(bytes)
            .send()
            .await
            .unwrap_or_else(|e| panic!("webhook {path}: {e}"));
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            retry_after,
            body,
        }
    }

    /// Whether the gateway lists `engine` as online.
    pub async fn online(&self, engine: &str) -> bool {
        let (_, list) = self.get("/api/v1/engines").await;
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["id"] == engine && e["online"] == true)
    }

    /// The sum of a counter in the gateway's `/metrics` (0 before it is first counted).
    pub async fn counter(&self, name: &str) -> f64 {
        let url = format!("{}/metrics", self.base);
        let text = match self.http.get(&url).send().await {
            Ok(res) => res.text().await.unwrap_or_default(),
            Err(e) => panic!("GET /metrics: {e}"),
        };
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Every execution of `workflow` on `engine`, newest first.
    pub async fn executions(&self, engine: &str, workflow: &str) -> Vec<Value> {
        let path = format!("/api/v1/engines/{engine}/executions?workflow_id={workflow}");
        let (status, list) = self.get(&path).await;
        assert_eq!(status, 200, "{path}: {list}");
        list.as_array().cloned().unwrap_or_default()
    }
}

/// Polls `check` until it gives a value; panics naming `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
