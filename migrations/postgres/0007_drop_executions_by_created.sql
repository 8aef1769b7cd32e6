-- Nothing reads executions by creation time any more (retention goes by finished_at, lists by id),
-- and every new execution paid for this index.
DROP INDEX IF EXISTS executions_by_created;
