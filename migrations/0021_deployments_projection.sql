-- Version 1 of the "deployments" projection (app/projections/deployments.py):
-- histories, not current-state tables. Every row is one event folded in and
-- carries that event's ledger cursor (tx_id, position); rows are only ever
-- inserted (a rebuild empties them), so the state as of any cursor is the rows
-- with (tx_id, position) <= that cursor, and as_of queries need no re-fold.
-- tx_id is the event's xid8 stored as bigint (xid8 values fit below 2^63 in
-- practice: epoch << 32 | xid).

-- One row per DeploymentStarted / DeploymentSucceeded / DeploymentFailed /
-- RolledBack in an env-<environment> stream. `at` is the event's own time
-- (started_at / finished_at), else its recorded_at.
CREATE TABLE proj_deployment_events_v1 (
    position        bigint       PRIMARY KEY,
    tx_id           bigint       NOT NULL,
    environment     text         NOT NULL,
    deployment_id   text         NOT NULL,
    service         text         NOT NULL,
    kind            text         NOT NULL
                                 CHECK (kind IN ('started', 'succeeded', 'failed', 'rolled_back')),
    image_digest    text,
    at              timestamptz  NOT NULL,
    recorded_at     timestamptz  NOT NULL,
    actor           text         NOT NULL,
    strategy        text,
    run_id          text,
    repository      text,
    commit          text,
    reason          text
);
CREATE INDEX proj_deployment_events_v1_cursor_idx ON proj_deployment_events_v1 (tx_id, position);
CREATE INDEX proj_deployment_events_v1_env_at_idx ON proj_deployment_events_v1 (environment, at);
CREATE INDEX proj_deployment_events_v1_deployment_idx
    ON proj_deployment_events_v1 (deployment_id);
CREATE INDEX proj_deployment_events_v1_digest_idx ON proj_deployment_events_v1 (image_digest);
CREATE INDEX proj_deployment_events_v1_running_idx
    ON proj_deployment_events_v1 (environment, service, at)
    WHERE kind IN ('succeeded', 'rolled_back');

-- One row per IncidentOpened / IncidentResolved; the incident id is the stream's.
CREATE TABLE proj_incident_events_v1 (
    position              bigint       PRIMARY KEY,
    tx_id                 bigint       NOT NULL,
    incident_id           text         NOT NULL,
    kind                  text         NOT NULL CHECK (kind IN ('opened', 'resolved')),
    environment           text,
    service               text,
    summary               text,
    caused_by_deployment  text,
    resolution            text,
    at                    timestamptz  NOT NULL,
    actor                 text         NOT NULL
);
CREATE INDEX proj_incident_events_v1_incident_idx ON proj_incident_events_v1 (incident_id);

-- One row per commit of a CommitsPushed in a repo-<name> stream, in push order:
-- (position, seq) orders them as they were pushed.
CREATE TABLE proj_pushed_commits_v1 (
    position     bigint       NOT NULL,
    seq          integer      NOT NULL,
    tx_id        bigint       NOT NULL,
    repository   text         NOT NULL,
    ref          text         NOT NULL,
    sha          text         NOT NULL,
    authored_at  timestamptz  NOT NULL,
    PRIMARY KEY (position, seq)
);
CREATE INDEX proj_pushed_commits_v1_repository_idx ON proj_pushed_commits_v1 (repository, position, seq);

-- One row per TestsReported of a run: which steps ran tests (for per-stage timing).
CREATE TABLE proj_tested_steps_v1 (
    position  bigint  PRIMARY KEY,
    tx_id     bigint  NOT NULL,
    run_id    text    NOT NULL,
    step      text    NOT NULL
);
CREATE INDEX proj_tested_steps_v1_run_idx ON proj_tested_steps_v1 (run_id, step);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON proj_deployment_events_v1, proj_incident_events_v1, proj_pushed_commits_v1,
       proj_tested_steps_v1
    TO shiplog_app;
