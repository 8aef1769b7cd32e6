-- The gateway's own state (DESIGN §2): refresh tokens, API keys and engines, next to users.
-- Secrets are never stored: only the lowercase hex SHA-256 of a high-entropy random token, which
-- is also how a presented token is looked up.
-- Keep in step with migrations/postgres/0004_accounts.sql.

-- One row per issued refresh token. A login starts a family; each refresh consumes the presented
-- token and issues the next one in the same family. Presenting a consumed token again means it
-- was stolen (or replayed): the whole family is revoked.
CREATE TABLE refresh_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    family      TEXT    NOT NULL,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id, id);

CREATE TABLE engines (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    UNIQUE (owner_id, name)
);
