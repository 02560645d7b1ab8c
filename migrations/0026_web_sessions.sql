-- Signed-in browsers. The cookie holds a random 256-bit session secret; only its
-- sha256 is stored, so a copy of this table signs nobody in. A session made from
-- a token ends when the token is revoked or expires (the lookup joins it);
-- signing out deletes the row. Sessions are kept server-side rather than in a
-- signed cookie so that signing out and revoking take effect at once.
CREATE TABLE web_sessions (
    session_sha256  bytea        PRIMARY KEY CHECK (octet_length(session_sha256) = 32),
    actor           text         NOT NULL,
    roles           text[]       NOT NULL,
    token_id        uuid         REFERENCES access_tokens ON DELETE CASCADE,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    expires_at      timestamptz  NOT NULL
);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);

-- One-time sign-in links `shiplog serve` prints while no token exists yet (as
-- Jupyter does): the link's code, hashed like a token, is good for one sign-in
-- before it expires.
CREATE TABLE signin_links (
    code_sha256  bytea        PRIMARY KEY CHECK (octet_length(code_sha256) = 32),
    actor        text         NOT NULL,
    roles        text[]       NOT NULL,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    expires_at   timestamptz  NOT NULL,
    used_at      timestamptz
);

GRANT SELECT, INSERT, DELETE ON web_sessions, signin_links TO shiplog_app;
GRANT UPDATE (used_at) ON signin_links TO shiplog_app;
