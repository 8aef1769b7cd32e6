-- Flowork schema, SQLite flavour. Timestamps are INTEGER milliseconds since the epoch,
-- JSON is TEXT, bytes are BLOB. Keep in step with migrations/postgres/0001_init.sql.

CREATE TABLE workflows (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0,
    head_version INTEGER NOT NULL DEFAULT 0,
    head_hash    TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE workflow_versions (
    workflow_id   TEXT    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    hash          TEXT    NOT NULL,
    previous_hash TEXT,
    author_id     TEXT,
    signed        INTEGER NOT NULL,
    record        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id          TEXT    NOT NULL PRIMARY KEY,
    workflow_id TEXT    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    "trigger"   TEXT    NOT NULL,
    input       TEXT    NOT NULL,
    output      TEXT,
    error       TEXT,
    parent_id   TEXT,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX executions_by_workflow ON executions (workflow_id, id);
CREATE INDEX executions_by_status ON executions (status, id);
CREATE INDEX executions_by_created ON executions (created_at);

CREATE TABLE node_runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    input        TEXT    NOT NULL,
    output       TEXT,
    error        TEXT,
    gas          INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (execution_id, node_id, attempt)
);
CREATE INDEX node_runs_by_start ON node_runs (execution_id, started_at, seq);

CREATE TABLE credentials (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE kv (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);

-- A message is visible when available_at <= now; leasing moves available_at to the lease's end,
-- so one index serves both "never leased" and "lease expired".
CREATE TABLE queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    locked_by    TEXT,
    lease_until  INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX queue_visible ON queue (queue, available_at, id);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
