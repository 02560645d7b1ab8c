-- SBOMs, stored content-addressed: an SBOM is not an event (it is large and made
-- of what an image holds, not of what someone did), so the SbomGenerated event
-- records only its digest and this table keeps the document under that digest.
--
-- digest       `sha256:<hex>` of the exact bytes in `document`
-- image_id     the image it describes (its id, `sha256:<hex>`), taken from the document
-- document     the CycloneDX 1.6 JSON exactly as generated
--
-- sbom_packages lists each document's packages by purl, parts split out, so that
-- "which images contain this package" is an index lookup instead of a JSON scan.
-- Rows are never changed: the ledger's trigger function refuses UPDATE for
-- everyone, and the application role may only read and add (no UPDATE, DELETE
-- or TRUNCATE privilege). Storing the same document again is a no-op.
CREATE TABLE sboms (
    digest      text         PRIMARY KEY CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
    image_id    text         NOT NULL,
    document    bytea        NOT NULL,
    components  integer      NOT NULL CHECK (components >= 0),
    stored_at   timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX sboms_image_idx ON sboms (image_id, stored_at);

CREATE TABLE sbom_packages (
    sbom_digest  text  NOT NULL REFERENCES sboms (digest),
    purl         text  NOT NULL,
    purl_type    text  NOT NULL,
    namespace    text,
    name         text  NOT NULL,
    version      text,
    PRIMARY KEY (sbom_digest, purl)
);
CREATE INDEX sbom_packages_name_idx ON sbom_packages (purl_type, name);

CREATE TRIGGER sboms_reject_update
    BEFORE UPDATE ON sboms
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE sboms ENABLE ALWAYS TRIGGER sboms_reject_update;
CREATE TRIGGER sbom_packages_reject_update
    BEFORE UPDATE ON sbom_packages
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
ALTER TABLE sbom_packages ENABLE ALWAYS TRIGGER sbom_packages_reject_update;

GRANT SELECT, INSERT ON sboms, sbom_packages TO shiplog_app;
