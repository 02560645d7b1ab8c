-- Version 1 of the "reproductions" projection (app/projections/reproductions.py):
-- one row per reproduction (stream repro-<id>), folded from ReproductionRequested
-- and ReproductionCompleted. Every value comes from the events (times are their
-- recorded_at), so a rebuild from position zero yields the same rows.
CREATE TABLE proj_reproductions_v1 (
    repro_id            text         PRIMARY KEY,
    status              text         NOT NULL CHECK (status IN ('requested', 'completed')),
    image_digest        text,
    image_id            text,
    run_id              text,
    step                text,
    actor               text,
    requested_at        timestamptz,
    verdict             text         CHECK (verdict IN ('identical', 'same-content',
                                                        'differs', 'cannot-reproduce')),
    reason              text,
    rebuilt_image_id    text,
    layers_identical    boolean,
    compared            text[],
    files_compared      integer,
    differences         jsonb,
    differences_total   integer,
    config_differences  text[],
    duration_ms         bigint,
    completed_at        timestamptz,
    last_position       bigint       NOT NULL
);
CREATE INDEX proj_reproductions_v1_image_idx ON proj_reproductions_v1 (image_id, requested_at);
CREATE INDEX proj_reproductions_v1_digest_idx
    ON proj_reproductions_v1 (image_digest, requested_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON proj_reproductions_v1 TO shiplog_app;
