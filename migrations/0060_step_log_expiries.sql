-- Which step logs were expired, when, and by whom. Expiring a log deletes its
-- lines from step_logs (the ledger keeps its sha256 and line count in
-- StepFinished); this row says the log is gone on purpose, so a page can say
-- "expired on ..." instead of showing an empty log. Written by the owner in the
-- same transaction as the DELETE; never changed.
CREATE TABLE step_log_expiries (
    run_id      uuid         NOT NULL,
    step        text         NOT NULL,
    lines       integer      NOT NULL CHECK (lines >= 0),
    expired_at  timestamptz  NOT NULL DEFAULT now(),
    expired_by  text         NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TRIGGER step_log_expiries_reject_update
    BEFORE UPDATE ON step_log_expiries
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE step_log_expiries ENABLE ALWAYS TRIGGER step_log_expiries_reject_update;

GRANT SELECT ON step_log_expiries TO shiplog_app;
