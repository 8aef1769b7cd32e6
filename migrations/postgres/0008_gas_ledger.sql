-- The FAC gas ledger (DESIGN §5): gas used per token id. Charged by one conditional upsert
-- (`used <= budget - add`), so concurrent workers can never overspend a token.
-- Keep in step with migrations/sqlite/0008_gas_ledger.sql.

CREATE TABLE gas_ledger (
    jti        TEXT    NOT NULL PRIMARY KEY,
    used       BIGINT NOT NULL CHECK (used >= 0),
    budget     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
