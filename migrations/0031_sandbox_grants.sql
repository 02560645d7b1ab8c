-- Privileges a repository's steps and services may ask for beyond the sandbox
-- (app/executor/actions/sandbox.py): `privileged` mode, the `host-network` and the
-- runner's `docker-socket`. Without a row here a pipeline asking for one is refused.
-- Like secrets, grants are configuration: an administrator adds and removes them with
-- `shiplog sandbox allow|revoke`; each row says who granted it and when.
CREATE TABLE sandbox_grants (
    repository  text         NOT NULL CHECK (repository <> ''),
    privilege   text         NOT NULL
                             CHECK (privilege IN ('privileged', 'host-network', 'docker-socket')),
    granted_by  text         NOT NULL,
    granted_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, privilege)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON sandbox_grants TO shiplog_app;
