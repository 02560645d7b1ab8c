-- Version 1 of the "stages" projection (app/projections/stages.py): per-run stage
-- totals for the velocity report's stage timing, so the report ranks one row per
-- run instead of adding up every step of the window.
--
-- proj_stage_facts_v1 is a history (one row per StepStarted, StepFinished and
-- TestsReported, inserted by COPY, stamped with its event's cursor);
-- proj_run_stages_v1 holds each run's totals, recomputed from its facts after
-- every batch that brought one of them (so any arrival order gives the same row).
CREATE TABLE proj_stage_facts_v1 (
    position     bigint  PRIMARY KEY,
    tx_id        bigint  NOT NULL,
    run_id       text    NOT NULL,
    step         text    NOT NULL,
    kind         text    NOT NULL CHECK (kind IN ('started', 'finished', 'tested')),
    image        text,
    duration_ms  bigint
);
CREATE INDEX proj_stage_facts_v1_run_idx ON proj_stage_facts_v1 (run_id);

-- Per stage: the sum of its steps' duration_ms and how many steps had one. Steps
-- that are neither build nor push are split by whether they reported tests, since
-- "test" is the tested ones in a run where any step reported tests, else all of them.
CREATE TABLE proj_run_stages_v1 (
    run_id          text     PRIMARY KEY,
    build_ms        bigint   NOT NULL,
    build_steps     integer  NOT NULL,
    push_ms         bigint   NOT NULL,
    push_steps      integer  NOT NULL,
    tested_ms       bigint   NOT NULL,
    tested_steps    integer  NOT NULL,
    untested_ms     bigint   NOT NULL,
    untested_steps  integer  NOT NULL,
    any_tested      boolean  NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON proj_stage_facts_v1, proj_run_stages_v1 TO shiplog_app;
