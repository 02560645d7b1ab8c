-- Version 1 of the "dora" projection (app/projections/dora.py): each deployment and
-- incident folded once into one row, so the velocity report reads one row per
-- deployment instead of folding every deployment event in Python per request.
--
-- Each column is owned by one kind of event (a rollout's start, its outcome, its
-- rollback; an incident's opening, its resolution), and each kind's upsert sets only
-- its own columns, so rows of different kinds may be applied in any order: the
-- projection's writes commute. Where the fold keeps the first of a kind (the first
-- start's image, the first rollback's reason, the first row's cursor) the upsert
-- keeps what is there.
CREATE TABLE proj_dora_deployments_v1 (
    deployment_id     text         PRIMARY KEY,
    environment       text         NOT NULL,
    service           text         NOT NULL,
    position          bigint       NOT NULL,  -- of its first row in subscription order
    tx_id             bigint       NOT NULL,
    started           boolean      NOT NULL DEFAULT false,
    started_digest    text,                   -- the first start's image
    started_at        timestamptz,
    actor             text,
    strategy          text,
    run_id            text,
    repository        text,
    commit            text,
    outcome           text         CHECK (outcome IN ('succeeded', 'failed')),
    finished_at       timestamptz,
    outcome_digest    text,                   -- the last outcome that named an image
    outcome_reason    text,                   -- the last outcome that gave a reason
    outcome_tx_id     bigint,
    outcome_position  bigint,
    rolled_back_at    timestamptz,
    rolled_back_to    text,
    rollback_reason   text                    -- the first rollback's
);
-- The report reads the finished deployments of some environments in the ledger's order.
CREATE INDEX proj_dora_deployments_v1_finished_idx
    ON proj_dora_deployments_v1 (environment, service, outcome_tx_id, outcome_position)
    WHERE outcome IS NOT NULL;

CREATE TABLE proj_dora_incidents_v1 (
    incident_id           text         PRIMARY KEY,
    environment           text,
    service               text,
    caused_by_deployment  text,
    opened_at             timestamptz,
    resolved_at           timestamptz
);

GRANT SELECT, INSERT, UPDATE, DELETE ON proj_dora_deployments_v1, proj_dora_incidents_v1
    TO shiplog_app;
