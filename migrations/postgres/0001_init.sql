-- Flowork schema, Postgres flavour. Timestamps are BIGINT milliseconds since the epoch, JSON is
-- JSONB, bytes are BYTEA. Tables are unqualified: they land in the connection's search_path.
-- Ids and keys use the "C" collation so keyset pagination orders exactly like SQLite.
-- Keep in step with migrations/sqlite/0001_init.sql.

CREATE TABLE workflows (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT FALSE,
    head_version BIGINT  NOT NULL DEFAULT 0,
    head_hash    TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE workflow_versions (
    workflow_id   TEXT COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version       BIGINT  NOT NULL,
    hash          TEXT    NOT NULL,
    previous_hash TEXT,
    author_id     TEXT,
    signed        BOOLEAN NOT NULL,
    record        JSONB   NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE executions (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workflow_id TEXT COLLATE "C" NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    "trigger"   TEXT   NOT NULL,
    input       JSONB  NOT NULL,
    output      JSONB,
    error       TEXT,
    parent_id   TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT
);
CREATE INDEX executions_by_workflow ON executions (workflow_id, id);
CREATE INDEX executions_by_status ON executions (status, id);
CREATE INDEX executions_by_created ON executions (created_at);

CREATE TABLE node_runs (
    seq          BIGSERIAL PRIMARY KEY,
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    node_id      TEXT   NOT NULL,
    attempt      BIGINT NOT NULL,
    status       TEXT   NOT NULL,
    input        JSONB  NOT NULL,
    output       JSONB,
    error        TEXT,
    gas          BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    UNIQUE (execution_id, node_id, attempt)
);
CREATE INDEX node_runs_by_start ON node_runs (execution_id, started_at, seq);

CREATE TABLE credentials (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    kind       TEXT   NOT NULL,
    sealed     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE kv (
    namespace  TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      BYTEA  NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key)
);

-- A message is visible when available_at <= now; leasing moves available_at to the lease's end,
-- so one index serves both "never leased" and "lease expired".
CREATE TABLE queue (
    id           BIGSERIAL PRIMARY KEY,
    queue        TEXT   NOT NULL,
    payload      JSONB  NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    locked_by    TEXT,
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX queue_visible ON queue (queue, available_at, id);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
