-- Events are never changed or removed. These triggers refuse UPDATE, DELETE and
-- TRUNCATE for everyone, the table owner included; ENABLE ALWAYS keeps them
-- firing under session_replication_role = replica as well. Only a superuser who
-- explicitly disables them can edit the table, and `shiplog verify` catches that.
CREATE FUNCTION ledger_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on table "%" is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_reject_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER events_reject_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

ALTER TABLE events ENABLE ALWAYS TRIGGER events_reject_update_delete;
ALTER TABLE events ENABLE ALWAYS TRIGGER events_reject_truncate;
