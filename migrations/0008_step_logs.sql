-- Step output, one row per line. Logs are not events: they are kept in this
-- table and not in the ledger because they can be expired. StepFinished records
-- the sha256 and the line count of the whole log, so a log that is still here
-- can be verified against the ledger, and one that was expired leaves only its
-- digest behind.
--
-- line_no    1-based, contiguous per (run_id, step); one writer per step
-- line       the line as stored: secrets masked, cut at 64 KiB (app/executor/logs.py)
--
-- Lines are never changed: UPDATE is refused for everyone by the ledger's
-- trigger function. DELETE stays possible for the owner, which is how logs are
-- expired; the application role may only read and add lines (no UPDATE, DELETE
-- or TRUNCATE privilege).
CREATE TABLE step_logs (
    run_id     uuid         NOT NULL,
    step       text         NOT NULL,
    line_no    integer      NOT NULL CHECK (line_no >= 1),
    line       text         NOT NULL,
    logged_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step, line_no)
);

CREATE TRIGGER step_logs_reject_update
    BEFORE UPDATE ON step_logs
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE step_logs ENABLE ALWAYS TRIGGER step_logs_reject_update;

-- Wake live readers after a batch of lines is added. Like shiplog_events, the
-- notification carries nothing: readers re-select after their last line_no.
CREATE FUNCTION step_logs_notify_append() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shiplog_logs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER step_logs_notify_append
    AFTER INSERT ON step_logs
    FOR EACH STATEMENT EXECUTE FUNCTION step_logs_notify_append();

GRANT SELECT, INSERT ON step_logs TO shiplog_app;
