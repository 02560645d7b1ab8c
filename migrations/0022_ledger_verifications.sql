-- The outcome of each full verification of the ledger (`shiplog verify`, the demo):
-- when it ran, who ran it, what it checked and the first mismatch it found. The
-- web ledger page shows the latest. A record of a check, not a fact of delivery,
-- so not an event; append-only all the same (the application role may only add
-- and read rows, and the ledger's trigger refuses changes for everyone).
CREATE TABLE ledger_verifications (
    id             bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    verified_at    timestamptz  NOT NULL DEFAULT now(),
    actor          text         NOT NULL,
    ok             boolean      NOT NULL,
    events         bigint       NOT NULL CHECK (events >= 0),
    leaves         bigint       NOT NULL CHECK (leaves >= 0),
    checkpoints    bigint       NOT NULL CHECK (checkpoints >= 0),
    unsealed       bigint       NOT NULL CHECK (unsealed >= 0),
    mismatches     bigint       NOT NULL CHECK (mismatches >= 0),
    first_failure  text
);

CREATE TRIGGER ledger_verifications_reject_update_delete
    BEFORE UPDATE OR DELETE ON ledger_verifications
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE ledger_verifications ENABLE ALWAYS TRIGGER ledger_verifications_reject_update_delete;

GRANT SELECT, INSERT ON ledger_verifications TO shiplog_app;
