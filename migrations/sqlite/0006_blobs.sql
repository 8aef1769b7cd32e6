-- Large node run inputs and outputs, stored once by content hash (crates/storage/src/blob.rs).
CREATE TABLE blobs (
    hash       TEXT    NOT NULL PRIMARY KEY,
    data       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    touched_at INTEGER NOT NULL
);
ALTER TABLE node_runs ADD COLUMN input_blob TEXT;
ALTER TABLE node_runs ADD COLUMN output_blob TEXT;
CREATE INDEX node_runs_by_input_blob ON node_runs (input_blob) WHERE input_blob IS NOT NULL;
CREATE INDEX node_runs_by_output_blob ON node_runs (output_blob) WHERE output_blob IS NOT NULL;
CREATE INDEX blobs_by_touched ON blobs (touched_at);
