-- Scan findings, stored content-addressed like SBOMs: a scan of a large image can find
-- thousands of advisories, more than one event may hold, so ScanCompleted records
-- counts, the gating findings and the digest of this document, which lists them all
-- (and every advisory record the scan could not read).
--
-- digest      `sha256:<hex>` of the exact bytes in `document`
-- document    canonical JSON (RFC 8785): image, SBOM and advisory set digests, findings
--             by purl then advisory id, skipped records by file
-- findings    how many findings the document lists
--
-- Rows are never changed: the ledger's trigger function refuses UPDATE for everyone,
-- and the application role may only read and add. Storing the same document again
-- (the same image re-scanned against the same advisories) is a no-op.
CREATE TABLE scan_findings (
    digest     text         PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
    document   bytea        NOT NULL,
    findings   integer      NOT NULL CHECK (findings >= 0),
    stored_at  timestamptz  NOT NULL DEFAULT now()
);

CREATE TRIGGER scan_findings_reject_update
    BEFORE UPDATE ON scan_findings
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE scan_findings ENABLE ALWAYS TRIGGER scan_findings_reject_update;

GRANT SELECT, INSERT ON scan_findings TO shiplog_app;
