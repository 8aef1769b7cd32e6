//! The gas ledger on Postgres: one conditional upsert. `INSERT … ON CONFLICT DO UPDATE` locks
//! the row and re-checks the WHERE on its latest version, so concurrent charges serialize on it.

use async_trait::async_trait;
use flowork_model::{Gas, Jti, OutOfGas};

use super::rows::get;
use super::{PgStore, db_err};
use crate::error::Result;
use crate::gas::{GasLedger, from_i64, to_i64};

const CHARGE: &str = "INSERT INTO gas_ledger (jti, used, budget, updated_at)
     SELECT $1::TEXT, $2::BIGINT, $3::BIGINT, $4::BIGINT WHERE $2::BIGINT <= $3::BIGINT
     ON CONFLICT (jti) DO UPDATE SET used = gas_ledger.used + EXCLUDED.used,
         budget = EXCLUDED.budget, updated_at = EXCLUDED.updated_at
         WHERE gas_ledger.used <= $3::BIGINT - $2::BIGINT
     RETURNING used";

const USED: &str = "SELECT used FROM gas_ledger WHERE jti = $1";

#[async_trait]
impl GasLedger for PgStore {
    async fn charge(&self, jti: &Jti, add: Gas, budget: Gas) -> Result<Result<Gas, OutOfGas>> {
        let (a, b) = (to_i64(add, "charge")?, to_i64(budget, "budget")?);
        let client = self.client().await?;
        let now = flowork_model::Timestamp::now().millis();
        let row = client
            .query_opt(CHARGE, &[&jti.as_str(), &a, &b, &now])
            .await
            .map_err(db_err)?;
        if let Some(row) = row {
            return Ok(Ok(from_i64(get(&row, 0)?)));
        }
        let used = client
            .query_opt(USED, &[&jti.as_str()])
            .await
            .map_err(db_err)?
            .map(|r| get::<i64>(&r, 0))
            .transpose()?;
        Ok(Err(OutOfGas {
            used: from_i64(used.unwrap_or(0)),
            add,
            total: budget,
        }))
    }

    async fn gas_used(&self, jti: &Jti) -> Result<Gas> {
        let client = self.client().await?;
        let used = client
            .query_opt(USED, &[&jti.as_str()])
            .await
            .map_err(db_err)?
            .map(|r| get::<i64>(&r, 0))
            .transpose()?;
        Ok(from_i64(used.unwrap_or(0)))
    }
}
