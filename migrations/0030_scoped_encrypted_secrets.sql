-- Secrets become scoped and encrypted at rest.
--
-- A secret belongs to one repository (its canonical name, app/executor/repositories.py),
-- optionally narrowed to one branch and/or one environment (NULL: any). A run gets the
-- most specific value of each name it asks for, and never a secret of another
-- repository. Values are sealed with AES-256-GCM under a key kept outside the database
-- (SHIPLOG_HOME/keys/secrets.keyring, app/executor/secret_keys.py):
--
--   key_id   the id of the keyring key that sealed the value (rotation re-seals rows)
--   sealed   the 12-byte nonce followed by the ciphertext and its 16-byte tag; the scope
--            and the name are its associated data, so a row moved to another scope or
--            renamed no longer opens
--
-- The plain-text, unscoped secrets of 0009 cannot be encrypted here (the key is not in
-- the database) nor scoped (no repository is known), so they are kept aside in
-- unscoped_plaintext_secrets, which runs never read. `shiplog secret import-unscoped
-- --repo R` seals them into a repository's scope and deletes them from there.
ALTER TABLE secrets RENAME TO unscoped_plaintext_secrets;
ALTER TABLE unscoped_plaintext_secrets RENAME CONSTRAINT secrets_pkey
    TO unscoped_plaintext_secrets_pkey;
REVOKE INSERT, UPDATE ON unscoped_plaintext_secrets FROM shiplog_app;

CREATE TABLE secrets (
    repository   text         NOT NULL CHECK (repository <> ''),
    branch       text         CHECK (branch <> ''),
    environment  text         CHECK (environment <> ''),
    name         text         NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    key_id       text         NOT NULL CHECK (key_id ~ '^k-[0-9a-f]{16}$'),
    sealed       bytea        NOT NULL CHECK (length(sealed) >= 28),
    updated_at   timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT secrets_one_per_scope UNIQUE NULLS NOT DISTINCT
        (repository, branch, environment, name)
);

CREATE INDEX secrets_by_key ON secrets (key_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON secrets TO shiplog_app;
