//! Which workflow a webhook request starts: an index of the `trigger.webhook` nodes of active
//! workflows' head versions, by method and path.
//!
//! Rebuilt when the API changes a workflow in this process, and at most every few seconds
//! otherwise, so changes made through another engine process show up soon after.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flowork_model::WorkflowId;
use flowork_model::workflow::Param;
use flowork_storage::Page;
use serde_json::Value;
use tokio::sync::RwLock;

use crate::engine::{Engine, EngineError};

const MAX_AGE: Duration = Duration::from_secs(3);

/// How a webhook answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Respond {
    /// 202 with the execution id, at once.
    Immediately,
    /// The workflow's result, once it finishes.
    LastNode,
}

/// A webhook trigger that a request can start.
#[derive(Debug, Clone)]
pub struct Target {
    pub workflow_id: WorkflowId,
    pub version: u32,
    /// The trigger node's id.
    pub node: String,
    pub respond: Respond,
    /// Credential holding the HMAC secret, if requests must be signed.
    pub secret: Option<String>,
    /// Whether the workflow has a `core.respond` node (its output is then the HTTP answer).
    pub has_respond_node: bool,
}

/// `(METHOD or ANY, path)` → target.
type Routes = HashMap<(String, String), Target>;

/// The index, with when it was built.
#[derive(Default)]
pub struct WebhookIndex {
    entries: RwLock<(Option<Instant>, Routes)>,
    stale: AtomicBool,
}

impl WebhookIndex {
    /// Marks the index for rebuilding on the next request (a workflow changed).
    pub fn invalidate(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// The target for a request, if any active workflow listens there.
    pub async fn find(
        &self,
        engine: &Engine,
        method: &str,
        path: &str,
    ) -> Result<Option<Target>, EngineError> {
        let path = path.trim_matches('/');
        {
            let guard = self.entries.read().await;
            let fresh = guard.0.is_some_and(|t| t.elapsed() < MAX_AGE)
                && !self.stale.load(Ordering::Acquire);
            if fresh {
                return Ok(lookup(&guard.1, method, path));
            }
        }
        let mut guard = self.entries.write().await;
        self.stale.store(false, Ordering::Release);
        guard.1 = build(engine).await?;
        guard.0 = Some(Instant::now());
        Ok(lookup(&guard.1, method, path))
    }

    /// Every route as `(METHOD or ANY, path, target)`, by path then method.
    pub async fn all(&self, engine: &Engine) -> Result<Vec<(String, String, Target)>, EngineError> {
        // `find` rebuilds the index when it is stale; what it finds does not matter here.
        self.find(engine, "GET", "").await?;
        let guard = self.entries.read().await;
        let mut all: Vec<_> = guard
            .1
            .iter()
            .map(|((m, p), t)| (m.clone(), p.clone(), t.clone()))
            .collect();
        all.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        Ok(all)
    }
}

fn lookup(map: &Routes, method: &str, path: &str) -> Option<Target> {
    map.get(&(method.to_ascii_uppercase(), path.to_owned()))
        .or_else(|| map.get(&("ANY".to_owned(), path.to_owned())))
        .cloned()
}

async fn build(engine: &Engine) -> Result<Routes, EngineError> {
    let mut map = HashMap::new();
    let mut after = None;
    loop {
        let page = engine
            .store()
            .list_workflows(Page {
                limit: 1000,
                after: after.clone(),
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        for wf in page.iter().filter(|w| w.active && w.head_version > 0) {
            let compiled = match engine.compiled(wf.id, wf.head_version).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(workflow = %wf.id, error = %e, "skipping a workflow whose head does not compile");
                    continue;
                }
            };
            let has_respond_node = compiled.nodes.iter().any(|n| n.kind == "core.respond");
            for node in compiled
                .nodes
                .iter()
                .filter(|n| n.kind == "trigger.webhook")
            {
                let text = |name: &str| match node.params.get(name) {
                    Some(Param::Literal(Value::String(s))) => Some(s.clone()),
                    _ => None,
                };
                let path = text("path")
                    .unwrap_or_default()
                    .trim_matches('/')
                    .to_owned();
                let method = text("method").unwrap_or_else(|| "POST".into());
                let respond = if text("respond").as_deref() == Some("last_node") {
                    Respond::LastNode
                } else {
                    Respond::Immediately
                };
                let target = Target {
                    workflow_id: wf.id,
                    version: wf.head_version,
                    node: node.id.clone(),
                    respond,
                    secret: text("secret"),
                    has_respond_node,
                };
                if map.insert((method.clone(), path.clone()), target).is_some() {
                    tracing::warn!(%method, %path, "two active workflows listen on the same webhook; the later one wins");
                }
            }
        }
    }
    Ok(map)
}
