-- Heartbeats of the runners working on runs. Not events: a heartbeat says
-- nothing about the run, only that its runner is alive; only the claim and the
-- outcome (including runner-lost) are recorded in the ledger. One row per
-- claimed run, refreshed by its runner and removed when the run ends. A row
-- whose heartbeat is older than the timeout marks a run whose runner was lost.
CREATE TABLE run_leases (
    run_id        uuid         PRIMARY KEY,
    runner        text         NOT NULL,
    claimed_at    timestamptz  NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz  NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON run_leases TO shiplog_app;
