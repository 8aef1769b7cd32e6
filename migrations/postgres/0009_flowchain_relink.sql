-- Versions saved before the flow-chain crate defined the record (DESIGN §5) lack its
-- "signature" member and were hashed over serde_json's sorted output rather than RFC 8785 bytes.
-- Mark their workflows here; after the migrations the store re-links each marked chain in Rust
-- (crates/storage/src/legacy.rs: the hash needs JCS) and removes its mark, one workflow per
-- transaction. Only unsigned chains are rewritten: nothing signed existed then.
CREATE TABLE legacy_chains (
    workflow_id TEXT COLLATE "C" NOT NULL PRIMARY KEY
);
INSERT INTO legacy_chains (workflow_id)
    SELECT DISTINCT workflow_id FROM workflow_versions
    WHERE NOT (record ? 'signature');
