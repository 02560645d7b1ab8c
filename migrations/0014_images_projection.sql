-- Version 1 of the "images" projection (app/projections/images.py): every image a
-- run built, with what it was built from (base images, build arguments), the
-- labels it carries, where it was pushed, and the test reports of its run.
--
-- History, not state: each row is written once by one event and carries that
-- event's subscription cursor (tx_id, position), so a query as of a past cursor
-- keeps the rows with (tx_id, position) <= it and needs no re-fold
-- (app/queries/as_of.py). Like every projection, a rebuild empties and refills
-- these tables, so the application role may delete.
CREATE TABLE proj_images_v1 (
    position           bigint       PRIMARY KEY,
    tx_id              bigint       NOT NULL,
    run_id             text         NOT NULL,
    step               text         NOT NULL,
    image_id           text         NOT NULL,
    tags               text[]       NOT NULL,
    dockerfile_sha256  text         NOT NULL,
    context_digest     text         NOT NULL,
    target             text,
    build_args         jsonb        NOT NULL,
    secret_args        text[]       NOT NULL,
    built_at           timestamptz  NOT NULL
);
CREATE INDEX proj_images_v1_image_idx ON proj_images_v1 (image_id text_pattern_ops);
CREATE INDEX proj_images_v1_run_idx ON proj_images_v1 (run_id);

-- The source of each run, from its RunQueued: what images built by the run were
-- built from. The projection keeps its own copy rather than reading the runs
-- projection's tables, so each projection is folded (and rebuilt) on its own.
CREATE TABLE proj_image_runs_v1 (
    run_id         text         PRIMARY KEY,
    position       bigint       NOT NULL,
    tx_id          bigint       NOT NULL,
    repository     text         NOT NULL,
    commit         text         NOT NULL,
    ref            text         NOT NULL,
    pipeline_path  text         NOT NULL,
    trigger        text         NOT NULL,
    commit_time    timestamptz,
    actor          text
);
CREATE INDEX proj_image_runs_v1_commit_idx ON proj_image_runs_v1 (commit text_pattern_ops);

-- One row per base image of a build, in the order ImageBuilt lists them.
CREATE TABLE proj_image_bases_v1 (
    position   bigint  NOT NULL,
    ordinal    integer NOT NULL,
    tx_id      bigint  NOT NULL,
    name       text    NOT NULL,
    digest     text    NOT NULL,
    PRIMARY KEY (position, ordinal)
);
CREATE INDEX proj_image_bases_v1_digest_idx ON proj_image_bases_v1 (digest);

-- One row per label of a built image.
CREATE TABLE proj_image_labels_v1 (
    position   bigint  NOT NULL,
    tx_id      bigint  NOT NULL,
    key        text    NOT NULL,
    value      text    NOT NULL,
    PRIMARY KEY (position, key)
);
CREATE INDEX proj_image_labels_v1_key_value_idx ON proj_image_labels_v1 (key, value);

-- One row per ImagePushed (one per tag). image_id is null for events of schema
-- version 1, which did not record which built image was pushed.
CREATE TABLE proj_image_pushes_v1 (
    position    bigint       PRIMARY KEY,
    tx_id       bigint       NOT NULL,
    run_id      text         NOT NULL,
    step        text         NOT NULL,
    image_id    text,
    repository  text         NOT NULL,
    tag         text         NOT NULL,
    digest      text         NOT NULL,
    pushed_at   timestamptz  NOT NULL
);
CREATE INDEX proj_image_pushes_v1_digest_idx ON proj_image_pushes_v1 (digest text_pattern_ops);
CREATE INDEX proj_image_pushes_v1_image_idx ON proj_image_pushes_v1 (image_id);
CREATE INDEX proj_image_pushes_v1_run_idx ON proj_image_pushes_v1 (run_id);

-- One row per TestsReported: the tests a run's step reported.
CREATE TABLE proj_run_tests_v1 (
    position       bigint       PRIMARY KEY,
    tx_id          bigint       NOT NULL,
    run_id         text         NOT NULL,
    step           text         NOT NULL,
    passed         integer      NOT NULL,
    failed         integer      NOT NULL,
    skipped        integer      NOT NULL,
    failing        text[]       NOT NULL,
    report_sha256  text         NOT NULL,
    reported_at    timestamptz  NOT NULL
);
CREATE INDEX proj_run_tests_v1_run_idx ON proj_run_tests_v1 (run_id);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON proj_images_v1, proj_image_runs_v1, proj_image_bases_v1, proj_image_labels_v1, proj_image_pushes_v1,
       proj_run_tests_v1
    TO shiplog_app;
