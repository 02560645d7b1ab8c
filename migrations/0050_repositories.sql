-- Repositories registered by an admin: whose forge webhooks may start runs.
-- Configuration, not history (RepositoryRegistered / RepositoryRemoved in the
-- ledger say who changed it and when): one row per canonical identity,
-- `host/owner/name` (app/repo_identity.py). The clone credential is not here: it
-- is a secret in the secrets table, named per repository.
--
-- webhook_secret verifies the forge's signatures, so it must be kept readable
-- (a hash would not do); like the secrets table it is plain text until secrets
-- are encrypted at rest, and it is shown once, when it is made.
CREATE TABLE repositories (
    identity        text         PRIMARY KEY,
    forge           text         NOT NULL CHECK (forge IN ('github', 'gitea', 'gitlab')),
    clone_url       text         NOT NULL,
    webhook_secret  text         NOT NULL,
    api_url         text,
    commit_status   boolean      NOT NULL DEFAULT false,
    registered_at   timestamptz  NOT NULL DEFAULT now(),
    registered_by   text         NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON repositories TO shiplog_app;
