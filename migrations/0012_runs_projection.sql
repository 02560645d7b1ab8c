-- Version 1 of the "runs" projection (app/projections/runs.py): runs, their
-- steps, the images their build steps produced and the pushes of those images,
-- folded from the run-* streams. Read models, not history: the projector
-- updates and deletes rows (a rebuild empties them), so the application role
-- may do both. Every value comes from the events (times are the events'
-- recorded_at), so a rebuild from position zero yields the same rows.
--
-- Tables of a projection carry its version (proj_<relation>_v<version>); a new
-- version gets new tables in its own migration, built beside these, and readers
-- move over through projection_current once it has caught up.
CREATE TABLE proj_runs_v1 (
    run_id           text         PRIMARY KEY,
    status           text         NOT NULL
                                  CHECK (status IN ('queued', 'running', 'succeeded',
                                                    'failed', 'cancelled')),
    repository       text,
    commit           text,
    ref              text,
    trigger          text,
    pipeline_path    text,
    actor            text,
    queued_at        timestamptz,
    runner           text,
    runner_version   text,
    claimed_at       timestamptz,
    queue_wait_ms    bigint,
    finished_at      timestamptz,
    duration_ms      bigint,
    reason           text,
    failed_step      text,
    last_position    bigint       NOT NULL
);
CREATE INDEX proj_runs_v1_queued_idx ON proj_runs_v1 (queued_at);
CREATE INDEX proj_runs_v1_commit_idx ON proj_runs_v1 (repository, commit);
CREATE INDEX proj_runs_v1_status_idx ON proj_runs_v1 (status, queued_at);

-- first_position orders a run's steps as they first appeared in the ledger.
CREATE TABLE proj_steps_v1 (
    run_id           text         NOT NULL,
    step             text         NOT NULL,
    status           text         NOT NULL
                                  CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    image            text,
    image_digest     text,
    commands_digest  text,
    started_at       timestamptz,
    finished_at      timestamptz,
    exit_code        integer,
    duration_ms      bigint,
    timed_out        boolean,
    log_sha256       text,
    log_lines        integer,
    skip_reason      text,
    first_position   bigint       NOT NULL,
    PRIMARY KEY (run_id, step)
);

-- One row per ImageBuilt event, keyed by its ledger position.
CREATE TABLE proj_run_images_v1 (
    position           bigint       PRIMARY KEY,
    run_id             text         NOT NULL,
    step               text         NOT NULL,
    image_id           text         NOT NULL,
    tags               text[]       NOT NULL,
    dockerfile_sha256  text         NOT NULL,
    context_digest     text         NOT NULL,
    target             text,
    built_at           timestamptz  NOT NULL
);
CREATE INDEX proj_run_images_v1_run_idx ON proj_run_images_v1 (run_id);
CREATE INDEX proj_run_images_v1_image_idx ON proj_run_images_v1 (image_id);

-- One row per ImagePushed event (one per tag), keyed by its ledger position.
CREATE TABLE proj_run_pushes_v1 (
    position    bigint       PRIMARY KEY,
    run_id      text         NOT NULL,
    step        text         NOT NULL,
    repository  text         NOT NULL,
    tag         text         NOT NULL,
    digest      text         NOT NULL,
    pushed_at   timestamptz  NOT NULL
);
CREATE INDEX proj_run_pushes_v1_run_idx ON proj_run_pushes_v1 (run_id);
CREATE INDEX proj_run_pushes_v1_digest_idx ON proj_run_pushes_v1 (digest);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON proj_runs_v1, proj_steps_v1, proj_run_images_v1, proj_run_pushes_v1 TO shiplog_app;
