//! The FAC gas ledger on Redis (the store ledgers run in the storage conformance suite): the
//! issue's test, 50 executions of 5 nodes sharing budget 100, consume exactly 100.

use std::sync::Arc;

use flowork_model::{Gas, Jti, OutOfGas};
use flowork_queue::{RedisConfig, RedisQueue};
use flowork_storage::GasLedger;

async fn ledger() -> Option<(Arc<dyn GasLedger>, String, String)> {
    let url = flowork_testkit::redis()?;
    let prefix = format!("flowork-test:{}", uuid::Uuid::now_v7().simple());
    let mut cfg = RedisConfig::new(url.clone(), "gas");
    cfg.prefix = prefix.clone();
    let q = RedisQueue::connect(cfg).await.expect("connect redis");
    Some((Arc::new(q.gas_ledger()), url, prefix))
}

async fn cleanup(url: &str, prefix: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .expect("del");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gas_charge_refuse_and_concurrency() {
    let Some((l, url, prefix)) = ledger().await else {
        return;
    };
    let jti = Jti::new();
    assert_eq!(
        l.charge(&jti, Gas(95), Gas(100)).await.expect("c"),
        Ok(Gas(95))
    );
    assert_eq!(
        l.charge(&jti, Gas(10), Gas(100)).await.expect("c"),
        Err(OutOfGas {
            used: Gas(95),
            add: Gas(10),
            total: Gas(100)
        })
    );
    assert_eq!(l.gas_used(&jti).await.expect("used"), Gas(95));
    assert!(l.charge(&jti, Gas(u64::MAX), Gas(100)).await.is_err());

    let shared = Jti::new();
    let tasks = (0..50).map(|_| {
        let (l, jti) = (Arc::clone(&l), shared.clone());
        tokio::spawn(async move {
            let mut ran = 0u64;
            for _ in 0..5 {
                match l.charge(&jti, Gas(1), Gas(100)).await.expect("charge") {
                    Ok(_) => ran += 1,
                    Err(_) => break,
                }
            }
            ran
        })
    });
    let mut total = 0;
    for t in futures::future::join_all(tasks).await {
        total += t.expect("task");
    }
    assert_eq!(total, 100);
    assert_eq!(l.gas_used(&shared).await.expect("used"), Gas(100));
    cleanup(&url, &prefix).await;
}
