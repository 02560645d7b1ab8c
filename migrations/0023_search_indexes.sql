-- Prefix look-ups for the web search box (app/web/services/search.py): a run id,
-- a commit sha or a digest typed in part. LIKE 'abc%' uses a btree only with
-- text_pattern_ops (the database's collation may not be C).
CREATE INDEX proj_runs_v1_run_id_prefix_idx ON proj_runs_v1 (run_id text_pattern_ops);
CREATE INDEX proj_runs_v1_commit_prefix_idx ON proj_runs_v1 (commit text_pattern_ops);
CREATE INDEX proj_run_images_v1_image_prefix_idx ON proj_run_images_v1 (image_id text_pattern_ops);
CREATE INDEX proj_run_pushes_v1_digest_prefix_idx ON proj_run_pushes_v1 (digest text_pattern_ops);
CREATE INDEX proj_run_pushes_v1_tag_idx ON proj_run_pushes_v1 (tag, repository);
