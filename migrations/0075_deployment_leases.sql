-- Heartbeats of the processes driving deployments (the CLI's `shiplog deploy` and
-- `promote`, the delivery worker of `shiplog serve` and `shiplog worker`, a runner's
-- deploy step). Not events: a heartbeat only says the driver is alive; the ledger
-- records the start and the outcome, including a driver lost. One row per started
-- deployment, refreshed by its driver and removed when the outcome is recorded. A
-- started deployment whose row is missing or older than the timeout lost its driver.
CREATE TABLE deployment_leases (
    deployment_id  text         PRIMARY KEY,
    environment    text         NOT NULL,
    driver         text         NOT NULL,
    taken_at       timestamptz  NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz  NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON deployment_leases TO shiplog_app;
