-- Named secret values that steps ask for (`secrets:` in .shiplog.yml). Secrets
-- are configuration, not history: they are set, overwritten and deleted, so the
-- application role may do all of that, and no event ever carries a value.
--
-- Encryption at rest is planned, not done: values are stored in plain text, so
-- whoever can read this table (the owner, shiplog_app) can read every secret.
CREATE TABLE secrets (
    name        text         PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    value       text         NOT NULL,
    updated_at  timestamptz  NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON secrets TO shiplog_app;
