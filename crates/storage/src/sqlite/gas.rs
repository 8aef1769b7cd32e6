//! The gas ledger on SQLite: one conditional upsert on the writer thread.

use async_trait::async_trait;
use flowork_model::{Gas, Jti, OutOfGas};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, db_err, now};
use crate::error::Result;
use crate::gas::{GasLedger, from_i64, to_i64};

/// Inserts the first charge or adds to the row, only while `used <= budget - add`; returns no
/// row when that does not hold. (`WHERE ?2 <= ?3` also keeps a first charge within budget; the
/// SELECT needs a WHERE anyway so SQLite parses ON CONFLICT as the upsert clause.)
const CHARGE: &str = "INSERT INTO gas_ledger (jti, used, budget, updated_at)
     SELECT ?1, ?2, ?3, ?4 WHERE ?2 <= ?3
     ON CONFLICT (jti) DO UPDATE SET used = gas_ledger.used + excluded.used,
         budget = excluded.budget, updated_at = excluded.updated_at
         WHERE gas_ledger.used <= ?3 - ?2
     RETURNING used";

const USED: &str = "SELECT used FROM gas_ledger WHERE jti = ?1";

#[async_trait]
impl GasLedger for SqliteStore {
    async fn charge(&self, jti: &Jti, add: Gas, budget: Gas) -> Result<Result<Gas, OutOfGas>> {
        let (a, b) = (to_i64(add, "charge")?, to_i64(budget, "budget")?);
        let jti = jti.as_str().to_owned();
        // One write job: the check and the refusal's `used` are read under the same writer.
        self.write(move |c| {
            let charged: Option<i64> = c
                .prepare_cached(CHARGE)
                .and_then(|mut st| {
                    st.query_row(params![jti, a, b, now()], |r| r.get(0))
                        .optional()
                })
                .map_err(db_err)?;
            if let Some(used) = charged {
                return Ok(Ok(from_i64(used)));
            }
            let used: Option<i64> = c
                .prepare_cached(USED)
                .and_then(|mut st| st.query_row([&jti], |r| r.get(0)).optional())
                .map_err(db_err)?;
            Ok(Err(OutOfGas {
                used: from_i64(used.unwrap_or(0)),
                add,
                total: budget,
            }))
        })
        .await
    }

    async fn gas_used(&self, jti: &Jti) -> Result<Gas> {
        let jti = jti.as_str().to_owned();
        self.read(move |c| {
            c.prepare_cached(USED)
                .and_then(|mut st| st.query_row([&jti], |r| r.get::<_, i64>(0)).optional())
                .map(|u| from_i64(u.unwrap_or(0)))
                .map_err(db_err)
        })
        .await
    }
}
