-- API tokens (`shiplog token create`). A token's secret is shown once and never
-- stored: only its sha256 is, which is enough to recognise it and useless to
-- present (docs/security.md says why a fast hash is sound for 256-bit random
-- secrets). The name is the actor every event written with the token records;
-- several tokens may share a name (a new one made before the old is revoked).
-- Tokens are configuration beside the ledger; TokenCreated and TokenRevoked
-- events record who made and revoked each one.
CREATE TABLE access_tokens (
    token_id       uuid         PRIMARY KEY,
    name           text         NOT NULL
                                CHECK (length(name) <= 200
                                       AND name ~ '^[A-Za-z0-9][A-Za-z0-9._@+:/-]*$'),
    roles          text[]       NOT NULL CHECK (cardinality(roles) > 0),
    secret_sha256  bytea        NOT NULL UNIQUE CHECK (octet_length(secret_sha256) = 32),
    created_at     timestamptz  NOT NULL DEFAULT now(),
    created_by     text         NOT NULL,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    revoked_by     text
);
CREATE INDEX access_tokens_name_idx ON access_tokens (name);

-- The application makes tokens (the first admin's, `shiplog token create`) and
-- revokes them; it may not change a token's name, roles, secret or expiry.
GRANT SELECT, INSERT ON access_tokens TO shiplog_app;
GRANT UPDATE (revoked_at, revoked_by) ON access_tokens TO shiplog_app;
