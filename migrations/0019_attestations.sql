-- Signed provenance (DSSE envelopes), stored by content: each row's key is the
-- sha256 of its exact JSON bytes, checked here, so a row cannot claim a digest
-- it does not have. ProvenanceSigned events in run-* streams name envelopes by
-- that digest (app/provenance/attestations.py). Envelopes are evidence, like
-- the ledger: the application role may read and add them, never change them.
CREATE TABLE attestations (
    envelope_digest  text         PRIMARY KEY
                                  CHECK (envelope_digest = 'sha256:' || encode(sha256(envelope), 'hex')),
    envelope         bytea        NOT NULL,
    stored_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE TRIGGER attestations_reject_update_delete
    BEFORE UPDATE OR DELETE ON attestations
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER attestations_reject_truncate
    BEFORE TRUNCATE ON attestations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE attestations ENABLE ALWAYS TRIGGER attestations_reject_update_delete;
ALTER TABLE attestations ENABLE ALWAYS TRIGGER attestations_reject_truncate;

GRANT SELECT, INSERT ON attestations TO shiplog_app;
