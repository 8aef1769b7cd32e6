-- The gateway's webhook buffer (DESIGN §3): webhooks that arrived while their engine was offline,
-- delivered in `seq` order when it reconnects and deleted once the engine has answered; and the
-- gateway's copy of each engine's webhook table, so a restarted gateway still knows which paths
-- to buffer. Both go with their engine.
-- Keep in step with migrations/postgres/0005_webhook_buffer.sql.

CREATE TABLE webhook_deliveries (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    engine_id   TEXT    NOT NULL REFERENCES engines (id) ON DELETE CASCADE,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    query       TEXT,
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_engine ON webhook_deliveries (engine_id, seq);

CREATE TABLE engine_webhook_routes (
    engine_id  TEXT    NOT NULL PRIMARY KEY REFERENCES engines (id) ON DELETE CASCADE,
    routes     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
