-- Finished executions by when they finished, for history retention (delete_finished_before).
-- Partial: unfinished executions (finished_at NULL) are never candidates and stay out of it.
-- Keep in step with migrations/postgres/0003_executions_by_finished.sql.
CREATE INDEX executions_by_finished ON executions (finished_at) WHERE finished_at IS NOT NULL;
