//! Following the hub: `last_seen` on connect, on disconnect and periodically while connected;
//! on (re)connect, the engine's webhook table is fetched and its buffered webhooks delivered;
//! deliveries the engine could not take are retried on a tick.

use flowork_kit::CancellationToken;
use flowork_link::Presence;
use flowork_model::{EngineId, Timestamp};
use tokio::sync::broadcast;

use crate::Gateway;

impl Gateway {
    /// Marks every engine with webhooks still buffered from before a restart, before any engine
    /// can link: a live webhook must not overtake them (it queues behind until the drain ran).
    pub(crate) async fn mark_stored_backlogs(&self) {
        let engines = match self.accounts.list_engines(None).await {
            Ok(engines) => engines,
            Err(e) => {
                tracing::warn!(error = %e, "could not list engines to find buffered webhooks");
                return;
            }
        };
        for engine in engines {
            match self.accounts.webhook_backlog(engine.id).await {
                Ok(b) if b.count > 0 => self.link.mark_backlog(engine.id),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(engine = %engine.id, error = %e, "could not read the webhook buffer")
                }
            }
        }
    }

    /// Runs until `shutdown`; subscribe (`presence`) before the server accepts engines so no
    /// connect is missed.
    pub(crate) async fn watch_links(
        self,
        mut presence: broadcast::Receiver<Presence>,
        shutdown: CancellationToken,
    ) {
        let mut touch = tokio::time::interval(self.link.settings.touch_interval);
        let mut retry = tokio::time::interval(self.link.settings.retry_interval);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                msg = presence.recv() => match msg {
                    Ok(Presence::Connected(id)) => {
                        if let Some(engine) = parse(&id) {
                            // First: until the drain has run, live webhooks queue behind it.
                            self.link.mark_backlog(engine);
                            self.claim_link(engine).await;
                            self.touch(engine).await;
                            tokio::spawn(self.clone().on_connect(engine));
                        }
                    }
                    Ok(Presence::Disconnected(id)) => {
                        if let Some(engine) = parse(&id) {
                            self.touch(engine).await;
                            self.release_link(engine).await;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Missed some: treat every live engine as freshly connected.
                        for engine in self.online() {
                            self.claim_link(engine).await;
                            self.link.mark_backlog(engine);
                            tokio::spawn(self.clone().on_connect(engine));
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = touch.tick() => {
                    let online = self.online();
                    #[allow(clippy::cast_precision_loss)] // engine counts are far below 2^52
                    metrics::gauge!("flowork_gateway_engines_online").set(online.len() as f64);
                    for engine in online {
                        self.touch(engine).await;
                    }
                }
                _ = retry.tick() => {
                    for engine in self.link.backlogged() {
                        if self.link.is_online(engine) {
                            tokio::spawn(self.clone().drain(engine));
                        }
                    }
                }
            }
        }
    }

    /// Learn the engine's webhooks, then hand it what waited for it. Webhooks queue behind the
    /// buffer (marked by the caller) only if there is one, so a reconnect with nothing waiting
    /// does not turn live webhooks into buffered ones while the table is fetched.
    async fn on_connect(self, engine: EngineId) {
        if let Ok(b) = self.accounts.webhook_backlog(engine).await
            && b.count == 0
        {
            // A webhook buffered meanwhile spawns its own drain.
            self.link.clear_backlog(engine);
        }
        self.clone().refresh_routes(engine).await;
        self.drain(engine).await;
    }

    pub(crate) fn online(&self) -> Vec<EngineId> {
        self.link.hub.online().iter().filter_map(parse).collect()
    }

    async fn touch(&self, engine: EngineId) {
        if let Err(e) = self.accounts.touch_engine(engine, Timestamp::now()).await {
            tracing::warn!(%engine, error = %e, "cannot record when the engine was seen");
        }
    }
}

fn parse(id: &flowork_link::EngineId) -> Option<EngineId> {
    id.as_str().parse().ok()
}
