-- Where each projection is in the ledger, and which version readers use.
--
-- projection_checkpoints: one row per projection version. (tx_id, position) is
-- the subscription cursor of the last event folded in; the projector moves it in
-- the same transaction as the projection's own writes, so the tables and the
-- cursor always agree (events/projections.py says why). status:
--   building  folding the ledger, not yet caught up once: readers do not use it
--   live      caught up at least once and what readers use (or used, see below)
--   retired   a newer version of the same projection went live in its place
--
-- projection_current: the version readers resolve table names through. It moves
-- to a new version in the same transaction that marks that version live, after
-- it has caught up, so a reader sees either the old complete tables or the new
-- complete ones, never a half-built projection. Old versions' tables stay until a
-- later migration drops them.
--
-- Unlike the ledger these rows change all the time: the application role may
-- insert and update them, never delete.
CREATE TABLE projection_checkpoints (
    name        text         NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    version     integer      NOT NULL CHECK (version >= 1),
    tx_id       xid8         NOT NULL DEFAULT '0',
    position    bigint       NOT NULL DEFAULT 0 CHECK (position >= 0),
    status      text         NOT NULL DEFAULT 'building'
                             CHECK (status IN ('building', 'live', 'retired')),
    updated_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

CREATE TABLE projection_current (
    name         text         PRIMARY KEY,
    version      integer      NOT NULL,
    switched_at  timestamptz  NOT NULL DEFAULT now(),
    FOREIGN KEY (name, version) REFERENCES projection_checkpoints (name, version)
);

GRANT SELECT, INSERT, UPDATE ON projection_checkpoints, projection_current TO shiplog_app;
