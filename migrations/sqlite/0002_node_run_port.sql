-- The output port a node run chose (core.if: true/false, core.switch: a named port), so a resumed
-- execution follows the same branch without re-running the node. NULL for single-output nodes.
-- Keep in step with migrations/postgres/0002_node_run_port.sql.
ALTER TABLE node_runs ADD COLUMN port TEXT;
