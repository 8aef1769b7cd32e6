-- Engine members (who besides its owner may use an engine, and how) and the Ethereum addresses
-- users have proven to hold. The owner is engines.owner_id, never a row here.
-- Keep in step with the other backend's 0010_engine_members.sql.

CREATE TABLE engine_members (
    engine_id TEXT   NOT NULL REFERENCES engines (id) ON DELETE CASCADE,
    user_id   TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT   NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (engine_id, user_id)
);
CREATE INDEX engine_members_by_user ON engine_members (user_id, engine_id);

CREATE TABLE user_addresses (
    address  TEXT   NOT NULL PRIMARY KEY,
    user_id  TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bound_at BIGINT NOT NULL
);
CREATE INDEX user_addresses_by_user ON user_addresses (user_id, bound_at);

-- One live challenge per user; taking it (right signature or wrong) deletes it.
CREATE TABLE address_challenges (
    user_id    TEXT   NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    nonce      TEXT   NOT NULL,
    message    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
