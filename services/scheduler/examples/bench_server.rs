//! The engine API alone, for `scripts/bench api`: serves `flowork_scheduler::api::router` over a
//! SQLite file on `127.0.0.1`, and prints `port=<port>` once it listens.
//!
//!   cargo run --release -p flowork-scheduler --example bench_server -- <db-file> [port]
//!
//! No vault, no gateway, no auth: only the engine and its store, so what is measured is theirs.

use flowork_scheduler::{Engine, Runner};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args.next().ok_or("usage: bench_server <db-file> [port]")?;
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let store = flowork_storage::connect(&format!("sqlite://{db}"), 4).await?;
    let runner = Runner::new(Engine::new(store), CancellationToken::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("port={}", listener.local_addr()?.port());
    axum::serve(listener, flowork_scheduler::api::router(runner)).await?;
    Ok(())
}
