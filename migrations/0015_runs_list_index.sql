-- Listing runs newest first, a page at a time (app/queries/runs.py: ORDER BY
-- queued_at DESC, run_id DESC, keyset on both) reads this index backwards; it
-- replaces the index on queued_at alone.
CREATE INDEX proj_runs_v1_queued_run_idx ON proj_runs_v1 (queued_at, run_id);
DROP INDEX proj_runs_v1_queued_idx;
