//! The FAC gas ledger: charges add up, a refused charge consumes nothing, and concurrent
//! executions sharing one token never overspend it.

use std::sync::Arc;

use flowork_model::{Gas, Jti, OutOfGas};
use flowork_storage::GasLedger;

use crate::harness::Fixture;

pub async fn gas_charge_and_refuse(fx: &Fixture) {
    let s = &fx.ledger;
    let jti = Jti::new();
    assert_eq!(s.gas_used(&jti).await.expect("used"), Gas(0));
    assert_eq!(
        s.charge(&jti, Gas(90), Gas(100)).await.expect("c"),
        Ok(Gas(90))
    );
    assert_eq!(
        s.charge(&jti, Gas(5), Gas(100)).await.expect("c"),
        Ok(Gas(95))
    );
    let refused = s.charge(&jti, Gas(10), Gas(100)).await.expect("c");
    let expected = OutOfGas {
        used: Gas(95),
        add: Gas(10),
        total: Gas(100),
    };
    assert_eq!(refused, Err(expected));
    assert_eq!(
        expected.to_string(),
        "Out of gas: used=95, add=10, total=100"
    );
    assert_eq!(
        s.charge(&jti, Gas(5), Gas(100)).await.expect("c"),
        Ok(Gas(100))
    );
    assert_eq!(
        s.charge(&jti, Gas(0), Gas(100)).await.expect("c"),
        Ok(Gas(100))
    );
    assert!(s.charge(&jti, Gas(1), Gas(100)).await.expect("c").is_err());
    // A first charge over budget writes nothing; huge values neither overflow nor wrap.
    let other = Jti::new();
    assert!(
        s.charge(&other, Gas(11), Gas(10))
            .await
            .expect("c")
            .is_err()
    );
    assert_eq!(s.gas_used(&other).await.expect("used"), Gas(0));
    let max = Gas(i64::MAX as u64);
    assert_eq!(s.charge(&other, max, max).await.expect("c"), Ok(max));
    assert!(s.charge(&other, max, max).await.expect("c").is_err());
    assert!(s.charge(&other, Gas(u64::MAX), max).await.is_err());
}

/// The test: 50 executions of 5 nodes each (250 gas wanted) share a token with budget
/// 100 at cost 1 per node: exactly 100 is consumed, never more.
pub async fn gas_concurrent_executions_never_overspend(fx: &Fixture) {
    let jti = Jti::new();
    let tasks = (0..50).map(|_| {
        let store: Arc<dyn GasLedger> = Arc::clone(&fx.ledger);
        let jti = jti.clone();
        tokio::spawn(async move {
            let mut ran = 0u64;
            for _ in 0..5 {
                match store.charge(&jti, Gas(1), Gas(100)).await.expect("charge") {
                    Ok(used) => {
                        assert!(used <= Gas(100), "{used}");
                        ran += 1;
                    }
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
    assert_eq!(total, 100, "nodes charged");
    assert_eq!(fx.ledger.gas_used(&jti).await.expect("used"), Gas(100));
}
