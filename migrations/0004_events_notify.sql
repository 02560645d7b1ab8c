-- Wake subscribers after an append. The notification carries nothing: readers
-- always re-select from their cursor, so a lost or coalesced notification costs
-- latency, never an event. One notification per statement, not per row.
CREATE FUNCTION ledger_notify_append() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('shiplog_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_append
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_notify_append();
